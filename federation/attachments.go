// Files attached to the comments of shared tickets: served to the other
// node of the ticket with a signed GET, and fetched from it the same way.

package federation

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/transport"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/tickets"
)

// getAttachment serves the file of a public comment's attachment to the
// other node of its shared ticket (a signed GET); others learn nothing,
// not even that it exists.
func (s *Service) getAttachment(c echo.Context) error {
	r := c.Request()
	if r.Header.Get("Signature") == "" {
		return apperr.New(apperr.Unauthorised, "a file is served to a signed request of the node its ticket is shared with")
	}
	host, err := s.transport.VerifyRequest(r, nil)
	if err != nil {
		return err
	}
	notFound := apperr.NotFoundf("no file %q shared with %s", c.Param("id"), host)
	if s.tickets == nil {
		return notFound
	}
	ctx := r.Context()
	a, t, err := s.tickets.ForPeer(ctx, c.Param("id"))
	if apperr.CodeOf(err) == apperr.NotFound {
		return notFound
	}
	if err != nil {
		return err
	}
	if !s.sharedWith(t, host) {
		return notFound
	}
	f, err := s.tickets.Open(ctx, a, false)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, a.ContentType)
	h.Set(echo.HeaderContentLength, strconv.FormatInt(a.SizeBytes, 10))
	h.Set("Content-Disposition", "attachment")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}

// sharedWith reports whether the node at host is the other node of ticket
// t: its assignee's, when this node tracks it; its tracker, when this
// node holds a copy.
func (s *Service) sharedWith(t *tickets.Ticket, host string) bool {
	if t.OriginRegion == s.cfg.Region {
		return handleHost(t.AssigneeHandle) == host
	}
	return hostOf(t.APID) == host
}

// fetchFile is how the tickets service gets a peer's file.
func (s *Service) fetchFile(ctx context.Context, url string) (io.ReadCloser, error) {
	body, err := s.transport.FetchFile(ctx, url)
	if errors.Is(err, transport.ErrRefused) {
		return nil, tickets.Permanent{Err: err}
	}
	return body, err
}

// noteFiles reads the Documents attached to a Note: each served by the
// sender's node at its own /attachments/ address, over the scheme this
// node knows it by (no file fetched in clear from a peer that is on https).
func (s *Service) noteFiles(o map[string]any, sender string) ([]tickets.RemoteFile, error) {
	base, ok := s.baseOf(sender)
	if !ok {
		return nil, apperr.New(apperr.Forbidden, "%s is not a peer", sender)
	}
	var docs []any
	switch v := o["attachment"].(type) {
	case nil:
		return nil, nil
	case []any:
		docs = v
	case map[string]any:
		docs = []any{v}
	default:
		return nil, apperr.New(apperr.Invalid, "attachment is neither a Document nor a list of them")
	}
	out := make([]tickets.RemoteFile, 0, len(docs))
	for i, d := range docs {
		m, ok := d.(map[string]any)
		if !ok || m["type"] != "Document" {
			return nil, apperr.New(apperr.Invalid, "attachment %d is not a Document", i)
		}
		f := tickets.RemoteFile{APID: doc.IDOf(m["id"]), URL: doc.IDOf(m["url"])}
		f.Name, _ = str(m, "name")
		f.ContentType, _ = str(m, "mediaType")
		f.SHA256, _ = str(m, "sha256")
		size, ok := num(m, "size")
		if !ok {
			return nil, apperr.New(apperr.Invalid, "attachment %d has no whole size", i)
		}
		f.Size = int64(size)
		if f.APID == "" || hostOf(f.APID) != sender || !strings.HasPrefix(f.URL, base+"/attachments/") {
			return nil, apperr.New(apperr.Forbidden, "attachment %d is not served by %s at %s/attachments/", i, sender, base)
		}
		out = append(out, f)
	}
	return out, nil
}
