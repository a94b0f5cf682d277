// Package files keeps the files people attach to tickets: one Store
// interface, a folder on the node's disk by default and any S3-compatible
// object store in production (Garage, SeaweedFS, MinIO…); Accept checks
// what comes in (its size, its real type, not the one it claims) and makes
// the thumbnail of an image.
package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	_ "image/gif" // thumbnails of GIF images
	_ "image/png" // and of PNG

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // and of WebP, as phones send them

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// ErrNotFound is a key the store does not hold.
var ErrNotFound = errors.New("files: no such file")

// Store keeps files by key. Keys are made by this package ("a/" and a new
// id): no path of a person's choosing reaches a store.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens a file; ErrNotFound when there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes a file; one that is not there is no error.
	Delete(ctx context.Context, key string) error
	// List calls f with each file's key and when it was written.
	List(ctx context.Context, f func(key string, modified time.Time) error) error
	// Name says what the store is, for the logs ("dir /var/lib/…", "s3 …").
	Name() string
}

// DefaultMaxBytes is the largest file accepted unless the node says
// otherwise: a phone's photo, a scanned quote.
const DefaultMaxBytes = 10 << 20

// ThumbSize is the longest side of a thumbnail, in pixels.
const ThumbSize = 320

// maxPixels bounds the images decoded for a thumbnail: a small file can
// claim a huge picture (a decompression bomb). 20 million pixels is a
// phone's photo; decoded as RGBA, 80 MB.
const maxPixels = 20_000_000

// decoding admits two image decodes at a time: a few large photos sent at
// once must not take the node's memory.
var decoding = make(chan struct{}, 2)

// The types accepted, by the extension a name ends with: what a
// technician attaches (photos, PDF, text, office documents). A file is
// accepted when what its bytes are agrees with its name's extension.
var types = map[string]struct{ contentType, sniffed string }{
	"jpg":  {"image/jpeg", "image/jpeg"},
	"jpeg": {"image/jpeg", "image/jpeg"},
	"png":  {"image/png", "image/png"},
	"gif":  {"image/gif", "image/gif"},
	"webp": {"image/webp", "image/webp"},
	"pdf":  {"application/pdf", "application/pdf"},
	"txt":  {"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
	"log":  {"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
	"csv":  {"text/csv; charset=utf-8", "text/plain; charset=utf-8"},
	"odt":  {"application/vnd.oasis.opendocument.text", "application/zip"},
	"ods":  {"application/vnd.oasis.opendocument.spreadsheet", "application/zip"},
	"odp":  {"application/vnd.oasis.opendocument.presentation", "application/zip"},
	"docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"},
	"xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip"},
	"pptx": {"application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/zip"},
}

// Extensions lists the extensions accepted (for the form's accept= and the
// error message).
func Extensions() []string {
	out := make([]string, 0, len(types))
	for ext := range types {
		out = append(out, "."+ext)
	}
	sortStrings(out)
	return out
}

// ContentTypeOf is the type a file of that name is stored and served as,
// if it is one accepted.
func ContentTypeOf(name string) (string, bool) {
	t, ok := types[ext(name)]
	return t.contentType, ok
}

func ext(name string) string {
	e := strings.ToLower(path.Ext(name))
	return strings.TrimPrefix(e, ".")
}

// Stored is a file Accept kept: its key and its thumbnail's, in the store.
type Stored struct {
	Key         string
	ThumbKey    string // "" when it is not an image
	Name        string
	ContentType string
	Size        int64
	SHA256      string
}

// CleanName is a file's name as shown and sent back: its last path
// element, without control characters, at most 200 characters.
func CleanName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(strings.TrimSpace(name))
	var b strings.Builder
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '"' || (r >= 0x80 && r < 0xa0) {
			continue
		}
		b.WriteRune(r)
	}
	name = b.String()
	// At most 200 characters, the extension kept (a name whose
	// "extension" is itself long has none: no type accepted has one).
	e := path.Ext(name)
	if utf8.RuneCountInString(e) > 16 {
		e = ""
	}
	if base := []rune(strings.TrimSuffix(name, e)); len(base)+utf8.RuneCountInString(e) > 200 {
		name = string(base[:max(0, 200-utf8.RuneCountInString(e))]) + e
	}
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	return name
}

// Accept reads a file of that name, up to max bytes, checks that it is of
// a type accepted and that its bytes are what its name says, and keeps it
// (with a thumbnail for an image) in st. A refusal is a validation error of
// field (the form's).
func Accept(ctx context.Context, st Store, field, name string, r io.Reader, max int64) (*Stored, error) {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	invalid := func(code, format string, args ...any) error {
		var v apperr.Validation
		v.Reject(field, code, format, args...)
		return v.Err()
	}
	name = CleanName(name)
	t, ok := types[ext(name)]
	switch {
	case name == "":
		return nil, invalid("file_required", "a file is required")
	case !ok:
		return nil, invalid("file_type", "%q is not a type accepted: %s", name, strings.Join(Extensions(), ", "))
	}
	// Spooled to a temporary file: neither held in memory nor put in the
	// store before it is known good.
	tmp, err := os.CreateTemp("", "coopnet-upload-*")
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, invalid("file_too_large", "is larger than %d MB", max>>20)
		}
		return nil, fmt.Errorf("files: read %s: %w", name, err)
	}
	switch {
	case n > max:
		return nil, invalid("file_too_large", "is larger than %d MB", max>>20)
	case n == 0:
		return nil, invalid("file_empty", "%q is empty", name)
	}
	head := make([]byte, 512)
	k, _ := tmp.ReadAt(head, 0)
	sniffed := http.DetectContentType(head[:k])
	if sniffed != t.sniffed && !(t.sniffed == "text/plain; charset=utf-8" && strings.HasPrefix(sniffed, "text/plain")) {
		return nil, invalid("file_mismatch", "%q is not what its name says (its content is %s)", name, sniffed)
	}
	s := &Stored{Key: "a/" + storage.NewID(), Name: name, ContentType: t.contentType, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	var thumb []byte
	if strings.HasPrefix(t.contentType, "image/") {
		if thumb, err = thumbnail(tmp); err != nil {
			return nil, invalid("file_image", "%q is not an image that can be read: %v", name, err)
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	if err := st.Put(ctx, s.Key, tmp, n, t.contentType); err != nil {
		return nil, fmt.Errorf("files: keep %s: %w", name, err)
	}
	if thumb != nil {
		s.ThumbKey = s.Key + ".thumb.jpg"
		if err := st.Put(ctx, s.ThumbKey, bytes.NewReader(thumb), int64(len(thumb)), "image/jpeg"); err != nil {
			_ = st.Delete(ctx, s.Key)
			return nil, fmt.Errorf("files: keep the thumbnail of %s: %w", name, err)
		}
	}
	return s, nil
}

// Discard deletes what Accept kept (a transaction that was to record it
// failed).
func Discard(ctx context.Context, st Store, s *Stored) {
	if s == nil {
		return
	}
	_ = st.Delete(ctx, s.Key)
	if s.ThumbKey != "" {
		_ = st.Delete(ctx, s.ThumbKey)
	}
}

// thumbnail is a JPEG of the image in f, its longest side ThumbSize.
func thumbnail(f io.ReadSeeker) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("%d×%d pixels", cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	decoding <- struct{}{}
	defer func() { <-decoding }()
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, err
	}
	w, h := cfg.Width, cfg.Height
	if w > ThumbSize || h > ThumbSize {
		if w >= h {
			w, h = ThumbSize, max(1, h*ThumbSize/w)
		} else {
			w, h = max(1, w*ThumbSize/h), ThumbSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src) // transparency on white
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
