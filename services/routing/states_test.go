package routing

import (
	"context"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage"
)

var (
	stateEq = regexp.MustCompile(`\bstate\s*(?:=|<>)\s*'(\w+)'`)
	stateIn = regexp.MustCompile(`\bstate\s+(?:NOT\s+)?IN\s*\(([^)]*)\)`)
	quoted  = regexp.MustCompile(`'(\w+)'`)
)

// TestStatesAreDeclared: the schema's CHECK on routings.state and
// offers.state lists exactly the declared states; every state the
// package's SQL names is one of them; every move starts and ends in one.
func TestStatesAreDeclared(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "states.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checked := func(table string) []string {
		var ddl string
		if err := db.Raw("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).Row().Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		m := stateIn.FindStringSubmatch(ddl)
		if m == nil {
			t.Fatalf("%s has no CHECK on its state", table)
		}
		var out []string
		for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
			out = append(out, q[1])
		}
		slices.Sort(out)
		return out
	}
	names := func(states ...string) []string { slices.Sort(states); return states }
	var rs, offerNames []string
	for _, s := range AllRoutingStates {
		rs = append(rs, string(s))
	}
	for _, s := range member.AllOfferStates {
		offerNames = append(offerNames, string(s))
	}
	if got, want := checked("routings"), names(rs...); !slices.Equal(got, want) {
		t.Errorf("routings.state is checked against %v, the package declares %v", got, want)
	}
	if got, want := checked("offers"), names(offerNames...); !slices.Equal(got, want) {
		t.Errorf("offers.state is checked against %v, the package declares %v", got, want)
	}
	for _, m := range RoutingMoves {
		if !slices.Contains(AllRoutingStates, m.From) || !slices.Contains(AllRoutingStates, m.To) {
			t.Errorf("routing move %v: an undeclared state", m)
		}
	}
	for _, m := range member.OfferMoves {
		if !slices.Contains(member.AllOfferStates, m.From) || !slices.Contains(member.AllOfferStates, m.To) {
			t.Errorf("offer move %v: an undeclared state", m)
		}
	}

	declared := append(slices.Clone(rs), offerNames...)
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("member/*.go") // the offers' states, on the member's side
	files = append(files, more...)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fset := gotoken.NewFileSet()
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(node ast.Node) bool {
			lit, ok := node.(*ast.BasicLit)
			if !ok || lit.Kind != gotoken.STRING {
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			var found []string
			for _, m := range stateEq.FindAllStringSubmatch(s, -1) {
				found = append(found, m[1])
			}
			for _, m := range stateIn.FindAllStringSubmatch(s, -1) {
				for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
					found = append(found, q[1])
				}
			}
			for _, st := range found {
				n++
				if !slices.Contains(declared, st) {
					t.Errorf("%s: state '%s' is not a declared state", fset.Position(lit.Pos()), st)
				}
			}
			return true
		})
	}
	if n < 20 {
		t.Errorf("only %d state literals found in the package's SQL: is the scan broken?", n)
	}
}
