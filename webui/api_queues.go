package webui

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/queue"
)

// QueuesView is the state of the node's durable queues: each one's items
// by state, and the latest items they gave up on (dead letters), newest
// first, without a client's personal data.
type QueuesView struct {
	Items       []queue.Stats      `json:"items"`
	DeadLetters []queue.DeadLetter `json:"dead_letters"`
}

// deadLettersShown is how many dead letters of each queue staff see.
const deadLettersShown = 20

func (s *Server) queuesView(ctx context.Context) (*QueuesView, error) {
	v := &QueuesView{Items: []queue.Stats{}, DeadLetters: []queue.DeadLetter{}}
	for _, q := range s.opt.Queues {
		st, err := q.Stats(ctx)
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, st)
		dead, err := q.DeadLetters(ctx, deadLettersShown)
		if err != nil {
			return nil, err
		}
		v.DeadLetters = append(v.DeadLetters, dead...)
	}
	return v, nil
}

func (s *Server) listQueues(c echo.Context) error {
	v, err := s.queuesView(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
