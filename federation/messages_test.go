package federation

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMessageSignatures: a node checks a routing message signed by a peer
// against that peer's routing key, learnt with its region from its actor
// document, and one of its own against its own; the node expected may be
// named by host or by region. A body changed, another subject, another
// time of signing, the other node's key, or the wrong region, do not
// hold.
func TestMessageSignatures(t *testing.T) {
	a, b := twoNodes(t) // a: bretagne, b: bourgogne-franche-comte
	ctx := context.Background()
	hostA, hostB := strings.TrimPrefix(a.url, "http://"), strings.TrimPrefix(b.url, "http://")
	const subject = "coopnet.v1.jobs.bretagne.decline"
	body := []byte(`{"v":1,"kind":"decline"}`)
	at := time.Now()
	keyA, sigA, err := a.fed.SignMessage(ctx, subject, at, body)
	if err != nil {
		t.Fatal(err)
	}
	keyB, sigB, err := b.fed.SignMessage(ctx, subject, at, body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(keyA, "/actor#routing-key") {
		t.Fatalf("key id %s", keyA)
	}
	for _, c := range []struct {
		name                  string
		on                    *testNode
		host, region, subject string
		at                    time.Time
		body                  []byte
		keyID, sig            string
		valid                 bool
	}{
		{"a's own message, on a", a, hostA, "", subject, at, body, keyA, sigA, true},
		{"a's message, on its peer b", b, hostA, "", subject, at, body, keyA, sigA, true},
		{"a's message, on b, by region", b, "", "bretagne", subject, at, body, keyA, sigA, true},
		{"a's message, on b, by host and region", b, hostA, "bretagne", subject, at, body, keyA, sigA, true},
		{"a's message, on b, as another region's", b, "", "ile-de-france", subject, at, body, keyA, sigA, false},
		{"a's message, on b, as b's own region's", b, "", "bourgogne-franche-comte", subject, at, body, keyA, sigA, false},
		{"b's message, on a", a, hostB, "", subject, at, body, keyB, sigB, true},
		{"b's own message, on b, by region", b, "", "bourgogne-franche-comte", subject, at, body, keyB, sigB, true},
		{"a's own message with its body changed", a, hostA, "", subject, at, []byte(`{"v":1,"kind":"accepted"}`), keyA, sigA, false},
		{"a's own message on another subject", a, hostA, "", "coopnet.v1.jobs.bretagne.withdraw", at, body, keyA, sigA, false},
		{"a's own message at another time", a, hostA, "", subject, at.Add(time.Microsecond), body, keyA, sigA, false},
		{"b's signature as a's own", a, hostA, "", subject, at, body, keyB, sigB, false},
		{"b's signature under a's key id, as a's own", a, hostA, "", subject, at, body, keyA, sigB, false},
		{"unsigned, as a's own", a, hostA, "", subject, at, body, "", "", false},
		{"a's signature as b's, on a", a, hostB, "", subject, at, body, keyA, sigA, false},
		{"the ActivityPub key's id", b, hostA, "", subject, at, body, strings.Replace(keyA, "#routing-key", "#main-key", 1), sigA, false},
		{"from a host that is not a peer", a, "elsewhere.test", "", subject, at, body, keyA, sigA, false},
	} {
		checked, valid, err := c.on.fed.VerifyMessage(ctx, c.host, c.region, c.subject, c.at, c.body, c.keyID, c.sig)
		if err != nil || !checked || valid != c.valid {
			t.Errorf("%s: checked %t, valid %t (%v), want valid %t", c.name, checked, valid, err, c.valid)
		}
	}
	if r, err := b.fed.PeerRegion(ctx, hostA); err != nil || r != "bretagne" {
		t.Errorf("a's region as b knows it: %q %v", r, err)
	}
}
