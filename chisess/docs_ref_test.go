package chisess_test

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the reference sections of docs/guide.md from the doc comments")

// The two reference sections of docs/guide.md, every Config field and every
// exported error, are the doc comments of the code, so they cannot drift:
// this test rebuilds them from the source and fails when the guide says
// anything else. Run it with -update-docs to rewrite them.
func TestGuideReferencesAreTheDocComments(t *testing.T) {
	const guide = "../docs/guide.md"
	b, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	sections := []struct {
		name, start, end, want string
	}{
		{"Config fields", "Every field, from its doc comment in [chisess/config.go](../chisess/config.go):\n\n", "## Errors reference", configReference(t)},
		{"errors", "| Error | When |\n|---|---|\n", "\n\n", errorsReference(t)},
	}
	for _, sec := range sections {
		got, at, ok := section(text, sec.start, sec.end)
		if !ok {
			t.Fatalf("docs/guide.md: the %s section (starting %q) is missing", sec.name, sec.start)
		}
		if got == sec.want {
			continue
		}
		if *updateDocs {
			text = text[:at] + sec.want + text[at+len(got):]
			continue
		}
		t.Errorf("docs/guide.md: the %s section differs from the doc comments; run go test -run %s -update-docs\n%s", sec.name, t.Name(), firstDifference(got, sec.want))
	}
	if *updateDocs {
		if err := os.WriteFile(guide, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A reference test that cannot fail proves nothing: a guide that lost a
// field, or says something else about one, is reported.
func TestGuideReferenceCheckNoticesDrift(t *testing.T) {
	want := configReference(t)
	for _, broken := range []string{
		strings.Replace(want, "#### Secret", "#### Secrets", 1),
		want[:len(want)/2], // cut in half
		strings.Replace(want, "at least 32 bytes", "at least 16 bytes", 1),
	} {
		if broken == want {
			t.Fatal("the broken guide is the same as the right one; the test case proves nothing")
		}
		if firstDifference(broken, want) == "" {
			t.Errorf("a drifted reference was not noticed")
		}
	}
}

// section returns the text between start and the next end after it, and
// where it begins.
func section(text, start, end string) (string, int, bool) {
	i := strings.Index(text, start)
	if i < 0 {
		return "", 0, false
	}
	i += len(start)
	j := strings.Index(text[i:], end)
	if j < 0 {
		return "", 0, false
	}
	return text[i : i+j], i, true
}

func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  guide: %q\n  code:  %q", i+1, gl, wl)
		}
	}
	return ""
}

// configReference is the guide's entry for every field of Config: a
// heading, the declaration, and the doc comment as plain paragraphs.
func configReference(t *testing.T) string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			var typ bytes.Buffer
			printer.Fprint(&typ, fset, field.Type)
			for _, name := range field.Names {
				fmt.Fprintf(&b, "#### %s\n\n`%s %s`\n\n%s\n\n", name.Name, name.Name, typ.String(), docParagraphs(field.Doc.Text()))
			}
		}
		return false
	})
	return b.String()
}

// errorsReference is the guide's table of exported errors: every package
// variable named Err*, with its doc comment, from the core and the
// backends; deprecated names left out.
func errorsReference(t *testing.T) string {
	pkgs := []struct{ name, dir string }{
		{"chisess", "."},
		{"backend", "backend"},
		{"redisbackend", "backend/redisbackend"},
		{"pgbackend", "backend/pgbackend"},
		{"boltbackend", "backend/boltbackend"},
	}
	var rows []string
	for _, p := range pkgs {
		var pkgRows []string
		files, _ := filepath.Glob(filepath.Join(p.dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					doc := vs.Doc.Text()
					if doc == "" && len(gd.Specs) == 1 {
						doc = gd.Doc.Text()
					}
					for _, name := range vs.Names {
						if strings.HasPrefix(name.Name, "Err") && !strings.Contains(doc, "Deprecated:") {
							pkgRows = append(pkgRows, fmt.Sprintf("| `%s.%s` | %s |", p.name, name.Name, strings.ReplaceAll(docParagraphs(doc), "\n\n", " ")))
						}
					}
				}
			}
		}
		slices.Sort(pkgRows)
		rows = append(rows, pkgRows...)
	}
	if len(rows) < 15 {
		t.Fatalf("found only %d errors; is the source where the test looks?", len(rows))
	}
	return strings.Join(rows, "\n")
}

var docLink = regexp.MustCompile(`\[([A-Za-z][A-Za-z0-9_.]*)\]`)

// docParagraphs turns a doc comment into Markdown: each paragraph on one
// line, doc links ([Name]) as code.
func docParagraphs(doc string) string {
	var paras []string
	for p := range strings.SplitSeq(strings.TrimSpace(doc), "\n\n") {
		paras = append(paras, strings.Join(strings.Fields(p), " "))
	}
	return docLink.ReplaceAllString(strings.Join(paras, "\n\n"), "`$1`")
}
