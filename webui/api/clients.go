package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/webui/web"
)

type clientRequest struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	Postcode     string   `json:"postcode"`
	Commune      string   `json:"commune"`
	Lat          *float64 `json:"lat"`
	Lon          *float64 `json:"lon"`
	ContactName  string   `json:"contact_name"`
	ContactEmail string   `json:"contact_email"`
	ContactPhone string   `json:"contact_phone"`
	TechnicianID string   `json:"technician_id"`
}

func (s *API) createClient(c echo.Context) error {
	var req clientRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	cl, err := s.Opt.Clients.Create(c.Request().Context(), web.ActorOf(c), clients.CreateInput{
		Description: clients.Description{Name: req.Name, Kind: req.Kind, Postcode: req.Postcode, Commune: req.Commune,
			Lat: req.Lat, Lon: req.Lon, ContactName: req.ContactName, ContactEmail: req.ContactEmail, ContactPhone: req.ContactPhone},
		TechnicianID: req.TechnicianID,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/clients/"+cl.ID)
	return c.JSON(http.StatusCreated, cl)
}

func (s *API) getClient(c echo.Context) error {
	cl, err := s.Opt.Clients.Get(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cl)
}

func (s *API) listClients(c echo.Context) error {
	limit, after, err := web.PageParams(c)
	if err != nil {
		return err
	}
	cs, err := s.Opt.Clients.List(c.Request().Context(), web.ActorOf(c), clients.ListOptions{
		Query: c.QueryParam("q"), After: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.NewPage(cs, limit, func(cl *clients.Client) string { return cl.ID }))
}

type siteRequest struct {
	Name     string   `json:"name"`
	Address  string   `json:"address"`
	Postcode string   `json:"postcode"`
	Commune  string   `json:"commune"`
	Lat      *float64 `json:"lat"`
	Lon      *float64 `json:"lon"`
}

func (s *API) addSite(c echo.Context) error {
	var req siteRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	site, err := s.Opt.Clients.AddSite(c.Request().Context(), web.ActorOf(c), c.Param("id"), clients.SiteInput{
		Name: req.Name, Address: req.Address, Postcode: req.Postcode, Commune: req.Commune, Lat: req.Lat, Lon: req.Lon})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, site)
}

func (s *API) listSites(c echo.Context) error {
	return listUnder(c, s.Opt.Clients.Sites, func(x *clients.Site) string { return x.ID })
}

type assetRequest struct {
	SiteID       string `json:"site_id"`
	Kind         string `json:"kind"`
	Hostname     string `json:"hostname"`
	OS           string `json:"os"`
	PurchaseDate string `json:"purchase_date"`
	Notes        string `json:"notes"`
}

func (s *API) addAsset(c echo.Context) error {
	var req assetRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	a, err := s.Opt.Clients.AddAsset(c.Request().Context(), web.ActorOf(c), c.Param("id"), clients.AssetInput{
		SiteID: req.SiteID, Kind: req.Kind, Hostname: req.Hostname, OS: req.OS, PurchaseDate: req.PurchaseDate, Notes: req.Notes})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (s *API) listAssets(c echo.Context) error {
	return listUnder(c, s.Opt.Clients.Assets, func(x *clients.Asset) string { return x.ID })
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// clientUpdate is clientRequest with the version it is based on and
// without the technician (a separate struct: embedding one would show in
// the names of fields in errors).
type clientUpdate struct {
	Version      *int     `json:"version"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	Postcode     string   `json:"postcode"`
	Commune      string   `json:"commune"`
	Lat          *float64 `json:"lat"`
	Lon          *float64 `json:"lon"`
	ContactName  string   `json:"contact_name"`
	ContactEmail string   `json:"contact_email"`
	ContactPhone string   `json:"contact_phone"`
}

// updateClient replaces a client's description (based on its version).
func (s *API) updateClient(c echo.Context) error {
	var req clientUpdate
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := clients.UpdateInput{Description: clients.Description{Name: req.Name, Kind: req.Kind, Postcode: req.Postcode,
		Commune: req.Commune, Lat: req.Lat, Lon: req.Lon, ContactName: req.ContactName, ContactEmail: req.ContactEmail,
		ContactPhone: req.ContactPhone}}
	if req.Version != nil {
		in.Version = *req.Version
	}
	cl, err := s.Opt.Clients.Update(c.Request().Context(), web.ActorOf(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cl)
}
