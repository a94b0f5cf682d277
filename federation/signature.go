package federation

import (
	"net/http"
	"time"

	"github.com/coopnet/coopnet/federation/sign"
)

// Sign signs a request to a peer as this node's actor, as every request
// coopnet sends: Date (now), Host, and for a body (a POST) its Digest.
// For tools and tests that talk to peers as the node does.
func (s *Service) Sign(r *http.Request, body []byte) error {
	kp, err := s.keys.Get(r.Context(), "node")
	if err != nil {
		return err
	}
	return sign.Request(r, kp, s.NodeActor()+"#main-key", body, time.Now())
}
