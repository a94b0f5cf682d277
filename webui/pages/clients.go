package pages

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

func (s *Pages) clientsPage(c echo.Context) error {
	return s.renderClients(c, http.StatusOK, nil, nil)
}

// clientPageSize is how many clients a page of the list shows.
const clientPageSize = 50

func (s *Pages) renderClients(c echo.Context, status int, values, errs map[string]string) error {
	query := strings.TrimSpace(c.QueryParam("q"))
	opt := clients.ListOptions{Query: query, Limit: clientPageSize + 1}
	var listErrs map[string]string
	if cur := c.QueryParam("cursor"); cur != "" {
		var ok bool
		if opt.After, ok = web.DecodeCursor(cur, storage.ValidID); !ok {
			listErrs = map[string]string{"cursor": T(langOf(c), "tickets.bad_cursor")}
		}
	}
	var cs []*clients.Client
	if listErrs == nil {
		var err error
		cs, err = s.Opt.Clients.List(c.Request().Context(), web.ActorOf(c), opt)
		if listErrs = fieldErrors(langOf(c), err); listErrs == nil && err != nil {
			return err
		}
	}
	if listErrs != nil && status == http.StatusOK {
		status = http.StatusUnprocessableEntity
	}
	data := map[string]any{"Clients": cs, "Kinds": clients.Kinds, "Values": values, "Query": query, "ListErrors": listErrs}
	if len(cs) > clientPageSize {
		next := url.Values{"cursor": {web.EncodeCursor(cs[clientPageSize-1].ID)}}
		if query != "" {
			next.Set("q", query)
		}
		data["Clients"], data["Next"] = cs[:clientPageSize], "/app/clients?"+next.Encode()
	}
	if opt.After != "" {
		data["First"] = "/app/clients"
		if query != "" {
			data["First"] = "/app/clients?" + url.Values{"q": {query}}.Encode()
		}
	}
	if values == nil {
		data["Values"] = map[string]string{"kind": "school"}
	}
	p := s.newPage(c, "clients.title", data)
	p.Errors = errs
	return s.render(c, status, "clients", p)
}

func (s *Pages) createClientSubmit(c echo.Context) error {
	values := map[string]string{}
	for _, k := range []string{"name", "kind", "postcode", "commune", "contact_name", "contact_email", "contact_phone"} {
		values[k] = c.FormValue(k)
	}
	d := clients.Description{Name: values["name"], Kind: values["kind"], Postcode: values["postcode"], Commune: values["commune"],
		ContactName: values["contact_name"], ContactEmail: values["contact_email"], ContactPhone: values["contact_phone"]}
	cl, err := s.Opt.Clients.Create(c.Request().Context(), web.ActorOf(c), clients.CreateInput{Description: d})
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.renderClients(c, http.StatusUnprocessableEntity, values, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, "/app/clients/"+cl.ID, "")
}

func (s *Pages) clientPage(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	cl, err := s.Opt.Clients.Get(ctx, by, c.Param("id"))
	if err != nil {
		return err
	}
	sites, err := s.Opt.Clients.Sites(ctx, by, cl.ID, "", 200)
	if err != nil {
		return err
	}
	assets, err := s.Opt.Clients.Assets(ctx, by, cl.ID, "", 200)
	if err != nil {
		return err
	}
	ts, err := s.Opt.Tickets.List(ctx, by, tickets.ListOptions{ClientID: cl.ID, Limit: 200})
	if err != nil {
		return err
	}
	// The interventions of these tickets, newest first, each with its
	// ticket (the attendee is its assignee, named).
	var visits []clientVisit
	if s.Opt.Planning != nil && len(ts) > 0 {
		byID := make(map[string]*tickets.Ticket, len(ts))
		ids := make([]string, len(ts))
		for i, t := range ts {
			byID[t.ID], ids[i] = t, t.ID
		}
		evs, err := s.Opt.Planning.OfTickets(ctx, ids)
		if err != nil {
			return err
		}
		for i := len(evs) - 1; i >= 0 && len(visits) < 50; i-- {
			t := byID[evs[i].TicketID]
			who := evs[i].AttendeeHandle
			if t.AssigneeHandle == who && t.AssigneeName != "" {
				who = t.AssigneeName
			}
			visits = append(visits, clientVisit{Event: evs[i], Ticket: t, Who: who})
		}
	}
	more := len(ts) > clientTickets
	if more {
		ts = ts[:clientTickets]
	}
	return s.render(c, http.StatusOK, "client", s.newPage(c, "clients.title", map[string]any{"Client": cl, "Sites": sites,
		"Assets": assets, "Kinds": clients.Kinds, "Tickets": ts, "MoreTickets": more, "Visits": visits}))
}

// clientTickets is how many of their tickets a client's page lists (the
// tickets page lists them all).
const clientTickets = 20

// clientVisit is an intervention on a client's ticket.
type clientVisit struct {
	Event  *planning.Event
	Ticket *tickets.Ticket
	Who    string
}

func (s *Pages) updateClientSubmit(c echo.Context) error {
	id := c.Param("id")
	v, _ := strconv.Atoi(c.FormValue("version"))
	_, err := s.Opt.Clients.Update(c.Request().Context(), web.ActorOf(c), id, clients.UpdateInput{Version: v,
		Description: clients.Description{Name: c.FormValue("name"), Kind: c.FormValue("kind"), Postcode: c.FormValue("postcode"),
			Commune: c.FormValue("commune"), ContactName: c.FormValue("contact_name"), ContactEmail: c.FormValue("contact_email"),
			ContactPhone: c.FormValue("contact_phone")}})
	return submitted(c, err, "/app/clients/"+id+"#edit", "/app/clients/"+id, "client.saved")
}

func (s *Pages) siteSubmit(c echo.Context) error {
	id := c.Param("id")
	_, err := s.Opt.Clients.AddSite(c.Request().Context(), web.ActorOf(c), id, clients.SiteInput{Name: c.FormValue("name"),
		Address: c.FormValue("address"), Postcode: c.FormValue("postcode"), Commune: c.FormValue("commune")})
	return submitted(c, err, "/app/clients/"+id, "/app/clients/"+id, "")
}

func (s *Pages) assetSubmit(c echo.Context) error {
	id := c.Param("id")
	date := strings.TrimSpace(c.FormValue("purchase_date"))
	// Typed the French way (the form asks so): the service takes ISO's.
	if d, err := time.Parse("2/1/2006", date); err == nil {
		date = d.Format(time.DateOnly)
	}
	_, err := s.Opt.Clients.AddAsset(c.Request().Context(), web.ActorOf(c), id, clients.AssetInput{Kind: "workstation",
		Hostname: c.FormValue("hostname"), OS: c.FormValue("os"), PurchaseDate: date})
	return submitted(c, err, "/app/clients/"+id, "/app/clients/"+id, "")
}

// --- offers ---
