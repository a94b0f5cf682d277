package federation

import (
	"context"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/sign"
)

// FuzzParseActivity: whatever a peer sends, parsing answers an activity or
// an error, never a panic; an accepted activity has its envelope.
func FuzzParseActivity(f *testing.F) {
	for _, s := range []string{
		`{"@context":"https://www.w3.org/ns/activitystreams","id":"https://a.example/1","type":"Update","actor":"https://a.example/actor","object":{"id":"https://a.example/members/jean","type":"Person","preferredUsername":"jean","name":"Jean","updated":"2026-01-01T00:00:00Z"}}`,
		`{"@context":["https://www.w3.org/ns/activitystreams","https://forgefed.org/ns"],"id":"https://a.example/2","type":"Resolve","actor":"https://a.example/actor","object":"https://b.example/tickets/1"}`,
		`{"@context":"https://www.w3.org/ns/activitystreams","id":"https://a.example/3","type":"Offer","actor":{"id":"https://a.example/actor","type":"Service"},"object":{"type":"Ticket","id":"https://a.example/tickets/9"}}`,
		`{"type":"Update"}`, `[]`, `null`, `{"@context":{},"id":1}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := doc.ParseActivity(context.Background(), body)
		if err != nil {
			return
		}
		if a.ID == "" || a.Actor == "" || !doc.KnownTypes[a.Type] {
			t.Fatalf("accepted without an envelope: %+v", a)
		}
		switch {
		case a.Object != nil && a.ObjectType == "Person":
			_, _ = doc.ProfileFrom(a.Object)
		case a.Object != nil && a.ObjectType == "Ticket":
			_, _ = stateFrom(a.Object)
		}
	})
}

// FuzzSignatureHeader: the Signature header parser never panics, and what
// it accepts has a keyId, a signature and an accepted algorithm.
func FuzzSignatureHeader(f *testing.F) {
	for _, s := range []string{
		`keyId="https://a.example/actor#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="c2lnbmF0dXJl"`,
		`keyId="k",signature="s"`,
		`keyId="k", algorithm="hs2019", headers="(request-target) host date", signature="s"`,
		`keyId="k",keyId="k2",signature="s"`, `keyId=k`, `=`, `keyId="`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		p, err := sign.ParseHeader(h)
		if err != nil {
			return
		}
		if p.KeyID == "" || p.Signature == "" || (p.Algorithm != "" && p.Algorithm != "rsa-sha256" && p.Algorithm != "hs2019") {
			t.Fatalf("accepted %q as %+v", h, p)
		}
		for _, hd := range p.Headers {
			if hd != strings.ToLower(hd) {
				t.Fatalf("header names not lower-cased: %+v", p)
			}
		}
	})
}
