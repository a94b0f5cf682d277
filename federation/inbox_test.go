package federation

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/federation/sign"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/webui"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// testNode is one node's federation behind the real HTTP server, on its
// own database.
type testNode struct {
	url     string
	db      *storage.DB
	fed     *Service
	members *members.Service
	dir     *directory.Service
}

// twoNodes starts nodes "a" (SQLite) and "b" (PostgreSQL when available)
// on 127.0.0.1, peers of each other.
func twoNodes(t *testing.T) (a, b *testNode) {
	t.Helper()
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	urlA, urlB := "http://"+lnA.Addr().String(), "http://"+lnB.Addr().String()
	bURL := storagetest.PostgresURL(t)
	a = startTestNode(t, "bretagne", urlA, []string{urlB}, storagetest.SQLiteURL(t), lnA)
	b = startTestNode(t, "bourgogne-franche-comte", urlB, []string{urlA}, bURL, lnB)
	return a, b
}

func startTestNode(t *testing.T, region, publicURL string, peers []string, dbURL string, ln net.Listener) *testNode {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	host := strings.TrimPrefix(publicURL, "http://")
	catalog := skills.NewCatalog(db)
	ms := members.New(db, catalog, members.Config{Region: region, Host: host, BcryptCost: bcrypt.MinCost}, log)
	dir := directory.New(db, ms, region, host)
	fed, err := New(db, ms, dir, Config{Region: region, PublicURL: publicURL, Peers: peers, Poll: 50 * time.Millisecond,
		Retry: RetryPolicy{First: 20 * time.Millisecond, Max: 200 * time.Millisecond}}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	storage.ListenThen(db, fed.MemberChanged, fed.Wake)
	if err := fed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fed.Stop)
	srv := webui.New(webui.Options{Region: region, PublicURL: publicURL, Members: ms, Directory: dir, Skills: catalog,
		Federation: fed, Logger: log})
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &testNode{url: publicURL, db: db, fed: fed, members: ms, dir: dir}
}

func (n *testNode) inboxCount(t *testing.T) int64 {
	t.Helper()
	var c int64
	if err := n.db.Model(&inbox.Row{}).Count(&c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}

// signedPost builds a POST to target signed with kp under keyID.
func signedPost(t *testing.T, target, keyID string, kp *sign.KeyPair, body []byte, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", doc.MediaActivity)
	if err := sign.Request(req, kp, keyID, body, at); err != nil {
		t.Fatal(err)
	}
	return req
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func personUpdateBody(t *testing.T, from *testNode, handle, name string, updated time.Time) []byte {
	t.Helper()
	obj, err := doc.Person(doc.Profile{ID: from.fed.MemberActor(handle), Username: handle, Name: name, Region: "bourgogne-franche-comte",
		Skills: []doc.Skill{{Name: "website", Level: 4}}, Updated: updated}, "", from.url+"/actor/inbox")
	if err != nil {
		t.Fatal(err)
	}
	act, err := doc.Update(from.url+"/actor/activities/"+handle+fmt.Sprint(updated.UnixNano()), from.fed.NodeActor(), obj, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(act)
	return b
}

// TestInboxRejects sends node a requests from node b, good and bad: only
// the good one is stored, once.
func TestInboxRejects(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	bKey, err := b.fed.keys.Get(ctx, "node")
	if err != nil {
		t.Fatal(err)
	}
	keyID := b.fed.NodeActor() + "#main-key"
	inbox := a.url + "/actor/inbox"
	good := personUpdateBody(t, b, "jean", "Jean Dugnouf", time.Now().Add(-time.Minute))
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := &sign.KeyPair{Private: otherKey}

	cases := map[string]struct {
		req  func() *http.Request
		want int
	}{
		"unsigned": {func() *http.Request {
			r, _ := http.NewRequest("POST", inbox, bytes.NewReader(good))
			r.Header.Set("Content-Type", doc.MediaActivity)
			return r
		}, 401},
		"wrong content type": {func() *http.Request {
			r := signedPost(t, inbox, keyID, bKey, good, time.Now())
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415},
		"forged signature": {func() *http.Request { return signedPost(t, inbox, keyID, forged, good, time.Now()) }, 401},
		"unknown domain": {func() *http.Request {
			return signedPost(t, inbox, "http://evil.example/actor#main-key", bKey, good, time.Now())
		}, 403},
		"keyId not the node's key": {func() *http.Request {
			return signedPost(t, inbox, b.url+"/members/jean?n=1#main-key", bKey, good, time.Now())
		}, 401},
		"signed for another host": {func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, inbox, bytes.NewReader(good))
			r.Header.Set("Content-Type", doc.MediaActivity)
			r.Host = strings.TrimPrefix(b.url, "http://") // as if b had sent it to itself, replayed here
			if err := sign.Request(r, bKey, keyID, good, time.Now()); err != nil {
				t.Fatal(err)
			}
			return r
		}, 401},
		"stale date":  {func() *http.Request { return signedPost(t, inbox, keyID, bKey, good, time.Now().Add(-2*time.Hour)) }, 401},
		"future date": {func() *http.Request { return signedPost(t, inbox, keyID, bKey, good, time.Now().Add(2*time.Hour)) }, 401},
		"body changed after signing": {func() *http.Request {
			r := signedPost(t, inbox, keyID, bKey, good, time.Now())
			changed := bytes.Replace(good, []byte("Jean"), []byte("Jack"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(changed)), int64(len(changed))
			return r
		}, 401},
		"digest not signed": {func() *http.Request {
			r, _ := http.NewRequest("POST", inbox, bytes.NewReader(good))
			r.Header.Set("Content-Type", doc.MediaActivity)
			r.Header.Set("Digest", "SHA-256="+sign.BodyDigest(good))
			r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			if err := signHeaders(r, bKey, keyID, []string{"(request-target)", "host", "date"}); err != nil {
				t.Fatal(err)
			}
			return r
		}, 401},
		"malformed JSON": {func() *http.Request { return signedPost(t, inbox, keyID, bKey, []byte(`{"type":`), time.Now()) }, 400},
		"not ActivityStreams": {func() *http.Request {
			return signedPost(t, inbox, keyID, bKey, []byte(`{"@context":"https://example.org","type":"Update","id":"x"}`), time.Now())
		}, 400},
		"activity of another domain": {func() *http.Request {
			body := bytes.ReplaceAll(good, []byte(b.url+"/actor/activities"), []byte("http://evil.example/activities"))
			return signedPost(t, inbox, keyID, bKey, body, time.Now())
		}, 403},
		"huge body": {func() *http.Request {
			return signedPost(t, inbox, keyID, bKey, bytes.Repeat([]byte("x"), 2<<20), time.Now())
		}, 413},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := do(t, tc.req())
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if n := a.inboxCount(t); n != 0 {
				t.Fatalf("%d activities stored after a rejected request", n)
			}
		})
	}

	// The good one, twice (a replay, or a retried delivery): 202 both
	// times, stored and applied once.
	for i := 0; i < 2; i++ {
		if status, body := do(t, signedPost(t, inbox, keyID, bKey, good, time.Now())); status != 202 {
			t.Fatalf("good activity: %d %s", status, body)
		}
	}
	if n := a.inboxCount(t); n != 1 {
		t.Fatalf("%d activities stored, want 1", n)
	}
	waitUntil(t, "jean in a's directory", func() bool { return len(directoryOf(t, a, "jean@")) == 1 })
	e := directoryOf(t, a, "jean@")[0]
	if e.Name != "Jean Dugnouf" || e.Region != "bourgogne-franche-comte" || len(e.Skills) != 1 || e.Skills[0].Level != 4 {
		t.Fatalf("directory entry: %+v", e)
	}
	// An older profile arriving late changes nothing.
	old := personUpdateBody(t, b, "jean", "Jean (old name)", time.Now().Add(-time.Hour))
	if status, _ := do(t, signedPost(t, inbox, keyID, bKey, old, time.Now())); status != 202 {
		t.Fatal(status)
	}
	waitUntil(t, "the old update processed", func() bool {
		var n int64
		a.db.Raw("SELECT COUNT(*) FROM federation_inbox WHERE state = 'pending'").Scan(&n)
		return n == 0
	})
	if e := directoryOf(t, a, "jean@")[0]; e.Name != "Jean Dugnouf" {
		t.Fatalf("an older profile overwrote a newer one: %q", e.Name)
	}
}

// signHeaders signs r over the given headers only (to build bad requests).
func signHeaders(r *http.Request, kp *sign.KeyPair, keyID string, headers []string) error {
	s, _, err := sign.NewSigner(headers)
	if err != nil {
		return err
	}
	r.Header.Set("Host", r.URL.Host)
	return s.SignRequest(kp.Private, keyID, r, nil)
}

func directoryOf(t *testing.T, n *testNode, prefix string) []directory.Entry {
	t.Helper()
	es, err := n.dir.List(context.Background(), directory.ListOptions{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var out []directory.Entry
	for _, e := range es {
		if strings.HasPrefix(e.Handle, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDirectoryAcrossNodes: a member created on b reaches a's directory
// through the outbox, signed, and a's actors answer WebFinger and content
// negotiation as a Mastodon server would ask.
func TestDirectoryAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	m, err := b.members.Create(ctx, nil, members.CreateInput{Email: "marie@b.test", Name: "Marie Le Gall", Role: "technician",
		Password: "mot de passe long", Postcode: "25150", Skills: []members.SkillLevel{{Name: "website", Level: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "marie in a's directory", func() bool { return len(directoryOf(t, a, m.Handle+"@")) == 1 })
	e := directoryOf(t, a, m.Handle+"@")[0]
	if e.Local || e.Departement != "25" || e.Region != "bourgogne-franche-comte" || e.Skills[0].Name != "website" {
		t.Fatalf("copy: %+v", e)
	}
	// b records the delivery when a has answered: a may apply it first.
	waitUntil(t, "b's delivery recorded", func() bool {
		states, err := b.fed.transport.DeliveryStates(ctx)
		return err == nil && states["delivered"] == 1 && states["pending"] == 0
	})

	// WebFinger, then the actor by content negotiation.
	host := strings.TrimPrefix(b.url, "http://")
	resp, err := http.Get(b.url + "/.well-known/webfinger?resource=acct:" + m.Handle + "@" + host)
	if err != nil {
		t.Fatal(err)
	}
	var jrd struct {
		Subject string
		Links   []struct{ Rel, Type, Href string }
	}
	json.NewDecoder(resp.Body).Decode(&jrd)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(jrd.Links) == 0 || jrd.Links[0].Type != doc.MediaActivity || jrd.Links[0].Href != b.fed.MemberActor(m.Handle) {
		t.Fatalf("webfinger: %d %+v", resp.StatusCode, jrd)
	}
	for _, accept := range []string{doc.MediaActivity, doc.MediaLD} {
		req, _ := http.NewRequest("GET", jrd.Links[0].Href, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		json.NewDecoder(resp.Body).Decode(&obj)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, strings.Split(accept, ";")[0]) {
			t.Fatalf("actor as %s: %d %s", accept, resp.StatusCode, ct)
		}
		pk, _ := obj["publicKey"].(map[string]any)
		if obj["type"] != "Person" || obj["inbox"] != b.fed.MemberActor(m.Handle)+"/inbox" || pk == nil ||
			!strings.Contains(fmt.Sprint(pk["publicKeyPem"]), "BEGIN PUBLIC KEY") || pk["owner"] != obj["id"] {
			t.Fatalf("actor: %v", obj)
		}
		raw, _ := json.Marshal(obj)
		for _, private := range []string{"marie@b.test", "PRIVATE KEY", "password", "lat", "\"email\""} {
			if strings.Contains(string(raw), private) {
				t.Fatalf("the actor shows %q: %s", private, raw)
			}
		}
	}
	for path, want := range map[string]int{
		"/.well-known/webfinger?resource=acct:nobody@" + host:  404,
		"/.well-known/webfinger?resource=acct:marie@elsewhere": 404,
		"/.well-known/webfinger?resource=marie":                400,
		"/members/nobody":                                      404,
		"/nodeinfo/2.1":                                        200,
		"/.well-known/nodeinfo":                                200,
		"/actor":                                               200,
	} {
		resp, err := http.Get(b.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestDeliveryRetriesUntilThePeerIsBack: a peer that is down gets its
// activities when it comes back, each once.
func TestDeliveryRetriesUntilThePeerIsBack(t *testing.T) {
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	addrA := lnA.Addr().String()
	lnA.Close() // a is down
	lnB, _ := net.Listen("tcp", "127.0.0.1:0")
	urlA, urlB := "http://"+addrA, "http://"+lnB.Addr().String()
	b := startTestNode(t, "bourgogne-franche-comte", urlB, []string{urlA}, storagetest.SQLiteURL(t), lnB)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := b.members.Create(ctx, nil, members.CreateInput{Email: fmt.Sprintf("m%d@b.test", i), Name: fmt.Sprintf("Membre %d", i),
			Role: "technician", Password: "mot de passe long", Postcode: "25000"}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "failed attempts", func() bool {
		var n int64
		b.db.Raw("SELECT COUNT(*) FROM federation_outbox WHERE attempts >= 2 AND state = 'pending'").Scan(&n)
		return n == 5
	})
	var failingSince *time.Time
	b.db.Raw("SELECT failing_since FROM federation_peers WHERE host = ?", addrA).Scan(&failingSince)
	if failingSince == nil {
		t.Fatal("the peer is not marked failing")
	}
	ln, err := net.Listen("tcp", addrA)
	if err != nil {
		t.Fatalf("port %s taken meanwhile: %v", addrA, err)
	}
	a := startTestNode(t, "bretagne", urlA, []string{urlB}, storagetest.SQLiteURL(t), ln)
	waitUntil(t, "a's directory", func() bool { return len(directoryOf(t, a, "m")) == 5 })
	waitUntil(t, "b's outbox drained", func() bool {
		s, _ := b.fed.transport.DeliveryStates(ctx)
		return s["delivered"] == 5 && s["pending"] == 0
	})
	if n := a.inboxCount(t); n != 5 {
		t.Fatalf("a stored %d activities, want 5", n)
	}
}
