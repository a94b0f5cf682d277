package pages

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

func (s *Pages) clientsPage(c echo.Context) error {
	return s.renderClients(c, http.StatusOK, nil, nil)
}

func (s *Pages) renderClients(c echo.Context, status int, values, errs map[string]string) error {
	cs, err := s.Opt.Clients.List(c.Request().Context(), web.ActorOf(c), clients.ListOptions{Query: c.QueryParam("q"), Limit: 200})
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
	return s.render(c, http.StatusOK, "client", s.newPage(c, "clients.title", map[string]any{"Client": cl, "Sites": sites,
		"Assets": assets, "Kinds": clients.Kinds, "Tickets": ts}))
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
	_, err := s.Opt.Clients.AddAsset(c.Request().Context(), web.ActorOf(c), id, clients.AssetInput{Kind: "workstation",
		Hostname: c.FormValue("hostname"), OS: c.FormValue("os"), PurchaseDate: c.FormValue("purchase_date")})
	return submitted(c, err, "/app/clients/"+id, "/app/clients/"+id, "")
}

// --- offers ---
