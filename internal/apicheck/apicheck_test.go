// Package apicheck holds the test that keeps api/, the record of the
// library's exported API, equal to the code, as the Go project keeps its
// own api/ files: a change to an exported name or signature is a visible,
// reviewed diff of api/<package>.txt.
package apicheck

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// packages are the importable packages of the library, relative to the
// module root: what an embedder can import.
var packages = []string{"bridge", "colibri2/client", "config", "engine", "routing", "wsproto"}

// TestAPI compares each package's exported API with api/<package>.txt.
// UPDATE_API=1 rewrites the files.
func TestAPI(t *testing.T) {
	for _, pkg := range packages {
		got, err := exported(filepath.Join("..", "..", pkg))
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join("..", "..", "api", strings.ReplaceAll(pkg, "/", "-")+".txt")
		if os.Getenv("UPDATE_API") == "1" {
			if err := os.WriteFile(file, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (UPDATE_API=1 go test ./internal/apicheck writes it)", err)
		}
		want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		added, removed := diff(want, got)
		for _, l := range added {
			t.Errorf("%s: not in %s: %s", pkg, file, l)
		}
		for _, l := range removed {
			t.Errorf("%s: in %s, not in the code: %s", pkg, file, l)
		}
		if len(added)+len(removed) > 0 {
			t.Logf("an API change is a reviewed diff: UPDATE_API=1 go test ./internal/apicheck rewrites %s", file)
		}
	}
}

// diff returns the lines of got not in want, and of want not in got.
func diff(want, got []string) (added, removed []string) {
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range list {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for _, l := range got {
		if !w[l] {
			added = append(added, l)
		}
	}
	for _, l := range want {
		if !g[l] {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// exported lists the exported API of the package in dir, one sorted line
// per identifier, method, struct field and interface method.
func exported(dir string) ([]string, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		return nil, err
	}
	var lines []string
	for name, p := range pkgs {
		add := func(format string, args ...any) {
			lines = append(lines, "pkg "+name+", "+fmt.Sprintf(format, args...))
		}
		for _, f := range p.Files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() {
						continue
					}
					sig := node(fset, d.Type)
					if d.Recv == nil {
						add("func %s%s", d.Name.Name, strings.TrimPrefix(sig, "func"))
						continue
					}
					recv := node(fset, d.Recv.List[0].Type)
					if !ast.IsExported(strings.TrimLeft(baseName(recv), "*")) {
						continue
					}
					add("method (%s) %s%s", recv, d.Name.Name, strings.TrimPrefix(sig, "func"))
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							if s.Name.IsExported() {
								typeLines(fset, add, s)
							}
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if !n.IsExported() {
									continue
								}
								typ := ""
								if s.Type != nil {
									typ = " " + node(fset, s.Type)
								}
								add("%s %s%s", d.Tok, n.Name, typ)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(lines)
	return lines, nil
}

// typeLines adds a type and its exported fields or interface methods.
func typeLines(fset *token.FileSet, add func(string, ...any), s *ast.TypeSpec) {
	switch t := s.Type.(type) {
	case *ast.StructType:
		add("type %s struct", s.Name.Name)
		for _, f := range t.Fields.List {
			if len(f.Names) == 0 { // embedded
				if ast.IsExported(strings.TrimLeft(baseName(node(fset, f.Type)), "*")) {
					add("type %s struct, embedded %s", s.Name.Name, node(fset, f.Type))
				}
				continue
			}
			for _, n := range f.Names {
				if n.IsExported() {
					add("type %s struct, %s %s", s.Name.Name, n.Name, node(fset, f.Type))
				}
			}
		}
	case *ast.InterfaceType:
		add("type %s interface", s.Name.Name)
		for _, m := range t.Methods.List {
			for _, n := range m.Names {
				if n.IsExported() {
					add("type %s interface, %s%s", s.Name.Name, n.Name, strings.TrimPrefix(node(fset, m.Type), "func"))
				}
			}
		}
	default:
		eq := " "
		if s.Assign.IsValid() {
			eq = " = "
		}
		add("type %s%s%s", s.Name.Name, eq, node(fset, s.Type))
	}
}

// baseName strips a receiver's type parameters: T[K] is T.
func baseName(recv string) string {
	if i := strings.IndexByte(recv, '['); i >= 0 {
		return recv[:i]
	}
	return recv
}

func node(fset *token.FileSet, n ast.Node) string {
	var b bytes.Buffer
	printer.Fprint(&b, fset, n)
	return strings.Join(strings.Fields(b.String()), " ")
}
