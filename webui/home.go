package webui

import (
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
)

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>coopnet — {{.Region}}</title></head>
<body>
<h1>coopnet — nœud {{.Region}}</h1>
<p>Ce nœud régional de la coopérative répond. L'API JSON est sous <code>/api/v1</code>
(description : <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>).</p>
<p lang="en">This regional node of the cooperative is up. The JSON API lives under <code>/api/v1</code>.</p>
</body></html>`))

func (s *Server) home(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return homePage.Execute(c.Response(), map[string]string{"Region": s.opt.Region})
}
