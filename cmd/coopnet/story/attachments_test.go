package story_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/files/filestest"
	"github.com/coopnet/coopnet/services/tickets"
)

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
	photo := filestest.PNG(t, 640, 480)
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
	// The job is over (Jean cancels it): Marie's copy lets its files go,
	// rows and bytes (her S3 bucket is empty); Jean's node keeps its own.
	v := c.Ticket(jeanID).Version
	c.API(BFC, "PATCH", "/api/v1/tickets/"+jeanID, Jean, map[string]any{"version": v, "status": "cancelled"}, 200)
	WaitFor(t, "the files gone from Marie's copy", func() bool { return len(attachmentsOn(c, BZH, Marie, marieID)) == 0 })
	bucket, err := files.Open(context.Background(), c.S3)
	if err != nil {
		t.Fatal(err)
	}
	// The bytes go once the rows' deletion has committed: wait for it.
	WaitFor(t, "Marie's bucket empty", func() bool {
		var left []string
		if err := bucket.List(context.Background(), func(key string, _ time.Time) error { left = append(left, key); return nil }); err != nil {
			t.Fatal(err)
		}
		return len(left) == 0
	})
	if n := len(attachmentsOn(c, BFC, Jean, jeanID)); n != 3 {
		t.Errorf("Jean's node has %d attachments after the job, want its 3", n)
	}
}

// TestRefusedFileKeepsItsComment: a file Jean's node will not take (a
// type it does not accept, a size over its limit, no digest) is recorded
// as lost with why, and its comment is kept; a Document served from
// elsewhere than the sender's /attachments/ refuses the activity.
func TestRefusedFileKeepsItsComment(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web de l'école, avec le devis")
	Must[tickets.Comment](c.As(Marie).Upload("/api/v1/tickets/"+marieID+"/attachments", map[string]string{"body": "Le devis"},
		map[string][]byte{"devis.pdf": []byte("%PDF-1.7\n%%EOF\n")}), 201)
	bfc := c.Node(BFC)
	var body string
	WaitFor(t, "Marie's comment with its file on Jean's node", func() bool {
		return bfc.N.DB.Raw("SELECT body FROM federation_inbox WHERE type = 'Create' AND state = 'applied' AND body LIKE '%devis.pdf%' LIMIT 1").
			Row().Scan(&body) == nil
	})
	again := func(suffix, content string, docs ...map[string]any) map[string]any {
		var act map[string]any
		if err := json.Unmarshal([]byte(body), &act); err != nil {
			t.Fatal(err)
		}
		note := act["object"].(map[string]any)
		act["id"], note["id"], note["content"] = act["id"].(string)+suffix, note["id"].(string)+suffix, content
		doc := note["attachment"].([]any)[0].(map[string]any)
		var list []any
		for i, d := range docs {
			m := map[string]any{}
			for k, v := range doc {
				m[k] = v
			}
			m["id"] = doc["id"].(string) + fmt.Sprintf("%s-%d", suffix, i)
			for k, v := range d {
				m[k] = v
			}
			list = append(list, m)
		}
		note["attachment"] = list
		return act
	}
	c.deliver(BZH, BFC, again("-refused", "Trois fichiers que Jean ne prendra pas",
		map[string]any{"name": "setup.exe", "mediaType": "application/octet-stream"},
		map[string]any{"size": 200 << 20},
		map[string]any{"sha256": nil}))
	var lost []tickets.Attachment
	WaitFor(t, "the comment on Jean's node, its files lost", func() bool {
		lost = nil
		for _, a := range attachmentsOn(c.Coop, BFC, Jean, jeanID) {
			if a.FetchState == tickets.FileDead {
				lost = append(lost, a)
			}
		}
		return len(lost) == 3
	})
	if cs := c.Comments(BFC, Jean, jeanID); Count(cs, "Trois fichiers") != 1 {
		t.Errorf("Jean's comments: %q", cs)
	}
	var why []string
	bfc.N.DB.Raw("SELECT last_error FROM ticket_attachments WHERE fetch_state = 'dead' ORDER BY last_error").Scan(&why)
	if got := strings.Join(why, " | "); !strings.Contains(got, "not a file type") || !strings.Contains(got, "limit") || !strings.Contains(got, "SHA-256") {
		t.Errorf("why the files were refused: %s", got)
	}
	// A Document served by another host: the activity is refused whole.
	act := again("-elsewhere", "Un fichier d'ailleurs", map[string]any{"url": c.Node(IDF).URL + "/attachments/x"})
	c.deliver(BZH, BFC, act)
	WaitFor(t, "the activity with a foreign file refused", func() bool {
		var state string
		_ = bfc.N.DB.Raw("SELECT state FROM federation_inbox WHERE activity_id = ?", act["id"]).Row().Scan(&state)
		return state == "failed"
	})
	if cs := c.Comments(BFC, Jean, jeanID); Count(cs, "Un fichier d'ailleurs") != 0 {
		t.Errorf("a comment with a foreign file was kept: %q", cs)
	}
}
