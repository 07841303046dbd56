package client_test

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// The package speaks REST JSON only: a controller or a load generator in
// another module links it without linking a bridge.
func TestImportsNothingOfTheBridge(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/colibri-bus/colibri/") {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
