package bridge_test

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/colibri-bus/colibri/"

// TestImportDirections checks docs/architecture.md's package table against
// the code: each package's non-test imports within this module are exactly
// those the table lists, and every package of the module is in the table.
func TestImportDirections(t *testing.T) {
	doc, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 4 {
			continue
		}
		pkg := strings.Trim(strings.TrimSpace(cols[1]), "`")
		var deps []string
		for _, d := range strings.Split(cols[3], ",") {
			if d = strings.Trim(strings.TrimSpace(d), "`"); d != "" && d != "—" {
				deps = append(deps, d)
			}
		}
		want[pkg] = deps
	}
	if len(want) == 0 {
		t.Fatal("no package table in docs/architecture.md")
	}
	for pkg, deps := range want {
		// by directory: examples/sfu is a module of its own, which
		// build.Import would look for among this module's dependencies
		p, err := build.ImportDir(filepath.Join("..", filepath.FromSlash(pkg)), 0)
		if err != nil {
			t.Errorf("%s: %v", pkg, err)
			continue
		}
		var got []string
		for _, imp := range p.Imports {
			if rest, ok := strings.CutPrefix(imp, module); ok {
				got = append(got, rest)
			}
		}
		slices.Sort(got)
		slices.Sort(deps)
		if !slices.Equal(got, deps) {
			t.Errorf("%s imports %v; docs/architecture.md says %v", pkg, got, deps)
		}
	}
	// Every non-test package outside bench/ and interop/ (test harnesses
	// with modules or roles of their own) is in the table.
	for _, dir := range []string{"wsproto", "routing", "config", "engine", "colibri2", "bridge", "cmd", "internal", "examples"} {
		filepath.WalkDir(filepath.Join("..", dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			p, err := build.ImportDir(path, 0)
			if err != nil || len(p.GoFiles) == 0 {
				return nil
			}
			rel, _ := filepath.Rel("..", path)
			if _, ok := want[filepath.ToSlash(rel)]; !ok {
				t.Errorf("package %s is not in docs/architecture.md", rel)
			}
			return nil
		})
	}
}
