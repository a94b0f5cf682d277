package planning_test

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/planning"
)

// calendar is the API's answer to GET /api/v1/calendar.
type calendar struct {
	From  time.Time        `json:"from"`
	To    time.Time        `json:"to"`
	Items []planning.Event `json:"items"`
}

// TestInterventionAcrossRegions, in a coop of three regions: Jean plans
// an intervention on the job Marie took from Bretagne; it reaches her
// calendar with the ticket's title; her answer reaches Jean's; Gwen, on
// her node, can neither see nor answer it; a bad plan is refused whole.
func TestInterventionAcrossRegions(t *testing.T) {
	c := rig.New(t, time.Minute)
	jean, marie, gwen := c.As(rig.Jean), c.As(rig.Marie), c.As(rig.Gwen)
	jeanID, _ := c.SharedTicket("Site web de l'École primaire des Tilleuls")

	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	ev := rig.Must[planning.Event](jean.Do("POST", "/api/v1/tickets/"+jeanID+"/events", map[string]any{
		"start": start, "end": start.Add(3 * time.Hour), "location": "École des Tilleuls, Bourguignon"}), 201)
	if ev.State != "invited" || ev.AttendeeHandle != c.Handle(rig.Marie) || ev.OrganizerHandle != c.Handle(rig.Jean) || !ev.StartAt.Equal(start) {
		t.Fatalf("planned: %+v", ev)
	}
	week := "/api/v1/calendar?from=" + start.Add(-24*time.Hour).Format(time.DateOnly)
	var hers planning.Event
	rig.WaitFor(t, "the intervention in Marie's calendar", func() bool {
		cal := rig.Must[calendar](marie.Do("GET", week, nil), 200)
		for _, e := range cal.Items {
			if e.APID == ev.APID {
				hers = e
				return true
			}
		}
		return false
	})
	if hers.TicketTitle != "Site web de l'École primaire des Tilleuls" || hers.Location != ev.Location || !hers.EndAt.Equal(ev.EndAt) {
		t.Errorf("Marie's event: %+v", hers)
	}
	if cal := rig.Must[calendar](gwen.Do("GET", week, nil), 200); len(cal.Items) != 0 {
		t.Errorf("Gwen's calendar: %+v", cal.Items)
	}
	rig.Refused(gwen.Do("POST", "/api/v1/events/"+hers.ID+"/answer", map[string]any{"answer": "accept"}), 404)
	rig.Refused(marie.Do("POST", "/api/v1/events/"+hers.ID+"/answer", map[string]any{"answer": "perhaps"}), 422)
	rig.Must[planning.Event](marie.Do("POST", "/api/v1/events/"+hers.ID+"/answer", map[string]any{"answer": "accept"}), 200)
	rig.WaitFor(t, "Marie's acceptance on Jean's node", func() bool {
		cal := rig.Must[calendar](jean.Do("GET", week, nil), 200)
		return len(cal.Items) == 1 && cal.Items[0].State == "accepted"
	})

	// An intervention that ends before it starts changes nothing.
	p := rig.Refused(jean.Do("POST", "/api/v1/tickets/"+jeanID+"/events", map[string]any{
		"start": start, "end": start.Add(-time.Hour)}), 422)
	if p.Errors["end"] == "" {
		t.Errorf("an intervention ending before its start: %+v", p)
	}
	if cal := rig.Must[calendar](jean.Do("GET", week, nil), 200); len(cal.Items) != 1 {
		t.Errorf("after a refused plan, Jean's calendar holds %d interventions", len(cal.Items))
	}
}
