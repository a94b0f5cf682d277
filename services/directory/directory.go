// Package directory is the coop-wide member directory: this node's own
// members and read-only copies of the members of every peer region, kept
// up to date by federation (Update{Person}). Copies hold public profile
// facts only: name, region, skills, commune, département, remote work. They
// are for display and search; routing asks each region for the truth.
package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// validHandle reports whether a handle is printable text without control
// or bidirectional characters.
func validHandle(h string) bool {
	var v apperr.Validation
	validate.Text(&v, "handle", h, 1, maxText, false)
	return v.Err() == nil
}

// Entry is one member as the directory shows them.
type Entry struct {
	APID        string               `json:"-"`
	Handle      string               `json:"handle"` // name@host
	Name        string               `json:"name"`
	Region      string               `json:"region"`
	Skills      []members.SkillLevel `json:"skills"`
	Commune     string               `json:"commune"`
	Departement string               `json:"departement"`
	RemoteOK    bool                 `json:"remote_ok"`
	// UpdatedAt is when the profile last changed, on its own node.
	UpdatedAt time.Time `json:"updated_at"`
	// Local is true for this node's own members.
	Local bool `json:"local"`
}

// Limits on a copied profile, so that a peer cannot fill the database.
const (
	maxSkills   = 32
	maxText     = 200
	maxSkillLen = 32
)

// Check validates a profile received from a peer.
func (e *Entry) Check() error {
	var v apperr.Validation
	if e.APID == "" || len(e.APID) > 500 {
		v.Add("id", "is missing or too long")
	}
	local, host, ok := strings.Cut(e.Handle, "@")
	if !ok || local == "" || host == "" || len(e.Handle) > maxText {
		v.Add("handle", "must be name@host")
	}
	// The same checks as for a name entered on this node: no control or
	// bidirectional characters, which would make one member read as another.
	e.Name = validate.Text(&v, "name", e.Name, 1, maxText, false)
	e.Region = validate.Text(&v, "region", e.Region, 1, 64, false)
	e.Commune = validate.Text(&v, "commune", e.Commune, 0, maxText, false)
	e.Departement = validate.Text(&v, "departement", e.Departement, 0, 8, false)
	if !validHandle(e.Handle) {
		v.Add("handle", "must be name@host in plain characters")
	}
	if len(e.Skills) > maxSkills {
		v.Add("skills", fmt.Sprintf("at most %d", maxSkills))
	}
	seen := map[string]bool{}
	for _, s := range e.Skills {
		if s.Name == "" || len(s.Name) > maxSkillLen || s.Level < 1 || s.Level > 5 || seen[s.Name] {
			v.Add("skills", "each skill needs a name and a level from 1 to 5, once")
			break
		}
		seen[s.Name] = true
	}
	if e.UpdatedAt.IsZero() {
		v.Add("updated", "is missing")
	}
	return v.Err()
}

type entryRow struct {
	APID            string `gorm:"column:ap_id;primaryKey"`
	Handle          string
	Name            string
	Region          string
	Commune         string
	Departement     string
	RemoteOK        bool `gorm:"column:remote_ok"`
	RemoteUpdatedAt time.Time
	ReceivedAt      time.Time
}

func (entryRow) TableName() string { return "directory_entries" }

type skillRow struct {
	APID  string `gorm:"column:ap_id;primaryKey"`
	Skill string `gorm:"primaryKey"`
	Level int
}

func (skillRow) TableName() string { return "directory_skills" }

// Service reads and writes the directory.
type Service struct {
	db      *storage.DB
	members *members.Service // this node's own, listed with the copies
	region  string
	host    string
}

// New returns the directory of the node at host, in region, whose own
// members are ms's.
func New(db *storage.DB, ms *members.Service, region, host string) *Service {
	return &Service{db: db, members: ms, region: region, host: host}
}

// Apply stores a peer's copy of a profile in the transaction ctx carries, unless the copy held
// is as recent or more: an older or repeated Update changes nothing, so
// updates may arrive late, twice or out of order. It reports whether the
// copy changed.
func (s *Service) Apply(ctx context.Context, e Entry) (bool, error) {
	tx := s.db.Conn(ctx)
	if err := e.Check(); err != nil {
		return false, err
	}
	tx = tx.WithContext(ctx)
	var left int64
	if err := tx.Table("directory_left").Where("ap_id = ? AND left_at >= ?", e.APID, e.UpdatedAt.UTC()).Count(&left).Error; err != nil {
		return false, fmt.Errorf("directory: read %s: %w", e.APID, err)
	}
	if left > 0 {
		return false, nil // a profile from before they left, delivered late
	}
	var cur entryRow
	err := tx.Where("ap_id = ?", e.APID).Take(&cur).Error
	switch {
	case err == nil:
		if !e.UpdatedAt.After(cur.RemoteUpdatedAt) {
			return false, nil
		}
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return false, fmt.Errorf("directory: read %s: %w", e.APID, err)
	}
	// A handle moves with its actor id: a member re-created on their node
	// gets a new id; the old copy under the same handle goes.
	if err := tx.Where("handle = ? AND ap_id <> ?", e.Handle, e.APID).Delete(&entryRow{}).Error; err != nil {
		return false, fmt.Errorf("directory: %w", err)
	}
	row := entryRow{APID: e.APID, Handle: e.Handle, Name: e.Name, Region: e.Region, Commune: e.Commune,
		Departement: e.Departement, RemoteOK: e.RemoteOK, RemoteUpdatedAt: e.UpdatedAt.UTC(), ReceivedAt: time.Now().UTC()}
	if err := tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error; err != nil {
		return false, fmt.Errorf("directory: store %s: %w", e.APID, err)
	}
	if err := tx.Where("ap_id = ?", e.APID).Delete(&skillRow{}).Error; err != nil {
		return false, fmt.Errorf("directory: %w", err)
	}
	if len(e.Skills) > 0 {
		rows := make([]skillRow, len(e.Skills))
		for i, sk := range e.Skills {
			rows[i] = skillRow{APID: e.APID, Skill: sk.Name, Level: sk.Level}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return false, fmt.Errorf("directory: store skills of %s: %w", e.APID, err)
		}
	}
	return true, nil
}

// ListOptions filter and paginate List.
type ListOptions struct {
	Skill    string
	MinLevel int
	After    string // cursor: the last handle of the previous page
	Limit    int
}

// List returns the members of every region, this node's included, ordered
// by handle (byte order): a page of this node's members from the members
// service and one of the copies, merged.
func (s *Service) List(ctx context.Context, opt ListOptions) ([]Entry, error) {
	// Two reads, not one snapshot: a profile that changes between them is
	// shown as either, and on SQLite a snapshot would take the writer's lock.
	local, err := s.members.Listed(ctx, members.ListedOptions{Skill: opt.Skill, MinLevel: opt.MinLevel, After: opt.After, Limit: opt.Limit})
	if err != nil {
		return nil, fmt.Errorf("directory: list: %w", err)
	}
	remote, err := s.copies(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("directory: list: %w", err)
	}
	out := make([]Entry, 0, min(opt.Limit, len(local)+len(remote)))
	for len(out) < opt.Limit && (len(local) > 0 || len(remote) > 0) {
		if len(remote) == 0 || (len(local) > 0 && local[0].FullHandle < remote[0].Handle) {
			m := local[0]
			local = local[1:]
			skills := slices.Clone(m.Skills) // by skill; the directory shows the strongest first
			slices.SortStableFunc(skills, func(a, b members.SkillLevel) int { return cmp.Compare(b.Level, a.Level) })
			out = append(out, Entry{APID: m.ID, Handle: m.FullHandle, Name: m.Name, Region: s.region, Commune: m.Commune,
				Departement: m.Departement, RemoteOK: m.RemoteOK, UpdatedAt: m.UpdatedAt.UTC(), Local: true, Skills: skills})
			continue
		}
		out = append(out, remote[0])
		remote = remote[1:]
	}
	return out, nil
}

// copies is a page of the other regions' members, ordered by handle in
// byte order (as members.Listed orders this node's), with their skills.
func (s *Service) copies(ctx context.Context, opt ListOptions) ([]Entry, error) {
	handle := "handle"
	if s.db.Dialect == migrations.Postgres {
		handle = `handle COLLATE "C"`
	}
	db := s.db.Conn(ctx)
	q := db.Model(&entryRow{}).Order(handle).Limit(opt.Limit)
	if opt.After != "" {
		q = q.Where(handle+" > ?", opt.After)
	}
	if opt.Skill != "" {
		q = q.Where("EXISTS (SELECT 1 FROM directory_skills ds WHERE ds.ap_id = directory_entries.ap_id AND ds.skill = ? AND ds.level >= ?)",
			opt.Skill, opt.MinLevel)
	}
	var rows []entryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Entry, len(rows))
	idx := make(map[string]int, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		out[i] = Entry{APID: r.APID, Handle: r.Handle, Name: r.Name, Region: r.Region, Commune: r.Commune,
			Departement: r.Departement, RemoteOK: r.RemoteOK, UpdatedAt: r.RemoteUpdatedAt.UTC(), Skills: []members.SkillLevel{}}
		idx[r.APID], ids[i] = i, r.APID
	}
	if len(ids) == 0 {
		return out, nil
	}
	var skills []skillRow
	if err := db.Where("ap_id IN ?", ids).Order("level DESC, skill").Find(&skills).Error; err != nil {
		return nil, err
	}
	for _, k := range skills {
		out[idx[k.APID]].Skills = append(out[idx[k.APID]].Skills, members.SkillLevel{Name: k.Skill, Level: k.Level})
	}
	return out, nil
}

// ByHandle returns, in the transaction ctx carries, the copy of another region's member by
// their full handle (name@host).
func (s *Service) ByHandle(ctx context.Context, handle string) (*Entry, error) {
	tx := s.db.Conn(ctx)
	var r entryRow
	err := tx.WithContext(ctx).Where("handle = ?", strings.ToLower(handle)).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("no member %s in the directory", handle)
	}
	if err != nil {
		return nil, fmt.Errorf("directory: %s: %w", handle, err)
	}
	return &Entry{APID: r.APID, Handle: r.Handle, Name: r.Name, Region: r.Region, Commune: r.Commune,
		Departement: r.Departement, RemoteOK: r.RemoteOK, UpdatedAt: r.RemoteUpdatedAt}, nil
}

// Remove deletes, in the transaction ctx carries, the copy of a member who left their region's
// node (Delete{Person}) at time at, with their skills, and remembers when
// they left; it reports whether there was a copy.
func (s *Service) Remove(ctx context.Context, apID string, at time.Time) (bool, error) {
	tx := s.db.Conn(ctx)
	if err := tx.Exec(`INSERT INTO directory_left (ap_id, left_at) VALUES (?, ?)
		ON CONFLICT (ap_id) DO UPDATE SET left_at = excluded.left_at`, apID, at.UTC()).Error; err != nil {
		return false, fmt.Errorf("directory: remove %s: %w", apID, err)
	}
	if err := tx.Where("ap_id = ?", apID).Delete(&skillRow{}).Error; err != nil {
		return false, fmt.Errorf("directory: remove %s: %w", apID, err)
	}
	res := tx.Where("ap_id = ?", apID).Delete(&entryRow{})
	if res.Error != nil {
		return false, fmt.Errorf("directory: remove %s: %w", apID, res.Error)
	}
	return res.RowsAffected > 0, nil
}
