package webui_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/webui"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLoginThrottle: failing logins at will, from a hundred addresses or
// ten times from ten, does not lock anyone (an admin here) out of their
// account; an account failing at one address, and one address failing on
// many accounts, wait longer and longer, but not an account that logged in
// from that address before; attempts sent all at once are held as one
// after another; the count is in the database, so that a second replica
// (or the node after a restart) sees it; a success forgets the account's
// failures at its address, and a day forgets the rest. Neither address nor
// e-mail is kept in clear.
func TestLoginThrottle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
		clock := &testClock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
		r := newRig(t, db, func(o *webui.Options) { o.TrustedProxies = []*net.IPNet{loopback}; o.Now = clock.Now })
		replica := r.replica()
		login := func(base, ip, email, password string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("POST", base+"/api/v1/auth/login",
				strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", ip)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("Retry-After")
		}

		// The weapon: a hundred addresses, then ten failures from ten.
		for i := range 100 {
			if got, _ := login(r.srv.URL, fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250), "admin@bfc.test", "wrong password"); got != 401 {
				t.Fatalf("failure %d on the admin: %d, want 401", i+1, got)
			}
		}
		for i := range 10 {
			for range 10 {
				login(r.srv.URL, fmt.Sprintf("198.19.0.%d", 1+i), "admin@bfc.test", "wrong password")
			}
		}
		if got, _ := login(r.srv.URL, "192.0.2.10", "admin@bfc.test", testPassword); got != 200 {
			t.Fatalf("the admin from her own address after 200 failures elsewhere: %d, want 200", got)
		}

		// One account at one address: a few free failures, then waits
		// that grow, seen by the other replica too.
		const ip = "203.0.113.7"
		for i := range members.PairFreeFailures + 1 {
			if got, _ := login(r.srv.URL, ip, "jean@bfc.test", "wrong password"); got != 401 {
				t.Fatalf("failure %d: %d, want 401", i+1, got)
			}
		}
		for _, wait := range []int{1, 2, 4} {
			for _, base := range []string{r.srv.URL, replica.URL} {
				if got, after := login(base, ip, "jean@bfc.test", testPassword); got != 429 || after != fmt.Sprint(wait) {
					t.Fatalf("while waiting (%s): %d Retry-After %q, want 429 and %d", base, got, after, wait)
				}
			}
			clock.Add(time.Duration(wait) * time.Second)
			if got, _ := login(replica.URL, ip, "jean@bfc.test", "wrong password"); got != 401 {
				t.Fatalf("after waiting %d s: %d, want 401", wait, got)
			}
		}
		// Jean himself, elsewhere, is not held up.
		if got, _ := login(r.srv.URL, "192.0.2.20", "jean@bfc.test", testPassword); got != 200 {
			t.Fatalf("Jean from another address: %d", got)
		}

		// The page says so, in its language.
		b := newBrowser(t, r.srv.URL)
		_, page, _ := b.get("/app/login")
		tok := csrfOf(t, page)
		for range members.PairFreeFailures + 1 {
			b.post("/app/login", url.Values{"_csrf": {tok}, "email": {"luc@bfc.test"}, "password": {"faux"}})
		}
		if code, page, _ := b.post("/app/login", url.Values{"_csrf": {tok}, "email": {"luc@bfc.test"}, "password": {testPassword}}); code != 429 ||
			!strings.Contains(page, "Trop d&#39;essais manqués depuis cette adresse : réessayez dans 1 s.") {
			t.Fatalf("the login page while waiting: %d %s", code, page)
		}

		// One address on many accounts: Claire, who logged in from there
		// before, is not held up (a school's or an office's shared
		// address); an account not known there waits.
		const spray = "203.0.113.99"
		if got, _ := login(r.srv.URL, spray, "claire@bfc.test", testPassword); got != 200 {
			t.Fatalf("Claire at the shared address: %d", got)
		}
		for i := range members.AddressFreeFailures {
			if got, _ := login(r.srv.URL, spray, fmt.Sprintf("nobody%d@bfc.test", i), "wrong password"); got != 401 {
				t.Fatalf("address failure %d: %d", i+1, got)
			}
		}
		login(r.srv.URL, spray, "nobody-else@bfc.test", "wrong password")
		if got, after := login(r.srv.URL, spray, "admin@bfc.test", testPassword); got != 429 || after == "" {
			t.Fatalf("an address past its failures, on an account not known there: %d (Retry-After %q), want 429", got, after)
		}
		if got, _ := login(replica.URL, spray, "claire@bfc.test", testPassword); got != 200 {
			t.Fatalf("Claire, known at the shared address, after its failures: %d, want 200", got)
		}

		// A flood of attempts sent at once is held as if sent one after
		// another: at most the free failures and one more reach the
		// password check.
		const flood = "203.0.113.150"
		var wg sync.WaitGroup
		statuses := make(chan int, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := r.srv.URL
				if i%2 == 1 {
					base = replica.URL
				}
				got, _ := login(base, flood, "jean@bfc.test", "wrong password")
				statuses <- got
			}()
		}
		wg.Wait()
		close(statuses)
		checked := 0
		for st := range statuses {
			if st == 401 {
				checked++
			} else if st != 429 {
				t.Fatalf("an attempt of the flood: %d", st)
			}
		}
		if checked > members.PairFreeFailures+1 {
			t.Fatalf("%d of 40 attempts sent at once had their password checked, want at most %d", checked, members.PairFreeFailures+1)
		}

		// Nothing in clear.
		var keys []string
		db.Raw("SELECT key FROM login_failures").Scan(&keys)
		for _, k := range keys {
			if strings.Contains(k, "203.0.113") || strings.Contains(k, "@") {
				t.Fatalf("a login failure kept in clear: %q", k)
			}
		}

		// A success forgets the account's failures at its address.
		clock.Add(members.MaxLoginWait)
		if got, _ := login(r.srv.URL, ip, "jean@bfc.test", testPassword); got != 200 {
			t.Fatalf("Jean after the wait: %d", got)
		}
		if got, _ := login(r.srv.URL, ip, "jean@bfc.test", "wrong password"); got != 401 {
			t.Fatalf("a failure after a success: %d, want 401 (counting afresh)", got)
		}
		if got, _ := login(r.srv.URL, ip, "jean@bfc.test", testPassword); got != 200 {
			t.Fatalf("a success after one failure: %d", got)
		}

		// A day forgets the failures, and their rows go; the known pairs
		// stay, for a month.
		clock.Add(members.PairFailureMemory + time.Minute)
		login(r.srv.URL, "192.0.2.99", "nobody@bfc.test", "wrong password")
		var old, known int64
		db.Raw("SELECT COUNT(*) FROM login_failures WHERE last_at < ? AND succeeded_at IS NULL", clock.Now().Add(-time.Hour)).Scan(&old)
		db.Raw("SELECT COUNT(*) FROM login_failures WHERE succeeded_at IS NOT NULL").Scan(&known)
		if old != 0 || known != 4 {
			t.Errorf("a day on: %d rows of old failures (want 0), %d known pairs (want 4: the admin, Jean twice, Claire)", old, known)
		}
		clock.Add(members.KnownPairFor)
		login(r.srv.URL, "192.0.2.99", "nobody@bfc.test", "wrong password")
		db.Raw("SELECT COUNT(*) FROM login_failures").Scan(&known)
		if known != 2 {
			t.Errorf("a month on: %d rows, want the last attempt's 2", known)
		}
	})
}
