package webui_test

import (
	"bytes"
	"context"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/files/filestest"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

type part struct{ field, name, body string }

// multipartBody is a form with text fields and files.
func multipartBody(t *testing.T, parts ...part) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		var err error
		var fw io.Writer
		if p.name == "" {
			fw, err = w.CreateFormField(p.field)
		} else {
			fw, err = w.CreateFormFile(p.field, p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(p.body))
	}
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// TestAttachments: files attached to a comment through the API and the
// page are kept, listed, served as downloads that the browser never runs
// (images with a thumbnail), refused when they are not what they say or too
// large, hidden from whoever may not see the ticket, and erased with the
// client — on both databases.
func TestAttachments(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		client := r.newClient("technician")
		tk := r.newTicket("technician", client)
		img := filestest.PNG(t, 800, 600)
		body, ct := multipartBody(t, part{"body", "", "L'imprimante de la salle 2"}, part{"file", "imprimante.png", string(img)},
			part{"file", "devis.pdf", "%PDF-1.4\n%%EOF\n"})
		res := r.doCT("POST", "/api/v1/tickets/"+tk.ID+"/attachments", "technician", body, ct)
		if res.Status != 201 {
			t.Fatalf("upload: %d %s", res.Status, res.Body)
		}
		cm := res.json(t)
		atts, _ := cm["attachments"].([]any)
		if len(atts) != 2 || cm["body"] != "L'imprimante de la salle 2" {
			t.Fatalf("the comment: %s", res.Body)
		}
		png0 := atts[0].(map[string]any)
		if png0["name"] != "imprimante.png" || png0["content_type"] != "image/png" || png0["size_bytes"] != float64(len(img)) || png0["state"] != "stored" {
			t.Errorf("the attachment: %v", png0)
		}
		list := r.must(200, "GET", "/api/v1/tickets/"+tk.ID+"/attachments", "technician", nil)
		if items, _ := list["items"].([]any); len(items) != 2 {
			t.Errorf("list: %v", list)
		}
		comments := r.must(200, "GET", "/api/v1/tickets/"+tk.ID+"/comments", "technician", nil)
		if items, _ := comments["items"].([]any); len(items) != 1 || len(items[0].(map[string]any)["attachments"].([]any)) != 2 {
			t.Errorf("comments: %v", comments)
		}
		fileURL := "/api/v1/tickets/" + tk.ID + "/attachments/" + png0["id"].(string)
		got := r.do("GET", fileURL, "technician", nil)
		if got.Status != 200 || !bytes.Equal(got.Body, img) || got.Header.Get("Content-Type") != "image/png" ||
			got.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(got.Header.Get("Content-Disposition"), "attachment") ||
			!strings.Contains(got.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("download: %d %v", got.Status, got.Header)
		}
		thumb := r.do("GET", fileURL+"/thumbnail", "technician", nil)
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(thumb.Body)); thumb.Status != 200 || err != nil || cfg.Width != 320 || cfg.Height != 240 {
			t.Errorf("thumbnail: %d %v %+v", thumb.Status, err, cfg)
		}
		pdfURL := "/api/v1/tickets/" + tk.ID + "/attachments/" + atts[1].(map[string]any)["id"].(string)
		if res := r.do("GET", pdfURL+"/thumbnail", "technician", nil); res.Status != 404 {
			t.Errorf("a PDF's thumbnail: %d", res.Status)
		}
		// Another technician learns nothing; staff see it.
		for who, want := range map[string]int{"other": 404, "staff": 200, "": 401} {
			if res := r.do("GET", fileURL, who, nil); res.Status != want {
				t.Errorf("%q downloads: %d, want %d", who, res.Status, want)
			}
		}
		if res := r.doCT("POST", "/api/v1/tickets/"+tk.ID+"/attachments", "other", body, ct); res.Status != 404 {
			t.Errorf("another technician uploads: %d", res.Status)
		}
		// Refused, and nothing changes.
		before := r.count("ticket_attachments")
		for name, c := range map[string]struct {
			parts  []part
			status int
			field  string
		}{
			"html as a photo":  {[]part{{"file", "photo.jpg", "<html><script>alert(1)</script></html>"}}, 422, "file"},
			"an executable":    {[]part{{"file", "setup.exe", "MZ\x90\x00"}}, 422, "file"},
			"no file":          {[]part{{"body", "", "rien"}}, 422, "file"},
			"six files":        {[]part{{"file", "1.txt", "a"}, {"file", "2.txt", "a"}, {"file", "3.txt", "a"}, {"file", "4.txt", "a"}, {"file", "5.txt", "a"}, {"file", "6.txt", "a"}}, 422, "file"},
			"internal=maybe":   {[]part{{"file", "a.txt", "a"}, {"internal", "", "maybe"}}, 422, "internal"},
			"too large a file": {[]part{{"file", "big.txt", strings.Repeat("a", 2<<20+1)}}, 422, "file"},
		} {
			b, ct := multipartBody(t, c.parts...)
			res := r.doCT("POST", "/api/v1/tickets/"+tk.ID+"/attachments", "technician", b, ct)
			if res.Status != c.status || !strings.Contains(string(res.Body), `"`+c.field+`"`) {
				t.Errorf("%s: %d %s, want %d naming %s", name, res.Status, res.Body, c.status, c.field)
			}
		}
		if res := r.doCT("POST", "/api/v1/tickets/"+tk.ID+"/attachments", "technician", strings.Repeat("a", 12<<20), "multipart/form-data; boundary=x"); res.Status != 413 {
			t.Errorf("a body over the limit: %d %s", res.Status, res.Body)
		}
		if n := r.count("ticket_attachments"); n != before {
			t.Errorf("refused uploads left %d rows", n-before)
		}
		// The page: a comment with a file, shown with its thumbnail.
		b := newBrowser(t, r.srv.URL)
		_, page, _ := b.get("/app/login")
		if code, _, _ := b.post("/app/login", url.Values{"_csrf": {csrfOf(t, page)}, "email": {"jean@bfc.test"}, "password": {testPassword}}); code != http.StatusSeeOther {
			t.Fatalf("login: %d", code)
		}
		_, page, _ = b.get("/app/tickets/" + tk.ID)
		if !strings.Contains(page, `enctype="multipart/form-data"`) || !strings.Contains(page, `/attachments/`+png0["id"].(string)+`/thumb" alt="imprimante.png"`) {
			t.Errorf("the ticket page does not show the photo:\n%s", page)
		}
		form, fct := multipartBody(t, part{"_csrf", "", csrfOf(t, page)}, part{"body", "", ""}, part{"files", "notes.txt", "RAS après redémarrage\n"})
		code, resp := b.postRaw("/app/tickets/"+tk.ID+"/comments", form, fct)
		if code != http.StatusSeeOther {
			t.Fatalf("the page's upload: %d\n%s", code, resp)
		}
		form, fct = multipartBody(t, part{"_csrf", "", csrfOf(t, page)}, part{"body", "", "voir pièce jointe"}, part{"files", "photo.jpg", "pas une photo"})
		code, resp = b.postRaw("/app/tickets/"+tk.ID+"/comments", form, fct)
		if code != 422 || !strings.Contains(resp, `aria-invalid="true"`) || !strings.Contains(resp, "n&#39;est pas ce que son nom indique") ||
			!strings.Contains(resp, "voir pièce jointe") {
			t.Errorf("a bad file on the page: %d\n%s", code, resp)
		}
		_, page, _ = b.get("/app/tickets/" + tk.ID)
		if !strings.Contains(page, "<span>notes.txt</span>") {
			t.Errorf("the text file is not on the page")
		}
		// A file no attachment names (a crash between it and its comment)
		// is swept once an hour old; a newer one, and the named ones, stay.
		root := r.opt.Tickets.Files().(files.Dir).Root
		orphan, fresh := filepath.Join(root, "a", storage.NewID()), filepath.Join(root, "a", storage.NewID())
		for _, f := range []string{orphan, fresh} {
			if err := os.WriteFile(f, []byte("lost"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		hours := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(orphan, hours, hours); err != nil {
			t.Fatal(err)
		}
		if n, err := r.opt.Tickets.SweepFiles(context.Background(), time.Hour); err != nil || n != 1 {
			t.Errorf("swept %d files (%v), want the orphan", n, err)
		}
		if _, err := os.Stat(orphan); !os.IsNotExist(err) {
			t.Errorf("the orphan is still there: %v", err)
		}
		if res := r.do("GET", fileURL, "technician", nil); res.Status != 200 {
			t.Errorf("a named file after the sweep: %d", res.Status)
		}
		os.Remove(fresh)
		// Erased with the client: rows and files.
		keys := r.count("ticket_attachments")
		if keys != 3 {
			t.Fatalf("%d attachments, want 3", keys)
		}
		ts := r.opt.Tickets
		a, err := ts.Attachment(context.Background(), members.Actor{}, tk.ID, png0["id"].(string))
		if err == nil || a != nil {
			t.Fatalf("nobody's actor read an attachment")
		}
		if err := r.db.WithTx(context.Background(), func(ctx context.Context, _ *gorm.DB) error {
			_, err := ts.EraseClient(ctx, client)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := r.count("ticket_attachments"); n != 0 {
			t.Errorf("%d attachments after the erasure", n)
		}
		if res := r.do("GET", fileURL, "staff", nil); res.Status != 404 {
			t.Errorf("a file after the erasure: %d", res.Status)
		}
		left, err := os.ReadDir(filepath.Join(r.opt.Tickets.Files().(files.Dir).Root, "a"))
		if err != nil || len(left) != 0 {
			t.Errorf("files left in the store after the erasure: %v %v", left, err)
		}
	})
}

// postRaw posts a body of a content type (a multipart form).
func (b *browser) postRaw(path string, body []byte, contentType string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Post(b.base+path, contentType, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
