// Package skills is the coop's shared skill vocabulary (network, website,
// training, …). The vocabulary lives in the database (seeded by migrations,
// extendable by adding rows) and is cached in memory for validation.
package skills

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/coopnet/coopnet/services/storage"
)

// Skill is one entry of the vocabulary.
type Skill struct {
	Name    string `json:"name" gorm:"primaryKey"`
	LabelFR string `json:"label_fr" gorm:"column:label_fr"`
	LabelEN string `json:"label_en" gorm:"column:label_en"`
}

// Label is the skill's name in lang (French unless "en").
func (s Skill) Label(lang string) string {
	if lang == "en" {
		return s.LabelEN
	}
	return s.LabelFR
}

// TableName maps Skill to its table.
func (Skill) TableName() string { return "skills" }

// MinLevel and MaxLevel bound a member's level in a skill.
const (
	MinLevel = 1
	MaxLevel = 5
)

// Catalog reads the vocabulary, caching it for a short while.
type Catalog struct {
	db  *storage.DB
	ttl time.Duration

	mu      sync.Mutex
	loaded  time.Time
	byName  map[string]Skill
	ordered []Skill
}

// NewCatalog returns a catalog over db.
func NewCatalog(db *storage.DB) *Catalog { return &Catalog{db: db, ttl: time.Minute} }

func (c *Catalog) load(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName != nil && time.Since(c.loaded) < c.ttl {
		return nil
	}
	var all []Skill
	if err := c.db.WithContext(ctx).Order("name").Find(&all).Error; err != nil {
		return fmt.Errorf("skills: load: %w", err)
	}
	c.byName = make(map[string]Skill, len(all))
	for _, s := range all {
		c.byName[s.Name] = s
	}
	c.ordered = all
	c.loaded = time.Now()
	return nil
}

// Add adds name to the vocabulary, labelled with its name, unless it is
// there, in the transaction ctx carries if any (storage.WithTx); the
// cache forgets the vocabulary once that commits.
func (c *Catalog) Add(ctx context.Context, name string) error {
	if err := c.db.Conn(ctx).Exec(`INSERT INTO skills (name, label_fr, label_en) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		name, name, name).Error; err != nil {
		return fmt.Errorf("skills: add %s: %w", name, err)
	}
	storage.AfterCommit(ctx, func() {
		c.mu.Lock()
		c.byName = nil
		c.mu.Unlock()
	})
	return nil
}

// List returns the vocabulary sorted by name.
func (c *Catalog) List(ctx context.Context) ([]Skill, error) {
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]Skill(nil), c.ordered...)
	return out, nil
}

// Known reports whether name is in the vocabulary.
func (c *Catalog) Known(ctx context.Context, name string) (bool, error) {
	if err := c.load(ctx); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byName[name]
	return ok, nil
}

// Get returns the skill named name, and whether the vocabulary has it.
func (c *Catalog) Get(ctx context.Context, name string) (Skill, bool, error) {
	if err := c.load(ctx); err != nil {
		return Skill{}, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byName[name]
	return s, ok, nil
}

// Names returns the known names, sorted, for error messages.
func (c *Catalog) Names(ctx context.Context) ([]string, error) {
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.byName))
	for n := range c.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
