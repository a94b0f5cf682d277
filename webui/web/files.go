package web

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/tickets"
)

// UploadRoutes are the routes that take files, and the largest body each
// takes for files of at most max bytes: every file a comment carries, and
// its text.
func UploadRoutes(max int64, paths ...string) map[string]int64 {
	out := map[string]int64{}
	for _, p := range paths {
		out[p] = int64(tickets.MaxAttachments)*max + MaxBodyBytes
	}
	return out
}

// Uploads keeps the files of a multipart form's field (Accept), each
// checked; on an error those already kept are discarded. A body too large
// is refused as such.
func Uploads(c echo.Context, ts *tickets.Service, field string) ([]*files.Stored, error) {
	form, err := c.MultipartForm()
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, apperr.New(apperr.TooLarge, "the files are larger than %d MB in all", mbe.Limit>>20)
	case errors.Is(err, http.ErrNotMultipart):
		return nil, nil
	case err != nil:
		return nil, apperr.New(apperr.BadRequest, "the form could not be read: %v", err)
	}
	hs := form.File[field]
	if len(hs) > tickets.MaxAttachments {
		var v apperr.Validation
		v.Reject(field, "file_count", "at most %d files at once", tickets.MaxAttachments)
		return nil, v.Err()
	}
	var kept []*files.Stored
	for _, h := range hs {
		if h.Size == 0 && h.Filename == "" {
			continue // the form's empty file input
		}
		k, err := accept(c, ts, field, h)
		if err != nil {
			ts.Discard(c.Request().Context(), kept)
			return nil, err
		}
		kept = append(kept, k)
	}
	return kept, nil
}

func accept(c echo.Context, ts *tickets.Service, field string, h *multipart.FileHeader) (*files.Stored, error) {
	f, err := h.Open()
	if err != nil {
		return nil, apperr.New(apperr.BadRequest, "the file %q could not be read", h.Filename)
	}
	defer f.Close()
	return ts.Accept(c.Request().Context(), field, h.Filename, f)
}

// ServeAttachment sends the file (or thumbnail) of the attachment :aid of
// ticket :id to the member who asks, if they may see the ticket: as a
// download, never shown by the browser in the page's origin (no sniffing,
// a sandbox), whatever it holds; its thumbnail (a JPEG the node made)
// inline. The API and the pages serve them so.
func ServeAttachment(c echo.Context, ts *tickets.Service, thumb bool) error {
	a, err := ts.Attachment(c.Request().Context(), ActorOf(c), c.Param("id"), c.Param("aid"))
	if err != nil {
		return err
	}
	f, err := ts.Open(c.Request().Context(), a, thumb)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store") // a client's photo: not kept by a shared browser after an erasure
	if thumb {
		h.Set(echo.HeaderContentType, "image/jpeg")
		h.Set("Content-Disposition", "inline")
	} else {
		h.Set(echo.HeaderContentType, a.ContentType)
		h.Set(echo.HeaderContentLength, strconv.FormatInt(a.SizeBytes, 10))
		h.Set("Content-Disposition", disposition(a.Name))
	}
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}

// disposition is a download's Content-Disposition with its name: plain
// ASCII for old clients, and the real name encoded (RFC 6266).
func disposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, name)
	encoded := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if ascii == name || encoded == "" {
		return mime.FormatMediaType("attachment", map[string]string{"filename": ascii})
	}
	return `attachment; filename="` + ascii + `"` + strings.TrimPrefix(encoded, "attachment")
}
