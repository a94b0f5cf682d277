package planning_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// story is one node of Bourgogne-Franche-Comté with Jean (technician),
// Marie (technician of the same node, for once) and the school's ticket,
// which the routing gave Marie.
type story struct {
	ps          *planning.Service
	ts          *tickets.Service
	jean, marie members.Actor
	ticket      *tickets.Ticket
}

func newStory(t *testing.T, db *storage.DB) *story {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	catalog := skills.NewCatalog(db)
	ms := members.New(db, catalog, members.Config{Region: "bfc", Host: "bfc.test", BcryptCost: bcrypt.MinCost}, log)
	actor := func(email, name string) members.Actor {
		m, err := ms.Create(ctx, nil, members.CreateInput{Email: email, Name: name, Role: "technician", Password: "mot de passe",
			Postcode: "25150", Skills: []members.SkillLevel{{Name: "website", Level: 4}}})
		if err != nil {
			t.Fatal(err)
		}
		return members.Actor{ID: m.ID, Handle: m.Handle + "@bfc.test", Name: m.Name, Role: m.Role}
	}
	s := &story{jean: actor("jean@bfc.test", "Jean"), marie: actor("marie@bfc.test", "Marie")}
	cs := clients.New(db, ms)
	c, err := cs.Create(ctx, s.jean, clients.CreateInput{Description: clients.Description{Name: "École primaire des Tilleuls",
		Kind: "school", Postcode: "25150", Commune: "Bourguignon"}})
	if err != nil {
		t.Fatal(err)
	}
	s.ts = tickets.New(db, catalog, cs, ledger.New(db, "bfc"), tickets.Config{Region: "bfc", PublicURL: "http://bfc.test"}, log)
	onSite, hours := true, 3.0
	tk, err := s.ts.Create(ctx, s.jean, tickets.CreateInput{ClientID: c.ID, Title: "Site web de l'école", Skill: "website",
		OnSite: &onSite, EstimatedHours: &hours})
	if err != nil {
		t.Fatal(err)
	}
	// The routing's moves, as the lifecycle has them: forwarded, offered,
	// accepted by Marie.
	for _, mv := range []struct {
		from, to tickets.Status
		action   tickets.Action
	}{{tickets.StatusNew, tickets.StatusRouting, tickets.ActForwarded}, {tickets.StatusRouting, tickets.StatusOffered, tickets.ActOffered}} {
		if tk, err = s.ts.Move(ctx, tk, []tickets.Status{mv.from}, mv.to, nil, nil, "routing@bfc", mv.action); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ts.Move(ctx, tk, []tickets.Status{tickets.StatusNew}, tickets.StatusAccepted, nil, nil, "routing@bfc",
		tickets.ActAccepted); err == nil {
		t.Fatal("a move the lifecycle does not have was made")
	}
	if tk, err = s.ts.Move(ctx, tk, []tickets.Status{tickets.StatusOffered}, tickets.StatusAccepted,
		&tickets.Assignee{Handle: s.marie.Handle, Region: "bfc", Name: "Marie"}, &s.marie.ID, s.marie.Handle, tickets.ActAccepted); err != nil {
		t.Fatal(err)
	}
	s.ticket = tk
	s.ps = planning.New(db, s.ts, planning.Config{PublicURL: "http://bfc.test"})
	return s
}

// TestPlanAnIntervention: Jean plans an intervention on the ticket Marie
// took; she is invited, it is in both calendars, she accepts; what is not
// a valid plan is refused with the field at fault, and changes nothing.
func TestPlanAnIntervention(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storagetest.Open(t, d)
			s := newStory(t, db)
			var planned []planning.EventPlanned
			storage.Listen(db, nil, func(e planning.EventPlanned) { planned = append(planned, e) })

			paris, _ := time.LoadLocation("Europe/Paris")
			start := time.Date(2026, 12, 8, 9, 0, 0, 0, paris)
			end := start.Add(3 * time.Hour)
			for _, bad := range []struct {
				in    planning.ScheduleInput
				field string
			}{
				{planning.ScheduleInput{End: &end}, "start"},
				{planning.ScheduleInput{Start: &start}, "end"},
				{planning.ScheduleInput{Start: &end, End: &start}, "end"},
			} {
				_, err := s.ps.Schedule(ctx, s.jean, s.ticket.ID, bad.in)
				var ae *apperr.Error
				if apperr.CodeOf(err) != apperr.Invalid || !errorAs(err, &ae) || ae.Fields[bad.field] == "" {
					t.Errorf("%+v: %v, want the field %s refused", bad.in, err, bad.field)
				}
			}
			if _, err := s.ps.Schedule(ctx, s.jean, "no-such-ticket", planning.ScheduleInput{Start: &start, End: &end}); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("a ticket that is not there: %v", err)
			}
			if len(planned) != 0 {
				t.Fatalf("refused plans were heard: %v", planned)
			}

			e, err := s.ps.Schedule(ctx, s.jean, s.ticket.ID, planning.ScheduleInput{Start: &start, End: &end, Location: "École, Bourguignon"})
			if err != nil {
				t.Fatal(err)
			}
			if e.State != planning.Invited || e.AttendeeHandle != s.marie.Handle || !e.StartAt.Equal(start) || e.StartAt.Location() != time.UTC {
				t.Errorf("planned: %+v", e)
			}
			if len(planned) != 1 || planned[0].Event.ID != e.ID || planned[0].Remote {
				t.Errorf("heard %+v", planned)
			}
			for _, who := range []members.Actor{s.jean, s.marie} {
				cal, err := s.ps.Calendar(ctx, who, start.Add(-24*time.Hour), start.Add(24*time.Hour))
				if err != nil || len(cal) != 1 || cal[0].ID != e.ID || cal[0].TicketTitle != "Site web de l'école" {
					t.Errorf("%s's calendar: %+v (%v)", who.Name, cal, err)
				}
			}
			if _, err := s.ps.Answer(ctx, s.jean, e.ID, "accept"); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("Jean answered Marie's invitation: %v", err)
			}
			if _, err := s.ps.Answer(ctx, s.marie, e.ID, "peut-être"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("an answer that is none: %v", err)
			}
			got, err := s.ps.Answer(ctx, s.marie, e.ID, "accept")
			if err != nil || got.State != planning.Accepted {
				t.Fatalf("Marie's answer: %+v (%v)", got, err)
			}
			evs, err := s.ps.OfTicket(ctx, s.jean, s.ticket.ID)
			if err != nil || len(evs) != 1 || evs[0].State != planning.Accepted {
				t.Errorf("the ticket's interventions: %+v (%v)", evs, err)
			}
			// The ticket's history says it, in typed actions.
			hist := map[tickets.Action]int{}
			for _, c := range historyOf(t, s.ts, s.jean, s.ticket.ID) {
				hist[c.Action]++
			}
			if hist[tickets.ActPlanned] != 1 || hist[tickets.PlanningAnswer(planning.Accepted)] != 1 {
				t.Errorf("history: %v", hist)
			}
		})
	}
}

func errorAs(err error, target **apperr.Error) bool { return errors.As(err, target) }

func historyOf(t *testing.T, ts *tickets.Service, by members.Actor, id string) []*tickets.Change {
	t.Helper()
	h, err := ts.History(context.Background(), by, id, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
