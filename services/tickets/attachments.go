// Files attached to comments: kept in the node's file store (services/
// files), described here; those of another node's comments fetched from
// it with a signed GET, through a durable queue.

package tickets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
)

// The states of an attachment's file on this node.
const (
	FileStored  = "stored"  // here, in the file store
	FilePending = "pending" // another node's, to fetch
	FileDead    = "dead"    // could not be fetched, given up
)

// MaxAttachments is how many files one comment carries.
const MaxAttachments = 5

// Attachment is a file that came with a comment.
type Attachment struct {
	ID            string     `json:"id" gorm:"primaryKey"`
	TicketID      string     `json:"ticket_id"`
	CommentID     string     `json:"comment_id"`
	Name          string     `json:"name"`
	ContentType   string     `json:"content_type"`
	SizeBytes     int64      `json:"size_bytes"`
	SHA256        string     `json:"sha256" gorm:"column:sha256"`
	StorageKey    *string    `json:"-"`
	ThumbKey      *string    `json:"-"`
	APID          string     `json:"-" gorm:"column:ap_id"`
	SourceURL     *string    `json:"-"`
	FetchState    string     `json:"state"`
	Attempts      int        `json:"-"`
	LastError     string     `json:"-"`
	NextAttemptAt *time.Time `json:"-"`
	LeaseUntil    *time.Time `json:"-"`
	CreatedAt     time.Time  `json:"created_at"`
}

// TableName maps Attachment to its table.
func (Attachment) TableName() string { return "ticket_attachments" }

// Image reports whether the attachment has a thumbnail to show.
func (a *Attachment) Image() bool { return a.ThumbKey != nil }

// Ready reports whether its file is here to be served.
func (a *Attachment) Ready() bool { return a.FetchState == FileStored && a.StorageKey != nil }

// fetchSpec is the queue of the files to fetch from other nodes.
var fetchSpec = queue.Spec{Topic: "attachment_fetches", Table: "ticket_attachments",
	Due: "fetch_state = 'pending' AND next_attempt_at <= ?", Waiting: "fetch_state = 'pending' AND next_attempt_at > ?",
	Leases: true, Dead: "fetch_state = 'dead'", Order: "next_attempt_at, id",
	What: "content_type", Error: "last_error", At: "created_at"}

// FetchQueue is the queue of the files to fetch from other nodes.
func (s *Service) FetchQueue() *queue.Queue { return s.fetchQ }

// AttachmentAPID is the ActivityPub id (and the address for peers) of an
// attachment of this node.
func (s *Service) AttachmentAPID(id string) string { return s.cfg.PublicURL + "/attachments/" + id }

// Files is the node's file store (nil: attachments are off).
func (s *Service) Files() files.Store { return s.cfg.Files }

// MaxFileBytes is the largest file accepted.
func (s *Service) MaxFileBytes() int64 { return s.cfg.MaxFileBytes }

var errNoFiles = apperr.New(apperr.Unavailable, "attachments are not enabled on this node (no file store)")

// Accept keeps a file uploaded for a comment (files.Accept): the caller
// passes what it returns to CommentWithFiles, or Discards it.
func (s *Service) Accept(ctx context.Context, field, name string, r io.Reader) (*files.Stored, error) {
	if s.cfg.Files == nil {
		return nil, errNoFiles
	}
	return files.Accept(ctx, s.cfg.Files, field, name, r, s.cfg.MaxFileBytes)
}

// Discard deletes files kept by Accept that no comment took.
func (s *Service) Discard(ctx context.Context, kept []*files.Stored) {
	for _, k := range kept {
		files.Discard(context.WithoutCancel(ctx), s.cfg.Files, k)
	}
}

// CommentWithFiles adds a comment with files kept by Accept; the body may
// be empty when there are files. On an error the files are the caller's
// to Discard.
func (s *Service) CommentWithFiles(ctx context.Context, by members.Actor, ticketID, body string, internal bool, kept []*files.Stored) (*Comment, error) {
	if len(kept) > MaxAttachments {
		var v apperr.Validation
		v.Add("file", fmt.Sprintf("at most %d files in one comment", MaxAttachments))
		return nil, v.Err()
	}
	return s.addComment(ctx, by, ticketID, body, internal, kept)
}

// attachmentsOf fills in the attachments of comments (one query).
func (s *Service) attachmentsOf(ctx context.Context, cs []*Comment) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	byID := make(map[string]*Comment, len(cs))
	for i, c := range cs {
		ids[i], byID[c.ID] = c.ID, c
		c.Attachments = []*Attachment{}
	}
	var as []*Attachment
	if err := s.db.Conn(ctx).Where("comment_id IN ?", ids).Order("comment_id, id").Find(&as).Error; err != nil {
		return fmt.Errorf("tickets: attachments: %w", err)
	}
	for _, a := range as {
		a.CreatedAt = a.CreatedAt.UTC()
		byID[a.CommentID].Attachments = append(byID[a.CommentID].Attachments, a)
	}
	return nil
}

// Attachments lists the attachments of a ticket the actor may see, in the
// order they came.
func (s *Service) Attachments(ctx context.Context, by members.Actor, ticketID string) ([]*Attachment, error) {
	t, err := s.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	q := s.db.Conn(ctx).Where("ticket_id = ?", t.ID)
	// An internal comment's files are seen as it is: by the node's
	// members who see the ticket (they never leave it).
	as := []*Attachment{}
	if err := q.Order("id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("tickets: attachments of %s: %w", ticketID, err)
	}
	return as, nil
}

// Attachment returns one attachment of a ticket the actor may see.
func (s *Service) Attachment(ctx context.Context, by members.Actor, ticketID, id string) (*Attachment, error) {
	t, err := s.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	var a Attachment
	if !storage.ValidID(id) {
		return nil, apperr.NotFoundf("no attachment %q", id)
	}
	err = s.db.Conn(ctx).Where("id = ? AND ticket_id = ?", id, t.ID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("no attachment %q on ticket %s", id, ticketID)
	}
	if err != nil {
		return nil, fmt.Errorf("tickets: attachment %s: %w", id, err)
	}
	return &a, nil
}

// ForPeer returns an attachment of this node by id, with its ticket, for
// the other node of its shared ticket (federation checks who asks); an
// internal comment's files are never served.
func (s *Service) ForPeer(ctx context.Context, id string) (*Attachment, *Ticket, error) {
	var a Attachment
	notFound := apperr.NotFoundf("no attachment %q", id)
	if !storage.ValidID(id) {
		return nil, nil, notFound
	}
	err := s.db.Conn(ctx).Where("id = ? AND source_url IS NULL", id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tickets: attachment %s: %w", id, err)
	}
	var c Comment
	if err := s.db.Conn(ctx).Select("internal").Where("id = ?", a.CommentID).Take(&c).Error; err != nil {
		return nil, nil, fmt.Errorf("tickets: attachment %s: %w", id, err)
	}
	if c.Internal {
		return nil, nil, notFound
	}
	t, err := s.ByID(ctx, a.TicketID)
	if err != nil {
		return nil, nil, err
	}
	return &a, t, nil
}

// Open opens an attachment's file, or its thumbnail.
func (s *Service) Open(ctx context.Context, a *Attachment, thumb bool) (io.ReadCloser, error) {
	if s.cfg.Files == nil {
		return nil, errNoFiles
	}
	key := a.StorageKey
	if thumb {
		key = a.ThumbKey
	}
	if !a.Ready() || key == nil {
		return nil, apperr.NotFoundf("the file of %q is not here (yet)", a.Name)
	}
	r, err := s.cfg.Files.Get(ctx, *key)
	if errors.Is(err, files.ErrNotFound) {
		return nil, apperr.NotFoundf("the file of %q is missing from the store", a.Name)
	}
	return r, err
}

// insertAttachments records the files kept for a new comment, inside its
// transaction.
func (s *Service) insertAttachments(tx *gorm.DB, c *Comment, kept []*files.Stored) error {
	for _, k := range kept {
		id := storage.NewID()
		a := &Attachment{ID: id, TicketID: c.TicketID, CommentID: c.ID, Name: k.Name, ContentType: k.ContentType,
			SizeBytes: k.Size, SHA256: k.SHA256, StorageKey: &k.Key, APID: s.AttachmentAPID(id), FetchState: FileStored,
			CreatedAt: c.CreatedAt}
		if k.ThumbKey != "" {
			a.ThumbKey = &k.ThumbKey
		}
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		c.Attachments = append(c.Attachments, a)
	}
	return nil
}

// RemoteFile is a file of another node's comment, as its Document says.
type RemoteFile struct {
	APID, URL, Name, ContentType, SHA256 string
	Size                                 int64
}

// checkRemote validates what a peer says of a file, with the rules of an
// upload, before a byte is fetched; a file refused is recorded as such
// (why: a limit of this node smaller than the sender's, a type it does not
// take), its comment kept.
func (s *Service) checkRemote(f RemoteFile) (RemoteFile, string) {
	f.Name = files.CleanName(f.Name)
	ct, ok := files.ContentTypeOf(f.Name)
	switch {
	case s.cfg.Files == nil:
		return f, "this node keeps no files (no file store)"
	case f.Name == "" || !ok:
		return f, fmt.Sprintf("%q is not a file type this node accepts", f.Name)
	case !strings.EqualFold(strings.SplitN(ct, ";", 2)[0], strings.SplitN(f.ContentType, ";", 2)[0]):
		return f, fmt.Sprintf("its type %q does not go with its name", f.ContentType)
	case f.Size <= 0 || f.Size > s.cfg.MaxFileBytes:
		return f, fmt.Sprintf("its size (%d bytes) is not from 1 to this node's limit, %d", f.Size, s.cfg.MaxFileBytes)
	case len(f.SHA256) != 64 || strings.Trim(strings.ToLower(f.SHA256), "0123456789abcdef") != "":
		return f, "it has no SHA-256 to check it against"
	case len(f.URL) > 2000:
		return f, "its address is too long"
	}
	f.ContentType = ct
	return f, ""
}

// insertRemote records the files of another node's comment: to fetch, or
// refused (dead, with why).
func (s *Service) insertRemote(ctx context.Context, tx *gorm.DB, c *Comment, fs []RemoteFile) error {
	now := storage.Now()
	pending := false
	for i, f := range fs {
		f, why := s.checkRemote(f)
		if i >= MaxAttachments {
			why = fmt.Sprintf("more than %d files in one comment", MaxAttachments)
		}
		url := f.URL
		a := &Attachment{ID: storage.NewID(), TicketID: c.TicketID, CommentID: c.ID, Name: f.Name, ContentType: f.ContentType,
			SizeBytes: max(0, f.Size), SHA256: strings.ToLower(f.SHA256), APID: f.APID, SourceURL: &url, FetchState: FilePending,
			NextAttemptAt: &now, CreatedAt: c.CreatedAt}
		if why != "" {
			a.FetchState, a.NextAttemptAt, a.LastError = FileDead, nil, queue.ErrorText(why)
			if a.Name == "" {
				a.Name = "?"
			}
			if len(a.ContentType) > 200 {
				a.ContentType = a.ContentType[:200]
			}
			if len(a.SHA256) > 64 {
				a.SHA256 = a.SHA256[:64]
			}
			s.log.Warn("tickets: a file of another node's comment was refused", "attachment", f.APID, "why", why)
		}
		res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "ap_id"}}, DoNothing: true}).Create(a)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected > 0 {
			c.Attachments = append(c.Attachments, a)
			pending = pending || why == ""
		}
	}
	if pending {
		storage.AfterCommit(ctx, s.wake.Poke)
	}
	return nil
}

// Fetch gets the file at a peer's URL, with a signed GET (federation's).
// An error that is Permanent is not tried again.
type Fetch func(ctx context.Context, url string) (io.ReadCloser, error)

// Permanent marks a fetch that will never succeed (refused, gone, not
// what was announced).
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }
func (p Permanent) Unwrap() error { return p.Err }

// fetchAttempts is how many times a file is tried before it is given up;
// fetchBackoff spaces them (about a day in all).
const fetchAttempts = 12

var fetchBackoff = queue.Backoff{First: 5 * time.Second, Max: 3 * time.Hour}

// StartFetching runs the worker that fetches other nodes' files, until
// StopFetching; retries come due with time, looked for every half minute.
// With it runs the sweep of the store (SweepFiles), every six hours.
func (s *Service) StartFetching(fetch Fetch) {
	if s.cfg.Files == nil {
		return
	}
	s.fetch = fetch
	s.fetcher.Start(s.wake, 30*time.Second, func(ctx context.Context) error {
		_, err := s.FetchDue(ctx)
		return err
	}, func(err error) { s.log.Warn("tickets: fetching files", "err", err) })
	s.sweeper.Start(queue.NewSignal(), 6*time.Hour, func(ctx context.Context) error {
		n, err := s.SweepFiles(ctx, sweepGrace)
		if n > 0 {
			s.log.Info("tickets: files no attachment names removed from the store", "files", n)
		}
		return err
	}, func(err error) { s.log.Warn("tickets: sweeping the file store", "err", err) })
}

// StopFetching stops the workers.
func (s *Service) StopFetching() {
	s.fetcher.Stop()
	s.sweeper.Stop()
}

// sweepGrace is how old a file no row names must be to be swept: an
// upload's comment commits within seconds of its file.
const sweepGrace = time.Hour

// SweepFiles deletes the store's files that no attachment names and that
// are older than grace: those kept for a comment that never committed (a
// crash between the two), or whose deletion after an erasure failed. It
// returns how many it deleted.
func (s *Service) SweepFiles(ctx context.Context, grace time.Duration) (int, error) {
	if s.cfg.Files == nil {
		return 0, nil
	}
	cutoff := time.Now().Add(-grace)
	var old []string
	if err := s.cfg.Files.List(ctx, func(key string, at time.Time) error {
		if at.Before(cutoff) {
			old = append(old, key)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("tickets: list the file store: %w", err)
	}
	n := 0
	for i := 0; i < len(old); i += 500 {
		batch := old[i:min(i+500, len(old))]
		var named []string
		if err := s.db.Conn(ctx).Raw("SELECT storage_key FROM ticket_attachments WHERE storage_key IN ? UNION SELECT thumb_key FROM ticket_attachments WHERE thumb_key IN ?",
			batch, batch).Scan(&named).Error; err != nil {
			return n, fmt.Errorf("tickets: sweep the file store: %w", err)
		}
		for _, k := range batch {
			if slices.Contains(named, k) {
				continue
			}
			if err := s.cfg.Files.Delete(ctx, k); err != nil {
				return n, fmt.Errorf("tickets: sweep the file store: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// FetchDue fetches the files that are due, and returns how many it stored.
func (s *Service) FetchDue(ctx context.Context) (int, error) {
	stored := 0
	for ctx.Err() == nil {
		var rows []*Attachment
		if err := s.fetchQ.Lease(ctx, 5, 5*time.Minute, "id, name, content_type, size_bytes, sha256, source_url, attempts", &rows); err != nil {
			return stored, err
		}
		if len(rows) == 0 {
			return stored, nil
		}
		for _, a := range rows {
			kept, err := s.fetchOne(ctx, a)
			if err := s.settleFetch(ctx, a, kept, err); err != nil {
				return stored, err
			}
			if err == nil {
				stored++
			}
		}
	}
	return stored, ctx.Err()
}

// fetchOne gets one file and keeps it, checked as an upload is and
// against what its Document announced.
func (s *Service) fetchOne(ctx context.Context, a *Attachment) (*files.Stored, error) {
	if a.SourceURL == nil || s.fetch == nil {
		return nil, Permanent{errors.New("no address to fetch it from")}
	}
	// A minute, and the time the file takes at 64 kB/s (a slow link): a
	// peer that stalls is tried again later, not waited for for ever.
	ctx, cancel := context.WithTimeout(ctx, time.Minute+time.Duration(a.SizeBytes/(64<<10))*time.Second)
	defer cancel()
	body, err := s.fetch(ctx, *a.SourceURL)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	kept, err := s.Accept(ctx, "file", a.Name, body)
	if apperr.CodeOf(err) == apperr.Invalid {
		return nil, Permanent{err}
	}
	if err != nil {
		return nil, err
	}
	if (a.SHA256 != "" && kept.SHA256 != a.SHA256) || kept.Size != a.SizeBytes {
		files.Discard(ctx, s.cfg.Files, kept)
		return nil, Permanent{fmt.Errorf("the file is not the one announced (%d bytes, SHA-256 %s)", kept.Size, kept.SHA256)}
	}
	return kept, nil
}

// settleFetch records the outcome of fetching a.
func (s *Service) settleFetch(ctx context.Context, a *Attachment, kept *files.Stored, fetchErr error) error {
	ctx = context.WithoutCancel(ctx)
	q := s.db.Conn(ctx).Model(&Attachment{}).Where("id = ? AND fetch_state = 'pending'", a.ID)
	if fetchErr == nil {
		up := map[string]any{"fetch_state": FileStored, "storage_key": kept.Key, "sha256": kept.SHA256, "lease_until": nil,
			"next_attempt_at": nil, "last_error": ""}
		if kept.ThumbKey != "" {
			up["thumb_key"] = kept.ThumbKey
		}
		res := q.Updates(up)
		if res.Error == nil && res.RowsAffected == 0 {
			files.Discard(ctx, s.cfg.Files, kept) // erased meanwhile
		}
		return res.Error
	}
	attempts := a.Attempts + 1
	up := map[string]any{"attempts": attempts, "last_error": queue.ErrorText(fetchErr.Error()), "lease_until": nil}
	var perm Permanent
	if errors.As(fetchErr, &perm) || attempts >= fetchAttempts {
		up["fetch_state"], up["next_attempt_at"] = FileDead, nil
		s.log.Warn("tickets: a file of another node was given up", "attachment", a.ID, "attempts", attempts, "err", fetchErr)
	} else {
		up["next_attempt_at"] = time.Now().UTC().Add(fetchBackoff.After(attempts))
	}
	return q.Updates(up).Error
}

// eraseAttachments deletes, in the transaction ctx carries, the
// attachments of tickets ids, and their files once it commits.
func (s *Service) eraseAttachments(ctx context.Context, ids []string) error {
	tx := s.db.Conn(ctx)
	// Deleted and read in one statement: a fetch settling meanwhile
	// (PostgreSQL's READ COMMITTED) cannot leave a file no row names.
	var as []struct{ StorageKey, ThumbKey *string }
	if err := tx.Raw("DELETE FROM ticket_attachments WHERE ticket_id IN ? RETURNING storage_key, thumb_key", ids).Scan(&as).Error; err != nil {
		return fmt.Errorf("tickets: erase attachments: %w", err)
	}
	if len(as) == 0 || s.cfg.Files == nil {
		return nil
	}
	storage.AfterCommit(ctx, func() {
		for _, a := range as {
			for _, k := range []*string{a.StorageKey, a.ThumbKey} {
				if k != nil {
					if err := s.cfg.Files.Delete(context.Background(), *k); err != nil {
						s.log.Warn("tickets: a file erased in the database stays in the store", "key", *k, "err", err)
					}
				}
			}
		}
	})
	return nil
}
