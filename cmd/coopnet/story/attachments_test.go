package story_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"testing"

	. "github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/tickets"
)

func pngPhoto(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		img.Set(w/2, y, color.RGBA{160, 20, 20, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// attachmentsOn are the attachments of a ticket as a member sees them.
func attachmentsOn(c *Coop, region, email, id string) []tickets.Attachment {
	return Must[struct {
		Items []tickets.Attachment `json:"items"`
	}](c.As(email).On(region).Do("GET", "/api/v1/tickets/"+id+"/attachments", nil), 200).Items
}

// TestAttachmentReachesTheOtherNode: a photo Jean attaches to the shared
// ticket reaches Marie's node (which keeps its files in an S3 bucket) with
// its comment, fetched with a signed GET, and Marie's PDF reaches Jean's
// (a folder); an internal comment's file stays home; a node the ticket is
// not shared with is served nothing.
func TestAttachmentReachesTheOtherNode(t *testing.T) {
	c := New(t, 0)
	jeanID, marieID := c.SharedTicket("Site web de l'école avec photos")
	photo := pngPhoto(t, 640, 480)
	Must[tickets.Comment](c.As(Jean).Upload("/api/v1/tickets/"+jeanID+"/attachments", map[string]string{"body": "La façade pour la page d'accueil"},
		map[string][]byte{"facade.png": photo}), 201)
	Must[tickets.Comment](c.As(Jean).Upload("/api/v1/tickets/"+jeanID+"/attachments", map[string]string{"internal": "true"},
		map[string][]byte{"tarif-interne.txt": []byte("notre marge")}), 201)
	var got tickets.Attachment
	WaitFor(t, "Jean's photo stored on Marie's node", func() bool {
		as := attachmentsOn(c, BZH, Marie, marieID)
		if len(as) == 1 && as[0].FetchState == tickets.FileStored {
			got = as[0]
			return true
		}
		return false
	})
	if got.Name != "facade.png" || got.ContentType != "image/png" || got.SizeBytes != int64(len(photo)) {
		t.Errorf("on Marie's node: %+v", got)
	}
	file := c.As(Marie).Get("/api/v1/tickets/" + marieID + "/attachments/" + got.ID)
	if file.Status != 200 || !bytes.Equal(file.Body, photo) {
		t.Fatalf("Marie downloads: %d, %d bytes", file.Status, len(file.Body))
	}
	if thumb := c.As(Marie).Get("/api/v1/tickets/" + marieID + "/attachments/" + got.ID + "/thumbnail"); thumb.Status != 200 {
		t.Errorf("Marie's thumbnail: %d", thumb.Status)
	}
	if cs := c.Comments(BZH, Marie, marieID); Count(cs, "La façade") != 1 {
		t.Errorf("Marie's comments: %q", cs)
	}
	// Marie's quote goes the other way.
	pdf := []byte("%PDF-1.7\n% devis\n%%EOF\n")
	Must[tickets.Comment](c.As(Marie).Upload("/api/v1/tickets/"+marieID+"/attachments", map[string]string{"body": "Le devis"},
		map[string][]byte{"devis.pdf": pdf}), 201)
	WaitFor(t, "Marie's quote stored on Jean's node", func() bool {
		for _, a := range attachmentsOn(c, BFC, Jean, jeanID) {
			if a.Name == "devis.pdf" && a.FetchState == tickets.FileStored {
				got = a
				return true
			}
		}
		return false
	})
	if f := c.As(Jean).Get("/api/v1/tickets/" + jeanID + "/attachments/" + got.ID); f.Status != 200 || !bytes.Equal(f.Body, pdf) {
		t.Errorf("Jean downloads the quote: %d %q", f.Status, f.Body)
	}
	// Only the two nodes of the ticket are served its files; the
	// internal comment's file is served to nobody, and Marie never has it.
	var mine []tickets.Attachment
	for _, a := range attachmentsOn(c, BFC, Jean, jeanID) {
		if a.Name != "devis.pdf" {
			mine = append(mine, a)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("Jean's own attachments: %+v", mine)
	}
	for _, a := range mine {
		for region, want := range map[string]int{IDF: 404, BZH: map[bool]int{true: 404, false: 200}[a.Name == "tarif-interne.txt"]} {
			req, _ := http.NewRequest(http.MethodGet, c.Node(BFC).URL+"/attachments/"+a.ID, nil)
			if err := c.Node(region).N.Fed.Sign(req, nil); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s asks for %s: %d, want %d", region, a.Name, resp.StatusCode, want)
			}
		}
		resp, err := http.Get(c.Node(BFC).URL + "/attachments/" + a.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an unsigned GET of %s: %d", a.Name, resp.StatusCode)
		}
	}
	if n := len(attachmentsOn(c, BZH, Marie, marieID)); n != 2 {
		t.Errorf("Marie's node has %d attachments, want 2 (the photo, her quote)", n)
	}
}
