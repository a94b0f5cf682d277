package tickets

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// The orders a list of tickets can be sorted in.
const (
	SortNewest   = "newest"   // the newest request first (the default)
	SortOldest   = "oldest"   // the oldest first
	SortUpdated  = "updated"  // the latest change first
	SortPriority = "priority" // the most urgent first, then the newest
)

// Sorts lists the orders, the default first.
var Sorts = []string{SortNewest, SortOldest, SortUpdated, SortPriority}

// The assignee filter's two words besides a handle.
const (
	AssigneeMe   = "me"   // assigned to the member who asks
	AssigneeNone = "none" // assigned to nobody yet
)

// ListOptions filter, sort and paginate List. Every field is optional;
// List checks them all and reports every bad one at once.
type ListOptions struct {
	Query    string // words of the title, the description or the client's name or commune; case and accents do not matter
	Status   Status
	Skill    string
	Priority string
	ClientID string
	Assignee string // AssigneeMe, AssigneeNone or a member's full handle
	Region   string // the ticket's region or its assignee's
	Sort     string // one of Sorts; empty is SortNewest
	After    string // the cursor of the previous page's last ticket (Cursor)
	Limit    int
}

// rank orders the priorities in SQL as priorityRank does in Go: by their
// place in Priorities, the most urgent highest (CASE priority WHEN 'low'
// THEN 0 … END).
var rank = func() string {
	var b strings.Builder
	b.WriteString("CASE priority")
	for i, p := range Priorities {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", p, i)
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}()

func priorityRank(p string) int { return max(0, slices.Index(Priorities, p)) }

// listColumns are the columns a list reads: not the folded search text,
// as long as the description.
const listColumns = `id, client_id, technician_id, title, description, skill, priority, on_site, estimated_minutes,
	status, origin_region, assignee_member_id, assignee_handle, assignee_region, assignee_name, ap_id, created_by,
	version, created_at, updated_at`

// ValidCursor reports whether s has the shape of a cursor Cursor gives;
// List checks that it belongs to the list's order.
func ValidCursor(s string) bool {
	id, key, _ := strings.Cut(s, "|")
	return storage.ValidID(id) && len(key) <= 40
}

// Cursor is where the next page after t starts, in the order o sorts by.
func (o ListOptions) Cursor(t *Ticket) string {
	switch o.Sort {
	case SortUpdated:
		return t.ID + "|" + t.UpdatedAt.UTC().Format(time.RFC3339Nano)
	case SortPriority:
		return t.ID + "|" + strconv.Itoa(priorityRank(t.Priority))
	}
	return t.ID
}

// List returns the tickets the actor may see that match the options, in
// their order.
func (s *Service) List(ctx context.Context, by members.Actor, opt ListOptions) ([]*Ticket, error) {
	q, err := s.listQuery(ctx, by, opt)
	if err != nil {
		return nil, err
	}
	var ts []*Ticket
	if err := q.Select(listColumns).Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("tickets: list: %w", err)
	}
	return ts, s.timedAll(ctx, ts)
}

// listQuery checks the options and builds the list's query.
func (s *Service) listQuery(ctx context.Context, by members.Actor, opt ListOptions) (*gorm.DB, error) {
	var v apperr.Validation
	query := validate.Text(&v, "q", opt.Query, 0, 100, false)
	if opt.Status != "" {
		validate.OneOf(&v, "status", string(opt.Status), Statuses...)
	}
	if opt.Priority != "" {
		validate.OneOf(&v, "priority", opt.Priority, Priorities...)
	}
	if opt.Sort == "" {
		opt.Sort = SortNewest
	}
	validate.OneOf(&v, "sort", opt.Sort, Sorts...)
	if opt.ClientID != "" && !storage.ValidID(opt.ClientID) {
		v.Add("client_id", "is not a client's id")
	}
	if opt.Region != "" && !geo.IsRegion(opt.Region) {
		v.Add("region", "is not a region")
	}
	if opt.Assignee != "" && opt.Assignee != AssigneeMe && opt.Assignee != AssigneeNone {
		validate.Text(&v, "assignee", opt.Assignee, 3, 300, false)
		if !strings.Contains(opt.Assignee, "@") {
			v.Add("assignee", `is "me", "none" or a member's full handle (name@node)`)
		}
	}
	var skill string
	if opt.Skill != "" {
		var err error
		if skill, err = s.checkSkill(ctx, &v, opt.Skill); err != nil {
			return nil, err
		}
	}
	id, key, _ := strings.Cut(opt.After, "|")
	var after struct {
		at   time.Time
		rank int
	}
	if opt.After != "" {
		ok := ValidCursor(opt.After)
		switch opt.Sort {
		case SortUpdated:
			at, err := time.Parse(time.RFC3339Nano, key)
			ok, after.at = ok && err == nil, at
		case SortPriority:
			r, err := strconv.Atoi(key)
			ok, after.rank = ok && err == nil && r >= 0 && r < len(Priorities), r
		default:
			ok = ok && key == ""
		}
		if !ok {
			v.Add("cursor", "is not a cursor of this list in this order")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.visible(s.db.Conn(ctx).Model(&Ticket{}), by).Limit(opt.Limit)
	if opt.Status != "" {
		q = q.Where("status = ?", opt.Status)
	}
	if opt.Priority != "" {
		q = q.Where("priority = ?", opt.Priority)
	}
	if skill != "" {
		q = q.Where("skill = ?", skill)
	}
	if opt.ClientID != "" {
		q = q.Where("client_id = ?", opt.ClientID)
	}
	if opt.Region != "" {
		q = q.Where("(origin_region = ? OR assignee_region = ?)", opt.Region, opt.Region)
	}
	switch opt.Assignee {
	case "":
	case AssigneeMe:
		q = q.Where("assignee_member_id = ?", by.ID)
	case AssigneeNone:
		q = q.Where("assignee_handle = ''")
	default:
		q = q.Where("assignee_handle = ?", opt.Assignee)
	}
	if query != "" {
		// The client's name and commune match too.
		q = q.Where(`(search_text LIKE ? ESCAPE '\' OR client_id IN (?))`, clients.Like(query), s.clients.Matching(ctx, query))
	}
	switch opt.Sort {
	case SortOldest:
		q = q.Order("id")
		if id != "" {
			q = q.Where("id > ?", id)
		}
	case SortUpdated:
		q = q.Order("updated_at DESC, id DESC")
		if id != "" {
			q = q.Where("(updated_at < ? OR (updated_at = ? AND id < ?))", after.at, after.at, id)
		}
	case SortPriority:
		q = q.Order(rank + " DESC, id DESC")
		if id != "" {
			q = q.Where("("+rank+" < ? OR ("+rank+" = ? AND id < ?))", after.rank, after.rank, id)
		}
	default:
		q = q.Order("id DESC")
		if id != "" {
			q = q.Where("id < ?", id)
		}
	}
	return q, nil
}

// Assignees lists who the tickets the actor may see are assigned to, by
// name (a list's filter).
func (s *Service) Assignees(ctx context.Context, by members.Actor) ([]Assignee, error) {
	var out []Assignee
	err := s.visible(s.db.Conn(ctx).Model(&Ticket{}), by).Distinct("assignee_handle AS handle", "assignee_region AS region", "assignee_name AS name").
		Where("assignee_handle <> ''").Order("name, handle").Limit(500).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("tickets: assignees: %w", err)
	}
	return out, nil
}

// searchText is what a search matches of a ticket: its title and
// description, folded.
func searchText(title, description string) string {
	return geo.Fold(title + "\n" + description)
}

// searchable adds to the updates of a ticket that change its title or
// description the search text they make, the other taken from t.
func searchable(updates map[string]any, title, description string) {
	t, okT := updates["title"].(string)
	d, okD := updates["description"].(string)
	if !okT && !okD {
		return
	}
	if okT {
		title = t
	}
	if okD {
		description = d
	}
	updates["search_text"] = searchText(title, description)
}

// IndexSearch fills in the search text of tickets written before there
// was one (migration 0018), a batch at a time; it returns how many.
func (s *Service) IndexSearch(ctx context.Context) (int, error) {
	n := 0
	for {
		var rows []struct{ ID, Title, Description string }
		if err := s.db.Conn(ctx).Table("tickets").Select("id, title, description").Where("search_text IS NULL").
			Order("id").Limit(500).Scan(&rows).Error; err != nil {
			return n, fmt.Errorf("tickets: index for search: %w", err)
		}
		if len(rows) == 0 {
			return n, nil
		}
		err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			for _, r := range rows {
				if err := tx.Exec("UPDATE tickets SET search_text = ? WHERE id = ?", searchText(r.Title, r.Description), r.ID).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("tickets: index for search: %w", err)
		}
		n += len(rows)
	}
}
