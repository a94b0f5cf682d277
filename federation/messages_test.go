package federation

import (
	"context"
	"strings"
	"testing"
)

// TestMessageSignatures: a node checks a message signed by a peer against
// that peer's key, and one of its own (a job of its own region) against its
// own; a body changed, another subject, or the other node's key named for
// the host, do not hold.
func TestMessageSignatures(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	hostA, hostB := strings.TrimPrefix(a.url, "http://"), strings.TrimPrefix(b.url, "http://")
	const subject = "coopnet.v1.jobs.bretagne.decline"
	body := []byte(`{"v":1,"kind":"decline"}`)
	keyA, sigA, err := a.fed.SignMessage(ctx, subject, body)
	if err != nil {
		t.Fatal(err)
	}
	keyB, sigB, err := b.fed.SignMessage(ctx, subject, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		on            *testNode
		host, subject string
		body          []byte
		keyID, sig    string
		valid         bool
	}{
		{"a's own message, on a", a, hostA, subject, body, keyA, sigA, true},
		{"a's message, on its peer b", b, hostA, subject, body, keyA, sigA, true},
		{"b's message, on a", a, hostB, subject, body, keyB, sigB, true},
		{"a's own message with its body changed", a, hostA, subject, []byte(`{"v":1,"kind":"accepted"}`), keyA, sigA, false},
		{"a's own message on another subject", a, hostA, "coopnet.v1.jobs.bretagne.withdraw", body, keyA, sigA, false},
		{"b's signature as a's own", a, hostA, subject, body, keyB, sigB, false},
		{"b's signature under a's key id, as a's own", a, hostA, subject, body, keyA, sigB, false},
		{"unsigned, as a's own", a, hostA, subject, body, "", "", false},
		{"a's signature as b's, on a", a, hostB, subject, body, keyA, sigA, false},
		{"from a host that is not a peer", a, "elsewhere.test", subject, body, keyA, sigA, false},
	} {
		checked, valid, err := c.on.fed.VerifyMessage(ctx, c.host, c.subject, c.body, c.keyID, c.sig)
		if err != nil || !checked || valid != c.valid {
			t.Errorf("%s: checked %t, valid %t (%v), want valid %t", c.name, checked, valid, err, c.valid)
		}
	}
}
