package pages

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

// ticketFilters are the query parameters the tickets page reads (its
// filter form's fields, and the cursor of the next page).
var ticketFilters = []string{"q", "status", "skill", "priority", "client_id", "assignee", "region", "sort"}

// ticketList is the tickets page: the filter form's values and choices,
// one page of tickets and the link to the next.
type ticketList struct {
	Tickets    []*tickets.Ticket
	Clients    map[string]string // the tickets' clients' names, by id
	Values     map[string]string
	Statuses   []string
	Skills     []skills.Skill
	Priorities []string
	Assignees  []tickets.Assignee
	Regions    []regionChoice
	Sorts      []string
	Filtered   bool   // a filter or a search is set
	ClientName string // of the client_id filter
	Next       string // the next page's link, if there is one
	First      string // the first page's link, on a later page
}

type regionChoice struct{ Slug, Name string }

// regionChoices are the regions by name.
var regionChoices = func() []regionChoice {
	out := make([]regionChoice, 0, len(geo.Regions))
	for slug, name := range geo.Regions {
		out = append(out, regionChoice{slug, name})
	}
	sort.Slice(out, func(i, j int) bool { return geo.Fold(out[i].Name) < geo.Fold(out[j].Name) })
	return out
}()

// ticketPageSize is how many tickets a page of the list shows.
const ticketPageSize = 50

func (s *Pages) ticketsPage(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	q := c.QueryParams()
	v := ticketList{Values: map[string]string{}, Statuses: tickets.Statuses, Priorities: tickets.Priorities,
		Regions: regionChoices, Sorts: tickets.Sorts}
	for _, k := range ticketFilters {
		v.Values[k] = strings.TrimSpace(q.Get(k))
		v.Filtered = v.Filtered || (v.Values[k] != "" && k != "sort")
	}
	opt := tickets.ListOptions{Query: v.Values["q"], Status: tickets.Status(v.Values["status"]), Skill: v.Values["skill"],
		Priority: v.Values["priority"], ClientID: v.Values["client_id"], Assignee: v.Values["assignee"],
		Region: v.Values["region"], Sort: v.Values["sort"], Limit: ticketPageSize + 1}
	var errs map[string]string
	if cur := q.Get("cursor"); cur != "" {
		var ok bool
		if opt.After, ok = web.DecodeCursor(cur, tickets.ValidCursor); !ok {
			errs = map[string]string{"cursor": T(langOf(c), "tickets.bad_cursor")}
		}
	}
	status := http.StatusOK
	ts, err := s.Opt.Tickets.List(ctx, by, opt)
	if errs == nil {
		errs = fieldErrors(langOf(c), err)
	}
	switch {
	case errs != nil:
		status, ts = http.StatusUnprocessableEntity, nil
	case err != nil:
		return err
	}
	// The links to the first and the next page keep the filters.
	filtered := func() url.Values {
		out := url.Values{}
		for _, k := range ticketFilters {
			if v.Values[k] != "" {
				out.Set(k, v.Values[k])
			}
		}
		return out
	}
	if len(ts) > ticketPageSize {
		next := filtered()
		next.Set("cursor", web.EncodeCursor(opt.Cursor(ts[ticketPageSize-1])))
		ts, v.Next = ts[:ticketPageSize], "/app/tickets?"+next.Encode()
	}
	if opt.After != "" {
		v.First = "/app/tickets?" + filtered().Encode()
	}
	v.Tickets = ts
	if v.Clients, err = s.clientNames(c, ts); err != nil {
		return err
	}
	if id := v.Values["client_id"]; id != "" && errs["client_id"] == "" {
		// Named only to whoever may see the client: the filter is typed.
		cl, err := s.Opt.Clients.Get(ctx, by, id)
		if err != nil && apperr.CodeOf(err) != apperr.NotFound {
			return err
		}
		if cl != nil {
			v.ClientName = cl.Name
		}
	}
	if v.Skills, err = s.Opt.Skills.List(ctx); err != nil {
		return err
	}
	if v.Assignees, err = s.Opt.Tickets.Assignees(ctx, by); err != nil {
		return err
	}
	p := s.newPage(c, "tickets.title", &v)
	p.Errors = errs
	return s.render(c, status, "tickets", p)
}

// clientNames are the names of the tickets' clients, by id (one query).
func (s *Pages) clientNames(c echo.Context, ts []*tickets.Ticket) (map[string]string, error) {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.ClientID)
	}
	return s.Opt.Clients.Names(c.Request().Context(), ids)
}

type ticketForm struct {
	Clients    []*clients.Client
	Skills     []skills.Skill
	Priorities []string
	Values     map[string]string
}

func (s *Pages) ticketFormData(ctx context.Context, by members.Actor, values map[string]string) (*ticketForm, error) {
	cs, err := s.Opt.Clients.List(ctx, by, clients.ListOptions{Limit: 200})
	if err != nil {
		return nil, err
	}
	sk, err := s.Opt.Skills.List(ctx)
	if err != nil {
		return nil, err
	}
	if values == nil {
		values = map[string]string{"priority": "normal", "client_id": ""}
	}
	return &ticketForm{Clients: cs, Skills: sk, Priorities: tickets.Priorities, Values: values}, nil
}

func (s *Pages) newTicketPage(c echo.Context) error {
	f, err := s.ticketFormData(c.Request().Context(), web.ActorOf(c), map[string]string{"priority": "normal",
		"client_id": c.QueryParam("client")})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "ticket_new", s.newPage(c, "nav.new_ticket", f))
}

func (s *Pages) createTicketSubmit(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	values := map[string]string{}
	for _, k := range []string{"client_id", "title", "description", "skill", "priority", "on_site", "estimated_hours"} {
		values[k] = c.FormValue(k)
	}
	in := tickets.CreateInput{ClientID: values["client_id"], Title: values["title"], Description: values["description"],
		Skill: values["skill"], Priority: values["priority"]}
	onSite := values["on_site"] == "on"
	in.OnSite = &onSite
	if h, err := strconv.ParseFloat(strings.Replace(strings.TrimSpace(values["estimated_hours"]), ",", ".", 1), 64); err == nil {
		in.EstimatedHours = &h
	}
	t, err := s.Opt.Tickets.Create(ctx, by, in)
	if fe := fieldErrors(langOf(c), err); fe != nil {
		if in.EstimatedHours == nil {
			fe["estimated_hours"] = T(langOf(c), "field.hours_number")
		}
		f, ferr := s.ticketFormData(ctx, by, values)
		if ferr != nil {
			return ferr
		}
		p := s.newPage(c, "nav.new_ticket", f)
		p.Errors = fe
		return s.render(c, http.StatusUnprocessableEntity, "ticket_new", p)
	}
	if err != nil {
		return err
	}
	return redirect(c, "/app/tickets/"+t.ID, "")
}

type ticketView struct {
	Ticket     *tickets.Ticket
	Client     *clients.Client
	Comments   []*tickets.Comment
	History    []*tickets.Change
	Routing    *routing.Routing
	CanForward bool
	CanRelease bool // the member doing the job may give it back
	TakeBack   bool // … or staff take it back from them
	Moves      []tickets.Status
	Skills     []skills.Skill
	Events     []*planning.Event
	Values     map[string]string // what was typed in a form sent back
	Accept     string            // the file types the comment form takes
	MaxFileMB  int64
	Files      bool              // the node keeps files: the form takes them
	names      map[string]string // full handle → « Name (Region) »
}

// Who names a member by their full handle as people know them: their name
// and region; the routing by what it is; a handle nobody knows as it is.
func (v *ticketView) Who(handle string) string {
	if n, ok := v.names[handle]; ok {
		return n
	}
	return handle
}

// historyFields are the fields a ticket's history names (their labels:
// "history.field.<name>").
var historyFields = []string{"title", "description", "skill", "priority", "on_site", "estimated_hours", "status",
	"assignee", "assignee_name", "time_spent_minutes"}

// FieldChange is what a history entry changed, as people read it: the
// field's label and its new value in the page's language (« Priorité :
// haute », « Temps passé : 1 h 30 »).
func (v *ticketView) FieldChange(p *pageData, ch *tickets.Change) string {
	label := p.T("history.field." + ch.Field)
	if !slices.Contains(historyFields, ch.Field) {
		label = ch.Field
	}
	val := ch.NewValue
	switch ch.Field {
	case "status":
		val = p.T("status." + val)
	case "priority":
		val = p.T("priority." + val)
	case "skill":
		val = p.Skill(val)
	case "on_site":
		val = map[bool]string{true: p.T("form.yes"), false: p.T("form.no")}[val == "true"]
	case "estimated_hours":
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			val = formatDuration(p.Lang, int(math.Round(f*60)))
		}
	case "time_spent_minutes":
		if m, err := strconv.Atoi(val); err == nil {
			val = formatDuration(p.Lang, m)
		}
	case "assignee":
		val = v.Who(val)
	case "description":
		if r := []rune(val); len(r) > 120 {
			val = string(r[:119]) + "…"
		}
	}
	if val == "" {
		return label
	}
	return label + p.T("punct.colon") + val
}

// formatDuration is minutes as hours and minutes (« 1 h 30 », "1 h 30 min").
func formatDuration(lang string, minutes int) string {
	h, m := minutes/60, minutes%60
	switch {
	case minutes == 0:
		return T(lang, "duration.hours", 0)
	case h == 0:
		return T(lang, "duration.minutes", m)
	case m == 0:
		return T(lang, "duration.hours", h)
	}
	return T(lang, "duration.hours_minutes", h, m)
}

// nameHandles resolves the handles a ticket's page shows: this node's
// members, then the coop's directory (one lookup each, for a page's few).
func (s *Pages) nameHandles(ctx context.Context, lang string, handles []string) map[string]string {
	out := map[string]string{}
	for _, h := range handles {
		if _, done := out[h]; done || h == "" {
			continue
		}
		if region, ok := strings.CutPrefix(h, "routing@"); ok {
			out[h] = T(lang, "ticket.routing_actor", regionName(region))
			continue
		}
		if _, name, ok, err := s.Opt.Members.Local(ctx, h); err == nil && ok {
			out[h] = name + " (" + regionName(s.Opt.Region) + ")"
			continue
		}
		if s.Opt.Directory != nil {
			if e, err := s.Opt.Directory.ByHandle(ctx, h); err == nil {
				out[h] = e.Name + " (" + regionName(e.Region) + ")"
			}
		}
	}
	return out
}

func (s *Pages) ticketPage(c echo.Context) error { return s.renderTicket(c, http.StatusOK, nil, nil) }

// renderTicket renders a ticket's page; with errs, one of its forms sent
// back with what was typed (values) and what is wrong in each field.
func (s *Pages) renderTicket(c echo.Context, status int, values, errs map[string]string) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	t, err := s.Opt.Tickets.Get(ctx, by, c.Param("id"))
	if err != nil {
		return err
	}
	if err := s.Opt.Notify.MarkReadOf(ctx, by.ID, t.ID); err != nil { // what the page shows is read
		return err
	}
	v := &ticketView{Ticket: t, Accept: strings.Join(files.Extensions(), ","), MaxFileMB: s.Opt.Tickets.MaxFileBytes() >> 20,
		Files: s.Opt.Tickets.Files() != nil}
	if cl, err := s.Opt.Clients.Get(ctx, by, t.ClientID); err == nil {
		v.Client = cl
	}
	if v.Comments, err = s.Opt.Tickets.Comments(ctx, by, t.ID, "", 200); err != nil {
		return err
	}
	if v.History, err = s.Opt.Tickets.History(ctx, by, t.ID, "", 200); err != nil {
		return err
	}
	if s.Opt.Routing != nil {
		if r, err := s.Opt.Routing.RoutingOf(ctx, by, t.ID); err == nil {
			v.Routing = r
		}
		v.CanForward = tickets.MayForward(t, by.ID, by.Role.IsStaff()) &&
			(t.Status == tickets.StatusNew || t.Status == tickets.StatusUnroutable) && t.OriginRegion == s.Opt.Region
		mine := t.AssigneeMemberID != nil && *t.AssigneeMemberID == by.ID
		routed := v.Routing != nil && v.Routing.State == routing.RoutingAccepted && v.Routing.OfferID != nil
		v.TakeBack = !mine && routed && member.MayTakeBack(t, by, s.Opt.Region) && member.Releasable(t.Status)
		v.CanRelease = mine && member.Releasable(t.Status) || v.TakeBack
	}
	for _, st := range tickets.Statuses {
		if tickets.CanMove(t.Status, tickets.Status(st)) {
			v.Moves = append(v.Moves, tickets.Status(st))
		}
	}
	if v.Skills, err = s.Opt.Skills.List(ctx); err != nil {
		return err
	}
	if s.Opt.Planning != nil {
		if v.Events, err = s.Opt.Planning.OfTicket(ctx, by, t.ID); err != nil {
			return err
		}
	}
	handles := []string{t.AssigneeHandle}
	for _, h := range v.History {
		handles = append(handles, h.ActorHandle)
		if h.Action == tickets.ActOfferedTo || h.Action == "taken_from" {
			handles = append(handles, h.NewValue)
		}
	}
	if v.Routing != nil {
		handles = append(handles, v.Routing.OfferHandle)
	}
	v.names = s.nameHandles(ctx, langOf(c), handles)
	if r := v.Routing; r != nil && r.OfferHandle != "" {
		if _, ok := v.names[r.OfferHandle]; !ok {
			v.names[r.OfferHandle] = r.OfferHandle + " (" + regionName(r.OfferRegion) + ")"
		}
	}
	v.Values = values
	p := s.newPage(c, "tickets.title", v)
	p.Errors = errs
	return s.render(c, status, "ticket", p)
}

// ticketFormDone answers a form of a ticket's page after the service's
// err: the page again with the fields' errors (422), the error page for
// any other failure, else on to next with the flash message flash.
func (s *Pages) ticketFormDone(c echo.Context, err error, values map[string]string, next, flash string) error {
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.renderTicket(c, http.StatusUnprocessableEntity, values, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, next, flash)
}

func (s *Pages) commentSubmit(c echo.Context) error {
	ctx, by, id := c.Request().Context(), web.ActorOf(c), c.Param("id")
	if _, err := s.Opt.Tickets.Get(ctx, by, id); err != nil {
		return err
	}
	values := map[string]string{"body": c.FormValue("body")}
	kept, err := web.Uploads(c, s.Opt.Tickets, "files")
	if apperr.CodeOf(err) == apperr.TooLarge {
		err = &apperr.Error{Code: apperr.Invalid, Message: err.Error(), Fields: map[string]string{"files": err.Error()},
			Reasons: map[string]apperr.Reason{"files": {Code: "file_too_large", Args: []any{s.Opt.Tickets.MaxFileBytes() >> 20}}}}
	}
	if err == nil {
		_, err = s.Opt.Tickets.CommentWithFiles(ctx, by, id, c.FormValue("body"), c.FormValue("internal") == "on", kept)
		if err != nil {
			s.Opt.Tickets.Discard(ctx, kept)
		}
	}
	return s.ticketFormDone(c, err, values, "/app/tickets/"+id+"#comments", "")
}

func (s *Pages) attachmentFile(c echo.Context) error {
	return web.ServeAttachment(c, s.Opt.Tickets, false)
}
func (s *Pages) attachmentThumb(c echo.Context) error {
	return web.ServeAttachment(c, s.Opt.Tickets, true)
}

func (s *Pages) forwardSubmit(c echo.Context) error {
	id := c.Param("id")
	level, _ := strconv.Atoi(c.FormValue("min_level"))
	_, err := s.Opt.Routing.Forward(c.Request().Context(), web.ActorOf(c), id, routing.ForwardInput{Skill: c.FormValue("skill"),
		MinLevel: level, Note: c.FormValue("note")})
	return s.ticketFormDone(c, err, map[string]string{"note": c.FormValue("note")}, "/app/tickets/"+id+"#routing", "")
}

func (s *Pages) releaseSubmit(c echo.Context) error {
	id := c.Param("id")
	if c.FormValue("confirm") != "on" {
		// A second step: giving a job back (or taking it back) cannot be undone.
		heading, text, submit := "ticket.release_heading", "ticket.release_text", "ticket.release_submit"
		if c.FormValue("take_back") == "1" {
			heading, text, submit = "ticket.take_back_heading", "ticket.take_back_text", "ticket.take_back_submit"
		}
		return s.confirmTicket(c, id, heading, text, submit, "/app/tickets/"+id+"/release",
			[2]string{"reason", c.FormValue("reason")}, [2]string{"take_back", c.FormValue("take_back")})
	}
	t, err := s.Opt.Routing.Member().Release(c.Request().Context(), web.ActorOf(c), id, c.FormValue("reason"))
	if err == nil && t.OriginRegion == s.Opt.Region && (t.AssigneeMemberID == nil || *t.AssigneeMemberID != web.ActorOf(c).ID) &&
		web.ActorOf(c).Role.IsStaff() {
		// Staff took it back: they follow the ticket on.
		return redirect(c, "/app/tickets/"+id, "ticket.taken_back")
	}
	return s.ticketFormDone(c, err, map[string]string{"reason": c.FormValue("reason")}, "/app/tickets", "ticket.released")
}

func (s *Pages) statusSubmit(c echo.Context) error {
	id := c.Param("id")
	v, _ := strconv.Atoi(c.FormValue("version"))
	st := tickets.Status(c.FormValue("status"))
	if st == tickets.StatusCancelled && c.FormValue("confirm") != "on" {
		// A second step: a cancelled request is closed for good.
		return s.confirmTicket(c, id, "ticket.cancel_heading", "ticket.cancel_text", "ticket.cancel_submit", "/app/tickets/"+id+"/status",
			[2]string{"status", string(st)}, [2]string{"version", c.FormValue("version")})
	}
	_, err := s.Opt.Tickets.Update(c.Request().Context(), web.ActorOf(c), id, tickets.UpdateInput{Version: v, Status: &st})
	return submitted(c, err, "/app/tickets/"+id, "/app/tickets/"+id, "")
}

// localLayouts are the ways a date and time may be typed, in Paris time:
// the French way (as the form asks, in either language) and ISO's (what a
// browser's own picker sends).
// (Go's "2" and "1" read one or two digits: 8/12 and 08/12 alike.)
var localLayouts = []string{"2/1/2006 15:04", "2/1/2006 15h04", "2/1/2006 15h", "2006-01-02T15:04", "2006-01-02 15:04"}

// parseLocal reads a date and time typed in a form, in Paris time; ok is
// false for a value that is none of localLayouts (nil, true: empty).
func parseLocal(s string) (*time.Time, bool) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return nil, true
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, web.Paris); err == nil {
			return &t, true
		}
	}
	return nil, false
}

func (s *Pages) eventSubmit(c echo.Context) error {
	id := c.Param("id")
	values := map[string]string{"start": c.FormValue("start"), "end": c.FormValue("end"), "location": c.FormValue("location")}
	start, okStart := parseLocal(values["start"])
	end, okEnd := parseLocal(values["end"])
	var err error
	if !okStart || !okEnd {
		var v apperr.Validation
		for field, ok := range map[string]bool{"start": okStart, "end": okEnd} {
			if !ok {
				v.Reject(field, "datetime_format", "is a date and time such as 08/12/2026 09:00")
			}
		}
		err = v.Err()
	} else {
		_, err = s.Opt.Planning.Schedule(c.Request().Context(), web.ActorOf(c), id, planning.ScheduleInput{
			Start: start, End: end, Location: values["location"]})
	}
	return s.ticketFormDone(c, err, values, "/app/tickets/"+id+"#plan", "")
}

// --- clients ---

// confirmTicket is the page that asks before an action on a ticket that
// cannot be undone; hidden is what the first step's form said.
func (s *Pages) confirmTicket(c echo.Context, id, heading, text, submit, action string, hidden ...[2]string) error {
	t, err := s.Opt.Tickets.Get(c.Request().Context(), web.ActorOf(c), id)
	if err != nil {
		return err
	}
	p := s.newPage(c, heading, nil)
	p.Title = p.T(heading, t.Title)
	v := &confirmView{Heading: p.Title, Text: p.T(text), Action: action, Submit: p.T(submit),
		Back: "/app/tickets/" + id, Name: t.Title}
	if r := c.FormValue("reason"); r != "" {
		v.Text += " " + p.T("ticket.release_reason_shown", r)
	}
	for _, h := range hidden {
		if h[1] != "" {
			v.Hidden = append(v.Hidden, h)
		}
	}
	p.Data = v
	return s.render(c, http.StatusOK, "confirm", p)
}
