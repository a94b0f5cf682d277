package migrations_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// gormCalls are the gorm methods that take a model.
var gormCalls = map[string]bool{"Model": true, "Create": true, "Find": true, "Take": true, "First": true, "Last": true,
	"Delete": true, "Save": true, "Updates": true}

// foreignModel is "pkg.Type" when e is &pkg.Type{…} or &[]pkg.Type{…}: a
// value of another package's type (a service's model is its own).
func foreignModel(e ast.Expr) string {
	u, ok := e.(*ast.UnaryExpr)
	if !ok || u.Op != token.AND {
		return ""
	}
	lit, ok := u.X.(*ast.CompositeLit)
	if !ok {
		return ""
	}
	typ := lit.Type
	if a, ok := typ.(*ast.ArrayType); ok {
		typ = a.Elt
	}
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	if sel, ok := typ.(*ast.SelectorExpr); ok {
		if x, ok := sel.X.(*ast.Ident); ok {
			return x.Name + "." + sel.Sel.Name
		}
	}
	return ""
}

// tableRef finds the tables a SQL text names.
var tableRef = regexp.MustCompile(`(?i)\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_]+)`)

// TestTablesHaveOneOwner: every table of the schema (from the database's
// own catalogue) has an owner in migrations.Owners, and no package's code
// names a table it does not own, in SQL text or in gorm's Table(…), but
// for reading a published one; nor hands gorm another package's model. (A
// gorm model is defined by its table's owner: TableName methods are
// checked too.)
func TestTablesHaveOneOwner(t *testing.T) {
	db := storagetest.Open(t, migrations.SQLite)
	tables, err := db.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if migrations.Owners[tb] == "" {
			t.Errorf("table %s has no owner in migrations.Owners", tb)
		}
	}
	for tb := range migrations.Owners {
		if !slices.Contains(tables, tb) {
			t.Errorf("migrations.Owners names %s, which the schema does not have", tb)
		}
	}

	found := map[string][]string{} // "package: table" → where
	note := func(pkg, keyword, table, where string) {
		if migrations.Published[table] && (strings.EqualFold(keyword, "FROM") || strings.EqualFold(keyword, "JOIN")) {
			return // read, as its owner lets every package
		}
		if owner, ok := migrations.Owners[table]; ok && owner != pkg {
			found[pkg+": "+table] = append(found[pkg+": "+table], where)
		}
	}
	for _, top := range []string{"services", "federation", "webui", "cmd"} {
		err := filepath.WalkDir(filepath.Join("..", top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			pkg := filepath.ToSlash(filepath.Dir(strings.TrimPrefix(p, ".."+string(filepath.Separator))))
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if n.Kind == token.STRING {
						s, _ := strconv.Unquote(n.Value)
						for _, m := range tableRef.FindAllStringSubmatch(s, -1) {
							note(pkg, m[1], m[2], fset.Position(n.Pos()).String())
						}
					}
				case *ast.CallExpr:
					// Another package's gorm model in a query: &pkg.Type{}
					// (or a slice of them) handed to gorm.
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && gormCalls[sel.Sel.Name] {
						for _, arg := range n.Args {
							if imp := foreignModel(arg); imp != "" {
								t.Errorf("%s: %s queries another package's model (%s): go through the owner's API",
									fset.Position(n.Pos()), pkg, imp)
							}
						}
					}
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Table" && len(n.Args) == 1 {
						if l, ok := n.Args[0].(*ast.BasicLit); ok {
							s, _ := strconv.Unquote(l.Value)
							note(pkg, "TABLE", strings.Fields(s + " ")[0], fset.Position(n.Pos()).String())
						}
					}
				case *ast.FuncDecl:
					if n.Name.Name == "TableName" && n.Recv != nil && n.Body != nil && len(n.Body.List) == 1 {
						if r, ok := n.Body.List[0].(*ast.ReturnStmt); ok && len(r.Results) == 1 {
							if l, ok := r.Results[0].(*ast.BasicLit); ok {
								s, _ := strconv.Unquote(l.Value)
								note(pkg, "TABLE", s, fset.Position(n.Pos()).String())
							}
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%s: the package names a table it does not own (%s): go through the owner's API", k, strings.Join(found[k], ", "))
	}
}
