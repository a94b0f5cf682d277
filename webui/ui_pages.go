package webui

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/tickets"
)

// uiRoutes registers the web interface.
func (s *Server) uiRoutes() {
	e := s.echo
	e.GET("/static/:name", s.serveStatic)
	e.GET("/app/login", s.loginPage)
	e.POST("/app/login", s.loginSubmit, csrfProtect)
	e.GET("/app/lang/:lang", s.switchLang)
	page := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		e.Add(method, "/app"+path, h, append([]echo.MiddlewareFunc{s.pageAuth, csrfProtect}, mw...)...)
	}
	staff := requireRole(members.Staff, members.Admin)
	// Pages that act through routing or planning need them on this node.
	needs := func(ok bool, what string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if !ok {
					return apperr.New(apperr.Unavailable, "%s is not available on this node", what)
				}
				return next(c)
			}
		}
	}
	routed, planned := needs(s.opt.Routing != nil, "routing"), needs(s.opt.Planning != nil, "planning")
	page("POST", "/logout", s.logoutSubmit)
	page("GET", "/", s.appHome)
	page("GET", "/tickets", s.ticketsPage)
	page("GET", "/tickets/new", s.newTicketPage)
	page("POST", "/tickets", s.createTicketSubmit)
	page("GET", "/tickets/:id", s.ticketPage)
	page("POST", "/tickets/:id/comments", s.commentSubmit)
	page("POST", "/tickets/:id/forward", s.forwardSubmit, routed)
	page("POST", "/tickets/:id/release", s.releaseSubmit, routed)
	page("POST", "/tickets/:id/status", s.statusSubmit)
	page("POST", "/tickets/:id/events", s.eventSubmit, planned)
	page("GET", "/clients", s.clientsPage)
	page("POST", "/clients", s.createClientSubmit)
	page("GET", "/clients/:id", s.clientPage)
	page("POST", "/clients/:id", s.updateClientSubmit)
	page("POST", "/clients/:id/sites", s.siteSubmit)
	page("POST", "/clients/:id/assets", s.assetSubmit)
	page("GET", "/offers", s.offersPage)
	page("POST", "/offers/:id/accept", s.acceptSubmit, routed)
	page("POST", "/offers/:id/decline", s.declineSubmit, routed)
	page("GET", "/calendar", s.calendarPage)
	page("POST", "/events/:id/answer", s.answerSubmit, planned)
	page("GET", "/directory", s.directoryPage)
	page("GET", "/staff", s.dashboardPage, staff)
	page("GET", "/account", s.accountPage)
	page("POST", "/account/password", s.passwordSubmit)
	page("POST", "/account/tokens", s.tokenSubmit)
	page("POST", "/account/tokens/:id/revoke", s.revokeSubmit)
	page("POST", "/account/skills", s.skillSubmit)
	page("GET", "/staff/members", s.membersPage, staff)
	page("GET", "/staff/queues", s.queuesPage, staff)
	page("POST", "/staff/members/:id/skills", s.reviewSubmit, staff)
	admin := requireRole(members.Admin)
	page("GET", "/staff/members/:id/deactivate", s.deactivatePage, admin)
	page("POST", "/staff/members/:id/deactivate", s.deactivateSubmit, admin)
	page("GET", "/staff/members/:id/erase", s.eraseMemberPage, admin)
	page("POST", "/staff/members/:id/erase", s.eraseMemberSubmit, admin)
	page("GET", "/clients/:id/export", s.clientExportPage, staff)
	page("GET", "/clients/:id/erase", s.eraseClientPage, staff)
	page("POST", "/clients/:id/erase", s.eraseClientSubmit, staff)
}

func (s *Server) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", s.newPage(c, "login.title", map[string]string{"Next": safeNext(c.QueryParam("next"))}))
}

// safeNext keeps a redirect after login on this site's pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/app/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/app/"
}

func (s *Server) loginSubmit(c echo.Context) error {
	email, password := strings.TrimSpace(c.FormValue("email")), c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	fail := func(status int, key string, args ...any) error {
		p := s.newPage(c, "login.title", map[string]string{"Next": next, "Email": email})
		p.Errors = map[string]string{"": p.T(key, args...)}
		return s.render(c, status, "login", p)
	}
	if wait, err := s.loginAttempt(c, email); err != nil {
		return err
	} else if wait > 0 {
		return fail(http.StatusTooManyRequests, "login.limited", waitText(wait))
	}
	token, _, err := s.opt.Members.Login(c.Request().Context(), email, password)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Unauthorised || apperr.CodeOf(err) == apperr.Invalid {
			return fail(http.StatusUnauthorized, "login.failed")
		}
		return err
	}
	if err := s.loginSucceeded(c, email); err != nil {
		return err
	}
	s.setSessionCookie(c, token, s.opt.Members.SessionTTL())
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) logoutSubmit(c echo.Context) error {
	if ck, err := c.Cookie(SessionCookie); err == nil {
		if err := s.opt.Members.Revoke(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/app/login")
}

// switchLang sets the interface's language and goes back where the member
// was.
func (s *Server) switchLang(c echo.Context) error {
	lang := c.Param("lang")
	ok := false
	for _, l := range Langs {
		ok = ok || l == lang
	}
	if !ok {
		return echo.ErrNotFound
	}
	c.SetCookie(&http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode,
		Secure: s.secure})
	return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
}

func (s *Server) appHome(c echo.Context) error {
	if actorOf(c).Role.IsStaff() {
		return c.Redirect(http.StatusSeeOther, "/app/staff")
	}
	return c.Redirect(http.StatusSeeOther, "/app/tickets")
}

// --- tickets ---

func (s *Server) ticketsPage(c echo.Context) error {
	var st tickets.Status
	if q := c.QueryParam("status"); q != "" {
		for _, x := range tickets.Statuses {
			if q == x {
				st = tickets.Status(q)
			}
		}
	}
	ts, err := s.opt.Tickets.List(c.Request().Context(), actorOf(c), tickets.ListOptions{Status: st, Limit: 200})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "tickets", s.newPage(c, "tickets.title", map[string]any{"Tickets": ts, "Status": string(st),
		"Statuses": tickets.Statuses}))
}

type ticketForm struct {
	Clients    []*clients.Client
	Skills     []skills.Skill
	Priorities []string
	Values     map[string]string
}

func (s *Server) ticketFormData(ctx context.Context, by members.Actor, values map[string]string) (*ticketForm, error) {
	cs, err := s.opt.Clients.List(ctx, by, clients.ListOptions{Limit: 200})
	if err != nil {
		return nil, err
	}
	sk, err := s.opt.Skills.List(ctx)
	if err != nil {
		return nil, err
	}
	if values == nil {
		values = map[string]string{"priority": "normal", "client_id": ""}
	}
	return &ticketForm{Clients: cs, Skills: sk, Priorities: tickets.Priorities, Values: values}, nil
}

func (s *Server) newTicketPage(c echo.Context) error {
	f, err := s.ticketFormData(c.Request().Context(), actorOf(c), map[string]string{"priority": "normal",
		"client_id": c.QueryParam("client")})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "ticket_new", s.newPage(c, "nav.new_ticket", f))
}

func (s *Server) createTicketSubmit(c echo.Context) error {
	ctx, by := c.Request().Context(), actorOf(c)
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
	t, err := s.opt.Tickets.Create(ctx, by, in)
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
}

func (s *Server) ticketPage(c echo.Context) error { return s.renderTicket(c, http.StatusOK, nil, nil) }

// renderTicket renders a ticket's page; with errs, one of its forms sent
// back with what was typed (values) and what is wrong in each field.
func (s *Server) renderTicket(c echo.Context, status int, values, errs map[string]string) error {
	ctx, by := c.Request().Context(), actorOf(c)
	t, err := s.opt.Tickets.Get(ctx, by, c.Param("id"))
	if err != nil {
		return err
	}
	v := &ticketView{Ticket: t}
	if cl, err := s.opt.Clients.Get(ctx, by, t.ClientID); err == nil {
		v.Client = cl
	}
	if v.Comments, err = s.opt.Tickets.Comments(ctx, by, t.ID, "", 200); err != nil {
		return err
	}
	if v.History, err = s.opt.Tickets.History(ctx, by, t.ID, "", 200); err != nil {
		return err
	}
	if s.opt.Routing != nil {
		if r, err := s.opt.Routing.RoutingOf(ctx, by, t.ID); err == nil {
			v.Routing = r
		}
		v.CanForward = tickets.MayForward(t, by.ID, by.Role.IsStaff()) &&
			(t.Status == tickets.StatusNew || t.Status == tickets.StatusUnroutable) && t.OriginRegion == s.opt.Region
		mine := t.AssigneeMemberID != nil && *t.AssigneeMemberID == by.ID
		routed := v.Routing != nil && v.Routing.State == routing.RoutingAccepted && v.Routing.OfferID != nil
		v.TakeBack = !mine && routed && member.MayTakeBack(t, by, s.opt.Region) && member.Releasable(t.Status)
		v.CanRelease = mine && member.Releasable(t.Status) || v.TakeBack
	}
	for _, st := range tickets.Statuses {
		if tickets.CanMove(t.Status, tickets.Status(st)) {
			v.Moves = append(v.Moves, tickets.Status(st))
		}
	}
	if v.Skills, err = s.opt.Skills.List(ctx); err != nil {
		return err
	}
	if s.opt.Planning != nil {
		if v.Events, err = s.opt.Planning.OfTicket(ctx, by, t.ID); err != nil {
			return err
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
func (s *Server) ticketFormDone(c echo.Context, err error, values map[string]string, next, flash string) error {
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.renderTicket(c, http.StatusUnprocessableEntity, values, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, next, flash)
}

func (s *Server) commentSubmit(c echo.Context) error {
	id := c.Param("id")
	_, err := s.opt.Tickets.AddComment(c.Request().Context(), actorOf(c), id, c.FormValue("body"), c.FormValue("internal") == "on")
	return s.ticketFormDone(c, err, map[string]string{"body": c.FormValue("body")}, "/app/tickets/"+id+"#comments", "")
}

func (s *Server) forwardSubmit(c echo.Context) error {
	id := c.Param("id")
	level, _ := strconv.Atoi(c.FormValue("min_level"))
	_, err := s.opt.Routing.Forward(c.Request().Context(), actorOf(c), id, routing.ForwardInput{Skill: c.FormValue("skill"),
		MinLevel: level, Note: c.FormValue("note")})
	return s.ticketFormDone(c, err, map[string]string{"note": c.FormValue("note")}, "/app/tickets/"+id+"#routing", "")
}

func (s *Server) releaseSubmit(c echo.Context) error {
	id := c.Param("id")
	t, err := s.opt.Routing.Member().Release(c.Request().Context(), actorOf(c), id, c.FormValue("reason"))
	if err == nil && t.OriginRegion == s.opt.Region && (t.AssigneeMemberID == nil || *t.AssigneeMemberID != actorOf(c).ID) &&
		actorOf(c).Role.IsStaff() {
		// Staff took it back: they follow the ticket on.
		return redirect(c, "/app/tickets/"+id, "ticket.taken_back")
	}
	return s.ticketFormDone(c, err, map[string]string{"reason": c.FormValue("reason")}, "/app/tickets", "ticket.released")
}

func (s *Server) statusSubmit(c echo.Context) error {
	id := c.Param("id")
	v, _ := strconv.Atoi(c.FormValue("version"))
	st := tickets.Status(c.FormValue("status"))
	_, err := s.opt.Tickets.Update(c.Request().Context(), actorOf(c), id, tickets.UpdateInput{Version: v, Status: &st})
	return submitted(c, err, "/app/tickets/"+id, "/app/tickets/"+id, "")
}

// parseLocal reads a datetime-local field, in Paris time.
func parseLocal(s string) *time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04", s, paris)
	if err != nil {
		return nil
	}
	return &t
}

func (s *Server) eventSubmit(c echo.Context) error {
	id := c.Param("id")
	_, err := s.opt.Planning.Schedule(c.Request().Context(), actorOf(c), id, planning.ScheduleInput{
		Start: parseLocal(c.FormValue("start")), End: parseLocal(c.FormValue("end")), Location: c.FormValue("location")})
	return s.ticketFormDone(c, err, map[string]string{"start": c.FormValue("start"), "end": c.FormValue("end"),
		"location": c.FormValue("location")}, "/app/tickets/"+id+"#plan", "")
}

// --- clients ---

func (s *Server) clientsPage(c echo.Context) error {
	return s.renderClients(c, http.StatusOK, nil, nil)
}

func (s *Server) renderClients(c echo.Context, status int, values, errs map[string]string) error {
	cs, err := s.opt.Clients.List(c.Request().Context(), actorOf(c), clients.ListOptions{Query: c.QueryParam("q"), Limit: 200})
	if err != nil {
		return err
	}
	if values == nil {
		values = map[string]string{"kind": "school"}
	}
	p := s.newPage(c, "clients.title", map[string]any{"Clients": cs, "Kinds": clients.Kinds, "Values": values})
	p.Errors = errs
	return s.render(c, status, "clients", p)
}

func (s *Server) createClientSubmit(c echo.Context) error {
	values := map[string]string{}
	for _, k := range []string{"name", "kind", "postcode", "commune", "contact_name", "contact_email", "contact_phone"} {
		values[k] = c.FormValue(k)
	}
	d := clients.Description{Name: values["name"], Kind: values["kind"], Postcode: values["postcode"], Commune: values["commune"],
		ContactName: values["contact_name"], ContactEmail: values["contact_email"], ContactPhone: values["contact_phone"]}
	cl, err := s.opt.Clients.Create(c.Request().Context(), actorOf(c), clients.CreateInput{Description: d})
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.renderClients(c, http.StatusUnprocessableEntity, values, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, "/app/clients/"+cl.ID, "")
}

func (s *Server) clientPage(c echo.Context) error {
	ctx, by := c.Request().Context(), actorOf(c)
	cl, err := s.opt.Clients.Get(ctx, by, c.Param("id"))
	if err != nil {
		return err
	}
	sites, err := s.opt.Clients.Sites(ctx, by, cl.ID, "", 200)
	if err != nil {
		return err
	}
	assets, err := s.opt.Clients.Assets(ctx, by, cl.ID, "", 200)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "client", s.newPage(c, "clients.title", map[string]any{"Client": cl, "Sites": sites,
		"Assets": assets, "Kinds": clients.Kinds}))
}

func (s *Server) updateClientSubmit(c echo.Context) error {
	id := c.Param("id")
	v, _ := strconv.Atoi(c.FormValue("version"))
	_, err := s.opt.Clients.Update(c.Request().Context(), actorOf(c), id, clients.UpdateInput{Version: v,
		Description: clients.Description{Name: c.FormValue("name"), Kind: c.FormValue("kind"), Postcode: c.FormValue("postcode"),
			Commune: c.FormValue("commune"), ContactName: c.FormValue("contact_name"), ContactEmail: c.FormValue("contact_email"),
			ContactPhone: c.FormValue("contact_phone")}})
	return submitted(c, err, "/app/clients/"+id+"#edit", "/app/clients/"+id, "client.saved")
}

func (s *Server) siteSubmit(c echo.Context) error {
	id := c.Param("id")
	_, err := s.opt.Clients.AddSite(c.Request().Context(), actorOf(c), id, clients.SiteInput{Name: c.FormValue("name"),
		Address: c.FormValue("address"), Postcode: c.FormValue("postcode"), Commune: c.FormValue("commune")})
	return submitted(c, err, "/app/clients/"+id, "/app/clients/"+id, "")
}

func (s *Server) assetSubmit(c echo.Context) error {
	id := c.Param("id")
	_, err := s.opt.Clients.AddAsset(c.Request().Context(), actorOf(c), id, clients.AssetInput{Kind: "workstation",
		Hostname: c.FormValue("hostname"), OS: c.FormValue("os"), PurchaseDate: c.FormValue("purchase_date")})
	return submitted(c, err, "/app/clients/"+id, "/app/clients/"+id, "")
}

// --- offers ---

// offersView is the offers page: the offers to answer, and those that
// ended lately without the member's answer.
type offersView struct {
	Pending, Ended []*member.Offer
}

func (s *Server) offersPage(c echo.Context) error {
	var v offersView
	if s.opt.Routing != nil {
		var err error
		ctx, by := c.Request().Context(), actorOf(c)
		if v.Pending, err = s.opt.Routing.Member().PendingOffers(ctx, by); err != nil {
			return err
		}
		if v.Ended, err = s.opt.Routing.Member().EndedOffers(ctx, by); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "offers", s.newPage(c, "offers.title", v))
}

func (s *Server) acceptSubmit(c echo.Context) error {
	if _, err := s.opt.Routing.Member().Accept(c.Request().Context(), actorOf(c), c.Param("id")); err != nil {
		return err
	}
	return redirect(c, "/app/tickets", "offers.accepted")
}

func (s *Server) declineSubmit(c echo.Context) error {
	if err := s.opt.Routing.Member().Decline(c.Request().Context(), actorOf(c), c.Param("id"), c.FormValue("reason")); err != nil {
		return err
	}
	return redirect(c, "/app/offers", "")
}

// --- calendar ---

type calendarDay struct {
	Day    time.Time
	Events []*planning.Event
}

func (s *Server) calendarPage(c echo.Context) error {
	monday := mondayOf(time.Now())
	if d, err := time.ParseInLocation(time.DateOnly, c.QueryParam("week"), paris); err == nil {
		monday = mondayOf(d)
	}
	var es []*planning.Event
	if s.opt.Planning != nil {
		var err error
		if es, err = s.opt.Planning.Calendar(c.Request().Context(), actorOf(c), monday, monday.AddDate(0, 0, 7)); err != nil {
			return err
		}
	}
	days := make([]calendarDay, 7)
	for i := range days {
		days[i].Day = monday.AddDate(0, 0, i)
	}
	for _, e := range es {
		i := int(e.StartAt.In(paris).Sub(monday).Hours() / 24)
		if i < 0 {
			i = 0
		}
		if i > 6 {
			i = 6
		}
		days[i].Events = append(days[i].Events, e)
	}
	return s.render(c, http.StatusOK, "calendar", s.newPage(c, "nav.calendar", map[string]any{"Days": days, "Monday": monday,
		"Prev": monday.AddDate(0, 0, -7).Format(time.DateOnly), "Next": monday.AddDate(0, 0, 7).Format(time.DateOnly),
		"Empty": len(es) == 0, "Me": actorOf(c).Handle}))
}

func (s *Server) answerSubmit(c echo.Context) error {
	if _, err := s.opt.Planning.Answer(c.Request().Context(), actorOf(c), c.Param("id"), c.FormValue("answer")); err != nil {
		return err
	}
	back := "/app/calendar"
	if w := c.FormValue("week"); w != "" {
		back += "?week=" + url.QueryEscape(w)
	}
	return redirect(c, back, "")
}

// --- directory and dashboard ---

func (s *Server) directoryPage(c echo.Context) error {
	skill, q := c.QueryParam("skill"), strings.ToLower(strings.TrimSpace(c.QueryParam("q")))
	es, err := s.opt.Directory.List(c.Request().Context(), directory.ListOptions{Skill: skill, Limit: 500})
	if apperr.CodeOf(err) == apperr.Invalid {
		skill, es, err = "", nil, nil
	}
	if err != nil {
		return err
	}
	if q != "" {
		kept := es[:0]
		for _, e := range es {
			if strings.Contains(strings.ToLower(e.Name+" "+e.Commune+" "+e.Handle), q) {
				kept = append(kept, e)
			}
		}
		es = kept
	}
	sk, err := s.opt.Skills.List(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "directory", s.newPage(c, "directory.title", map[string]any{"Entries": es, "Skills": sk,
		"Skill": skill, "Q": c.QueryParam("q")}))
}

// loadBar is one bar of a load chart: hours booked against weekly capacity.
type loadBar struct {
	Name          string
	BookedMinutes int
	WeeklyHours   int
}

type regionCount struct {
	Region string
	Jobs   int
}

func (s *Server) dashboardPage(c echo.Context) error {
	ctx, by := c.Request().Context(), actorOf(c)
	d, err := s.opt.Tickets.Stats(ctx)
	if err != nil {
		return err
	}
	var unroutable []routing.Unroutable
	var routed []regionCount
	var loads []routing.RegionLoad
	if s.opt.Routing != nil {
		if loads, err = s.opt.Routing.RegionLoads(ctx); err != nil {
			return err
		}
		if unroutable, err = s.opt.Routing.UnroutableTickets(ctx, by); err != nil {
			return err
		}
		byRegion, err := s.opt.Routing.AcceptedByRegion(ctx)
		if err != nil {
			return err
		}
		for r, n := range byRegion {
			routed = append(routed, regionCount{r, n})
		}
		sort.Slice(routed, func(i, j int) bool {
			return routed[i].Jobs > routed[j].Jobs || routed[i].Jobs == routed[j].Jobs && routed[i].Region < routed[j].Region
		})
	}
	var bars []loadBar
	if s.opt.Routing != nil {
		ml, err := s.opt.Routing.Member().MemberLoads(ctx)
		if err != nil {
			return err
		}
		for _, m := range ml {
			bars = append(bars, loadBar{Name: m.Name, BookedMinutes: m.BookedMinutes, WeeklyHours: m.WeeklyHours})
		}
	}
	open := 0
	for st, n := range d {
		if st != string(tickets.StatusResolved) && st != string(tickets.StatusClosed) && st != string(tickets.StatusCancelled) {
			open += n
		}
	}
	return s.render(c, http.StatusOK, "dashboard", s.newPage(c, "dashboard.title", map[string]any{"Open": open,
		"ByStatus": d, "Statuses": tickets.Statuses, "Unroutable": unroutable, "Routed": routed, "Bars": bars, "Loads": loads,
		"RegionBars": regionBars(loads)}))
}

func regionBars(loads []routing.RegionLoad) []loadBar {
	out := make([]loadBar, len(loads))
	for i, l := range loads {
		out[i] = loadBar{Name: l.Region, BookedMinutes: l.BookedMinutes, WeeklyHours: l.CapacityHours}
	}
	return out
}

// waitText says a wait as people read it, in either language: "45 s",
// "3 min".
func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(math.Ceil(d.Seconds())))
	}
	return fmt.Sprintf("%d min", int(math.Ceil(d.Minutes())))
}
