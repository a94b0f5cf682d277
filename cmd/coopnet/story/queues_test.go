package story_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/webui/web"
)

// TestQueuesSeenByStaff: after the seed story's job went from Jean to
// Marie, Claire (staff of Bourgogne-Franche-Comté) sees the node's four
// durable queues with nothing left to do, and a delivery a peer refused
// as a dead letter, with what it was and why; Jean, a technician, may
// not look; /metrics counts the same items by queue and state.
func TestQueuesSeenByStaff(t *testing.T) {
	c := newCoop(t, time.Minute)
	c.SharedTicket("Site web de l'École primaire des Tilleuls")
	bfc := c.Node(rig.BFC).N
	// A delivery a peer refused for good, as the federation leaves it.
	refusedAt := time.Now().UTC().Truncate(time.Second)
	if err := bfc.DB.Exec(`INSERT INTO federation_outbox (activity_id, inbox, body, state, attempts, next_attempt_at, last_status,
		last_error, created_at, done_at) VALUES (?, ?, '{}', 'failed', 1, ?, 400, 'refused: 400', ?, ?)`,
		bfc.Cfg.PublicURL+"/activities/refused", c.Node(rig.BZH).URL+"/inbox", refusedAt, refusedAt, refusedAt).Error; err != nil {
		t.Fatal(err)
	}

	claire := c.As(rig.Claire)
	var v web.QueuesView
	rig.WaitFor(t, "every queue of Jean's node done with the shared job", func() bool {
		v = rig.Must[web.QueuesView](claire.Do("GET", "/api/v1/queues", nil), 200)
		for _, st := range v.Items {
			// A mail waits for the end of its member's quiet hours (the
			// test may run on a Sunday): waiting is what it should do.
			if st.Due+st.Leased > 0 || (st.Waiting > 0 && st.Topic != "mail_outbox") {
				return false
			}
		}
		return len(v.Items) == 6
	})
	var topics []string
	for _, st := range v.Items {
		topics = append(topics, st.Topic)
		if want := int64(0); st.Topic == "federation_outbox" {
			want = 1
			if st.Dead != want {
				t.Errorf("%s: %d dead letters, want %d", st.Topic, st.Dead, want)
			}
		} else if st.Dead != 0 {
			t.Errorf("%s: %d dead letters", st.Topic, st.Dead)
		}
	}
	if got := strings.Join(topics, " "); got != "routings bus_outbox federation_outbox federation_inbox mail_outbox attachment_fetches" {
		t.Errorf("queues: %s", got)
	}
	if len(v.DeadLetters) != 1 || v.DeadLetters[0].What != c.Node(rig.BZH).URL+"/inbox" || v.DeadLetters[0].Error != "refused: 400" ||
		!v.DeadLetters[0].At.Equal(refusedAt) {
		t.Errorf("dead letters: %+v", v.DeadLetters)
	}
	rig.Refused(c.As(rig.Jean).Do("GET", "/api/v1/queues", nil), 403)

	m := c.metrics(rig.BFC)
	for _, line := range []string{`coopnet_queue_items{state="dead",topic="federation_outbox"} 1`,
		`coopnet_queue_items{state="due",topic="routings"} 0`, `coopnet_queue_items{state="waiting",topic="federation_inbox"} 0`,
		`coopnet_queue_items{state="due",topic="bus_outbox"} 0`} {
		if !strings.Contains(m, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	// The shared ticket went to Marie's node in deliveries the workers
	// leased. (The search itself was handed to a worker straight from the
	// forward, without the queue.)
	if !strings.Contains(m, `coopnet_queue_leased_total{topic="federation_outbox"} `) ||
		strings.Contains(m, `coopnet_queue_leased_total{topic="federation_outbox"} 0`+"\n") {
		t.Errorf("/metrics: no delivery counted as leased")
	}
}
