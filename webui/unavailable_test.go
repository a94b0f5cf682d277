package webui_test

import (
	"context"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestDatabaseAway: while PostgreSQL refuses connections (and those open
// break), the API answers 503 with Retry-After, a problem that says to try
// again, and readiness fails; once it is back, the same requests work.
func TestDatabaseAway(t *testing.T) {
	dsn := storagetest.PostgresURL(t)
	proxy := storagetest.NewProxy(t, storagetest.Target(t, dsn))
	db, err := storage.Open(context.Background(), proxy.URL(dsn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := newRig(t, db)
	clientID := r.newClient("technician")
	r.must(200, "GET", "/api/v1/clients/"+clientID, "technician", nil)

	proxy.Cut()
	res := r.do("GET", "/api/v1/clients/"+clientID, "technician", nil)
	if res.Status != 503 {
		t.Fatalf("a read while the database is away: %d %s, want 503", res.Status, res.Body)
	}
	if ra := res.Header.Get("Retry-After"); ra == "" {
		t.Errorf("503 without Retry-After")
	}
	if p := res.json(t); p["type"] != "urn:coopnet:problem:unavailable" {
		t.Errorf("problem %v", p)
	}
	res = r.do("POST", "/api/v1/clients", "technician", map[string]any{"name": "Mairie", "kind": "town_hall", "postcode": "25150"})
	if res.Status != 503 || res.Header.Get("Retry-After") == "" {
		t.Errorf("a write while the database is away: %d %v %s, want 503 with Retry-After", res.Status, res.Header, res.Body)
	}
	if res := r.do("GET", "/readyz", "", nil); res.Status != 503 {
		t.Errorf("readyz while the database is away: %d", res.Status)
	}

	proxy.Restore()
	deadline := time.Now().Add(30 * time.Second)
	for r.do("GET", "/readyz", "", nil).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the node did not get its database back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.must(200, "GET", "/api/v1/clients/"+clientID, "technician", nil)
	r.must(201, "POST", "/api/v1/clients", "technician", map[string]any{"name": "Mairie", "kind": "town_hall", "postcode": "25150"})
}
