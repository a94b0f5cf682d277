package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *API) listQueues(c echo.Context) error {
	v, err := s.Queues(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
