package files_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/files/filestest"
)

// stores are the stores under test: a folder, and an S3 bucket served over
// HTTP by an S3-protocol server in the test process.
func stores(t *testing.T) map[string]files.Store {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("coopnet"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s3, err := files.Open(context.Background(), "s3://KEY:SECRET@"+strings.TrimPrefix(srv.URL, "http://")+"/coopnet/bfc?tls=none&region=garage")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := files.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]files.Store{"dir": dir, "s3": s3}
}

func read(t *testing.T, st files.Store, key string) []byte {
	t.Helper()
	r, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func reason(err error) string {
	if ae, ok := err.(*apperr.Error); ok {
		for _, r := range ae.Reasons {
			return r.Code
		}
	}
	return ""
}

func TestAcceptKeepsAndRefuses(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			photo := filestest.PNG(t, 1200, 800)
			s, err := files.Accept(ctx, st, "file", `C:\Users\jean\Imprimante cassée.PNG`, bytes.NewReader(photo), 0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "Imprimante cassée.PNG" || s.ContentType != "image/png" || s.Size != int64(len(photo)) || len(s.SHA256) != 64 || s.ThumbKey == "" {
				t.Fatalf("stored %+v", s)
			}
			if !bytes.Equal(read(t, st, s.Key), photo) {
				t.Error("the file read back differs")
			}
			thumb, err := jpeg.DecodeConfig(bytes.NewReader(read(t, st, s.ThumbKey)))
			if err != nil || thumb.Width != files.ThumbSize || thumb.Height != 213 {
				t.Errorf("thumbnail %+v %v, want 320×213", thumb, err)
			}
			pdf := []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
			p, err := files.Accept(ctx, st, "file", "devis.pdf", bytes.NewReader(pdf), 0)
			if err != nil || p.ThumbKey != "" || p.ContentType != "application/pdf" {
				t.Fatalf("pdf: %+v %v", p, err)
			}
			files.Discard(ctx, st, p)
			if _, err := st.Get(ctx, p.Key); err != files.ErrNotFound {
				t.Errorf("after Discard: %v", err)
			}
			for _, c := range []struct {
				name, body, reason string
				max                int64
			}{
				{"page.html", "<html><script>alert(1)</script>", "file_type", 0},
				{"photo.jpg", "<html><script>alert(1)</script>", "file_mismatch", 0},
				{"devis.pdf", string(photo), "file_mismatch", 0},
				{"photo.png", string(photo), "file_too_large", 1000},
				{"vide.txt", "", "file_empty", 0},
				{"", "x", "file_required", 0},
				{"faux.png", "\x89PNG\r\n\x1a\n" + strings.Repeat("x", 100), "file_image", 0},
			} {
				_, err := files.Accept(ctx, st, "file", c.name, strings.NewReader(c.body), c.max)
				if reason(err) != c.reason {
					t.Errorf("%s: %v (reason %q), want %s", c.name, err, reason(err), c.reason)
				}
			}
			if _, err := st.Get(ctx, "a/../../etc/passwd"); err == nil {
				t.Error("a key out of the store's shape was read")
			}
			listed := map[string]bool{}
			if err := st.List(ctx, func(key string, at time.Time) error {
				if time.Since(at) > time.Hour || at.After(time.Now().Add(time.Minute)) {
					t.Errorf("%s written at %v", key, at)
				}
				listed[key] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(listed) != 2 || !listed[s.Key] || !listed[s.ThumbKey] {
				t.Errorf("listed %v, want the photo and its thumbnail", listed)
			}
		})
	}
}

// TestDecompressionBomb: a small PNG claiming a picture of a billion
// pixels is refused before it is decoded.
func TestDecompressionBomb(t *testing.T) {
	b := filestest.PNG(t, 4, 4)
	// The IHDR chunk's width and height (bytes 16–23), made 40000×40000;
	// the CRC no longer matches, but DecodeConfig reads the header first.
	copy(b[16:24], []byte{0, 0, 0x9c, 0x40, 0, 0, 0x9c, 0x40})
	_, err := files.Accept(context.Background(), files.Dir{Root: t.TempDir()}, "file", "bomb.png", bytes.NewReader(b), 0)
	if reason(err) != "file_image" {
		t.Fatalf("a 40000×40000 PNG: %v", err)
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://host/bucket", "s3://host/bucket", "s3://k:s@host", "s3://k:s@host/b?tls=maybe",
		"s3://k:s@host/b?acl=public", "file://"} {
		if _, err := files.Open(context.Background(), u); err == nil {
			t.Errorf("%q was accepted", u)
		} else if strings.Contains(err.Error(), ":s@") {
			t.Errorf("%q: the error shows the secret: %v", u, err)
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\a\b.txt`: "b.txt", "a\x00b\".pdf": "ab.pdf", "  rapport.odt ": "rapport.odt",
		strings.Repeat("é", 300) + ".pdf": strings.Repeat("é", 196) + ".pdf", "/": "", "..": "",
		"a." + strings.Repeat("b", 300): "a." + strings.Repeat("b", 198), // an "extension" of 300: none, and the name cut
		strings.Repeat("x", 250):        strings.Repeat("x", 200),
	} {
		if got := files.CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
