package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func sortStrings(s []string) { sort.Strings(s) }

// keyRe is the shape of the keys this package makes.
var keyRe = regexp.MustCompile(`^a/[0-9a-f-]{36}(\.thumb\.jpg)?$`)

func checkKey(key string) error {
	if !keyRe.MatchString(key) {
		return fmt.Errorf("files: %q is not a key of this store", key)
	}
	return nil
}

// Dir is a store in a folder of the node's disk (the default).
type Dir struct{ Root string }

// Name says where the folder is.
func (d Dir) Name() string { return "dir " + d.Root }

func (d Dir) path(key string) string { return filepath.Join(d.Root, filepath.FromSlash(key)) }

// Put writes the file whole or not at all: to a temporary file, synced,
// then renamed.
func (d Dir) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// Get opens a file.
func (d Dir) Get(_ context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// Delete removes a file.
func (d Dir) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := os.Remove(d.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// List walks the folder's files.
func (d Dir) List(ctx context.Context, f func(key string, modified time.Time) error) error {
	root := filepath.Join(d.Root, "a")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		key := "a/" + e.Name()
		if checkKey(key) != nil {
			return nil // not one of ours (a temporary file of a Put under way)
		}
		return f(key, info.ModTime())
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// S3 is a store in a bucket of an S3-compatible object store.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
	desc   string
}

// Name says which bucket of which server, without the credentials.
func (s *S3) Name() string { return s.desc }

// Open returns the store a URL names:
//
//	a folder: /var/lib/coopnet/files or file:///var/lib/coopnet/files
//	S3: s3://ACCESS_KEY:SECRET_KEY@host:port/bucket[/prefix][?region=…&tls=none]
//
// S3 goes over TLS unless ?tls=none (a store on the same machine or a
// private network); buckets are addressed by path, which every
// S3-compatible server understands. The bucket must exist.
func Open(ctx context.Context, raw string) (Store, error) {
	if !strings.Contains(raw, "://") {
		if raw == "" {
			return nil, errors.New("files: no store given")
		}
		return Dir{Root: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("files: %q is not a URL", raw)
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" {
			return nil, errors.New("files: file:// needs a path, e.g. file:///var/lib/coopnet/files")
		}
		return Dir{Root: u.Path}, nil
	case "s3":
	default:
		return nil, fmt.Errorf("files: %q: the store is a folder or s3://key:secret@host/bucket", u.Redacted())
	}
	bucket, prefix, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if u.Host == "" || bucket == "" {
		return nil, fmt.Errorf("files: %q: s3:// needs a host and a bucket, e.g. s3://key:secret@garage.local:3900/coopnet", u.Redacted())
	}
	secret, _ := u.User.Password()
	if u.User.Username() == "" || secret == "" {
		return nil, fmt.Errorf("files: %q: s3:// needs its access key and secret (s3://key:secret@host/bucket)", u.Redacted())
	}
	q := u.Query()
	for k := range q {
		if k != "region" && k != "tls" {
			return nil, fmt.Errorf("files: %q: unknown parameter %q (region, tls)", u.Redacted(), k)
		}
	}
	tls := true
	switch q.Get("tls") {
	case "", "required":
	case "none":
		tls = false
	default:
		return nil, fmt.Errorf("files: %q: tls is none or left out", u.Redacted())
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(u.User.Username(), secret, ""), Secure: tls,
		Region: q.Get("region"), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, fmt.Errorf("files: %s: %w", u.Host, err)
	}
	s := &S3{client: c, bucket: bucket, prefix: prefix, desc: "s3 " + u.Host + "/" + strings.Trim(u.Path, "/")}
	if ok, err := c.BucketExists(ctx, bucket); err != nil {
		return nil, fmt.Errorf("files: %s: %w", s.desc, err)
	} else if !ok {
		return nil, fmt.Errorf("files: %s: no bucket %q: create it first", s.desc, bucket)
	}
	return s, nil
}

func (s *S3) object(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Put uploads a file.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.object(key), r, size, minio.PutObjectOptions{ContentType: contentType})
	return err
}

// Get downloads a file, as it is read.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	o, err := s.client.GetObject(ctx, s.bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	// GetObject is lazy: Stat finds a missing object before a byte is served.
	if _, err := o.Stat(); err != nil {
		o.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return o, nil
}

// List walks the bucket's files (under the store's prefix).
func (s *S3) List(ctx context.Context, f func(key string, modified time.Time) error) error {
	prefix := s.object("a/")
	ctx, cancel := context.WithCancel(ctx) // stops the listing if f fails
	defer cancel()
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		key := "a/" + strings.TrimPrefix(o.Key, prefix)
		if checkKey(key) != nil {
			continue
		}
		if err := f(key, o.LastModified); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Delete removes a file.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.client.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{})
}
