package chisess_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"
)

// Every Go snippet in README.md and docs/*.md is a whole unit of code that
// the tests compile: whole top-level declarations (a type, a func, a var or
// const block, or several), the whole body of an Example function, or a
// whole file, found exactly, after gofmt, in a .go file of the repository.
// Each module's `go vet` compiles that file, so the snippet compiles too,
// and a block cut short or edited in the docs fails here.
//
// A snippet may use the package-level helpers of its file (an
// exampleSecret, a browser type) only when the same document shows their
// declarations in a Go block: a reader cannot see the rest of the file.
func TestDocSnippetsAreCompiledCode(t *testing.T) {
	src := repoSource(t)
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join("..", "README.md"))
	n := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := goBlocks(string(text))
		shown := declaredNames(blocks)
		for _, b := range blocks {
			n++
			if err := src.check(b.code, shown); err != nil {
				t.Errorf("%s:%d: the Go block starting %q %v", filepath.Base(doc), b.line, firstLine(b.code), err)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d Go blocks in the docs; is the pattern right?", n)
	}
}

// TestDocSnippetRule holds the rule of TestDocSnippetsAreCompiledCode to
// blocks it must accept and blocks it must refuse, taken from the
// repository's own code. Before it, seven blocks of docs/backends.md had
// been cut after their first line ("type Options struct {" and one
// comment line) and passed the old test, which only looked for each
// block's lines somewhere in a .go file.
func TestDocSnippetRule(t *testing.T) {
	src := repoSource(t)
	backendDecl := src.declNamed(t, "chisess/backend/backend.go", "Backend") // the contract, doc comment included
	quickStart := src.exampleBody(t, "Example")                              // the README's visit counter, which uses exampleSecret and browser
	helpers := src.declNamed(t, "chisess/example_test.go", "exampleSecret") + "\n" + src.declNamed(t, "chisess/example_test.go", "browser")

	tests := []struct {
		name  string
		block string
		shown []string // names declared in the document's other blocks
		want  string   // "" to pass, else a piece of the error
	}{
		{name: "whole declaration", block: backendDecl},
		{name: "several whole declarations", block: helpers},
		{name: "whole Example body, its helpers shown", block: quickStart, shown: []string{"exampleSecret", "browser"}},
		{
			name:  "declaration cut after its first lines, as docs/backends.md had it",
			block: "type Options struct {\n\t// Prefix is put in front of every key chisess hands to the store, so\n",
			want:  "is not whole Go code",
		},
		{name: "declaration cut short", block: cutAfter(backendDecl, "type Backend interface {", 2), want: "is not whole Go code"},
		{name: "whole file", block: src.fileNamed(t, "chisess/internal/testkey/testkey.go")},
		{name: "file edited", block: strings.Replace(src.fileNamed(t, "chisess/internal/testkey/testkey.go"), "32", "16", 1), want: "not, exactly, a whole .go file"},
		{name: "Example body cut short", block: firstLines(quickStart, 4), want: "is not a whole declaration or Example body"},
		{name: "Example body edited", block: strings.Replace(quickStart, "visits", "visitors", 1), want: "is not a whole declaration or Example body"},
		{name: "Example body leaning on helpers not shown", block: quickStart, want: "uses browser (chisess/example_test.go), exampleSecret (chisess/example_test.go), not shown"},
		{name: "Example body with one helper not shown", block: quickStart, shown: []string{"browser"}, want: "uses exampleSecret (chisess/example_test.go), not shown"},
		{name: "code found nowhere", block: "fmt.Println(\"hello\")\n", want: "is not a whole declaration or Example body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			err := src.check(tt.block, tt.shown)
			if tt.want == "" {
				is.NoErr(err) // the block is whole code from the repository
				return
			}
			is.True(err != nil) // the block is refused
			t.Log(err)
			is.True(strings.Contains(err.Error(), tt.want)) // for the reason expected
		})
	}
}

// block is one ```go block of a Markdown document.
type block struct {
	code string
	line int // of the opening fence
}

var fence = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

func goBlocks(doc string) []block {
	var out []block
	for _, m := range fence.FindAllStringSubmatchIndex(doc, -1) {
		out = append(out, block{code: doc[m[2]:m[3]], line: strings.Count(doc[:m[0]], "\n") + 1})
	}
	return out
}

// declaredNames returns the top-level names that the declaration blocks
// among blocks declare: what a reader of the document can see.
func declaredNames(blocks []block) []string {
	var names []string
	for _, b := range blocks {
		f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+b.code, 0)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			names = append(names, declNames(d)...)
		}
	}
	return names
}

// declNames returns the names a top-level declaration declares; a method
// declares none.
func declNames(d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			names = append(names, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// cutAfter returns s up to the line that holds mark and n lines more.
func cutAfter(s, mark string, n int) string {
	i := strings.Index(s, mark)
	if i < 0 {
		panic("cutAfter: " + mark + " not found")
	}
	lines := strings.SplitAfter(s[i:], "\n")
	return s[:i] + strings.Join(lines[:min(n+1, len(lines))], "")
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}

// source indexes the Go code of the repository: every top-level
// declaration and every Example body, by its gofmt'd text.
type source struct {
	fset   *token.FileSet
	files  map[string]bool // whole files
	decls  map[string]unit
	bodies map[string]unit
	names  map[string]string // "dir/file.go:Name" → the declaration's text, for the rule test

	mu      sync.Mutex
	checked map[*pkg]*types.Info
}

// unit is a declaration or an Example body in a package of the repository.
type unit struct {
	node ast.Node // the declaration, or the Example's body
	pkg  *pkg
	file string
}

// pkg is the files of one package: one directory and package clause.
type pkg struct {
	path, name string
	files      []*ast.File
}

var (
	repoOnce sync.Once
	repo     *source
	repoErr  error
)

// repoSource returns the index of every .go file under the repository
// root, nested modules included, built once per test binary.
func repoSource(t *testing.T) *source {
	t.Helper()
	repoOnce.Do(func() {
		files := map[string][]byte{}
		repoErr = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") {
				b, err := os.ReadFile(path)
				files[path] = b
				return err
			}
			return nil
		})
		if repoErr == nil {
			repo, repoErr = newSource(files)
		}
	})
	if repoErr != nil {
		t.Fatal(repoErr)
	}
	return repo
}

// newSource parses files (path → content) and indexes them.
func newSource(files map[string][]byte) (*source, error) {
	s := &source{
		fset:    token.NewFileSet(),
		files:   map[string]bool{},
		decls:   map[string]unit{},
		bodies:  map[string]unit{},
		names:   map[string]string{},
		checked: map[*pkg]*types.Info{},
	}
	pkgs := map[[2]string]*pkg{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		content := files[path]
		f, err := parser.ParseFile(s.fset, path, content, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		key := [2]string{filepath.Dir(path), f.Name.Name}
		p := pkgs[key]
		if p == nil {
			p = &pkg{path: key[0], name: key[1]}
			pkgs[key] = p
		}
		p.files = append(p.files, f)
		s.files[normalize(string(content))] = true
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
				continue
			}
			text := normalize(s.declText(content, d))
			if _, dup := s.decls[text]; !dup {
				s.decls[text] = unit{node: d, pkg: p, file: path}
			}
			for _, name := range declNames(d) {
				s.names[filepath.ToSlash(path)+":"+name] = s.declText(content, d)
			}
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Body != nil && strings.HasPrefix(fd.Name.Name, "Example") {
				text := normalize(s.bodyText(content, f, fd))
				if _, dup := s.bodies[text]; !dup {
					s.bodies[text] = unit{node: fd.Body, pkg: p, file: path}
				}
			}
		}
	}
	return s, nil
}

// declText is the source of d with its doc comment, to the end of its last
// line (so a trailing comment is part of it).
func (s *source) declText(content []byte, d ast.Decl) string {
	start := d.Pos()
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Doc != nil {
			start = d.Doc.Pos()
		}
	case *ast.GenDecl:
		if d.Doc != nil {
			start = d.Doc.Pos()
		}
	}
	from, to := s.fset.Position(start).Offset, s.fset.Position(d.End()).Offset
	if nl := bytes.IndexByte(content[to:], '\n'); nl >= 0 {
		to += nl
	} else {
		to = len(content)
	}
	return string(content[from:to])
}

// bodyText is the body of an Example without its braces and its output
// comment, one tab of indentation removed.
func (s *source) bodyText(content []byte, f *ast.File, fd *ast.FuncDecl) string {
	end := fd.Body.Rbrace
	for _, c := range f.Comments {
		if c.Pos() > fd.Body.Lbrace && c.End() < end {
			text := strings.TrimSpace(c.Text())
			if strings.HasPrefix(text, "Output:") || strings.HasPrefix(text, "Unordered output:") {
				end = c.Pos()
				break
			}
		}
	}
	body := string(content[s.fset.Position(fd.Body.Lbrace).Offset+1 : s.fset.Position(end).Offset])
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return strings.Join(lines, "\n")
}

// normalize formats code as gofmt would, so that a snippet matches its
// source whatever its surrounding space; code gofmt cannot format is kept
// as it is.
func normalize(code string) string {
	if b, err := format.Source([]byte(code)); err == nil {
		code = string(b)
	}
	return strings.TrimSpace(code)
}

// check reports whether code is whole declarations or a whole Example
// body of the repository, leaning on no package-level name of its file
// that is not among shown.
func (s *source) check(code string, shown []string) error {
	var units []unit
	src := "package p\n" + code
	fset := token.NewFileSet()
	if _, err := parser.ParseFile(token.NewFileSet(), "", code, parser.PackageClauseOnly); err == nil {
		// A whole file, package clause and imports included.
		if !s.files[normalize(code)] {
			return errors.New("is not a whole declaration or Example body: it is a Go file, but not, exactly, a whole .go file of the repository (cut short, or edited?); make it match one")
		}
		return nil
	}
	if f, err := parser.ParseFile(fset, "", src, parser.ParseComments); err == nil && len(f.Decls) > 0 {
		in := &source{fset: fset}
		for _, d := range f.Decls {
			u, ok := s.decls[normalize(in.declText([]byte(src), d))]
			if !ok {
				return fmt.Errorf("is not a whole declaration or Example body: the declaration of %s is not found, exactly, in any .go file of the repository (cut short, or edited?); make it match one", strings.Join(declNames(d), ", "))
			}
			units = append(units, u)
		}
	} else if _, err2 := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+code+"\n}\n", 0); err2 == nil {
		u, ok := s.bodies[normalize(code)]
		if !ok {
			return errors.New("is not a whole declaration or Example body: it parses as statements, but is not, exactly, the whole body of an Example in any .go file of the repository (cut short, or edited?); make it match one")
		}
		units = append(units, u)
	} else {
		return fmt.Errorf("is not whole Go code: it parses neither as top-level declarations (%v) nor as a function body (%v); show the whole declaration or Example body", err, err2)
	}
	var hidden []string
	for _, u := range units {
		for _, h := range s.helpers(u) {
			if !slices.Contains(shown, h.name) && !slices.Contains(hidden, h.String()) {
				hidden = append(hidden, h.String())
			}
		}
	}
	if len(hidden) > 0 {
		slices.Sort(hidden)
		return fmt.Errorf("uses %s, not shown in the document: show the declaration in a Go block of its own, or write the snippet without it",
			strings.Join(hidden, ", "))
	}
	return nil
}

// helper is a package-level name a snippet uses, and the file that
// declares it.
type helper struct{ name, file string }

func (h helper) String() string {
	return h.name + " (" + strings.TrimPrefix(filepath.ToSlash(h.file), "../") + ")"
}

// helpers returns the package-level names of u's package that u uses, and
// that a reader would need to see: every one of a test package, and the
// unexported ones of any other. The names u declares itself are not among
// them.
func (s *source) helpers(u unit) []helper {
	info := s.typeCheck(u.pkg)
	own := map[string]bool{}
	if d, ok := u.node.(ast.Decl); ok {
		for _, n := range declNames(d) {
			own[n] = true
		}
	}
	var found []helper
	ast.Inspect(u.node, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		obj := info.Uses[id]
		if obj == nil || obj.Pkg() == nil || obj.Parent() != obj.Pkg().Scope() || own[id.Name] {
			return true
		}
		h := helper{id.Name, s.fset.Position(obj.Pos()).Filename}
		if (strings.HasSuffix(u.pkg.name, "_test") || !obj.Exported()) && !slices.Contains(found, h) {
			found = append(found, h)
		}
		return true
	})
	return found
}

// typeCheck resolves the identifiers of p. Imports are not loaded: every
// imported package is empty, so what comes from them stays unresolved,
// and only the package's own names, which are all this needs, resolve.
func (s *source) typeCheck(p *pkg) *types.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.checked[p]; ok {
		return info
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{
		Importer: emptyImporter{},
		Error:    func(error) {}, // unresolved imports are expected
	}
	_, _ = conf.Check(p.path, s.fset, p.files, info)
	s.checked[p] = info
	return info
}

type emptyImporter struct{}

func (emptyImporter) Import(path string) (*types.Package, error) {
	p := types.NewPackage(path, filepath.Base(path))
	p.MarkComplete()
	return p, nil
}

// declNamed returns the source of the top-level declaration of name in
// file (a path from the repository root).
func (s *source) declNamed(t *testing.T, file, name string) string {
	t.Helper()
	text, ok := s.names["../"+file+":"+name]
	if !ok {
		t.Fatalf("no top-level declaration of %s in %s", name, file)
	}
	return text + "\n"
}

// fileNamed returns the content of file (a path from the repository root).
func (s *source) fileNamed(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exampleBody returns the body of the Example function called name in
// package chisess_test, as a doc would show it.
func (s *source) exampleBody(t *testing.T, name string) string {
	t.Helper()
	for text, u := range s.bodies {
		if u.pkg.name != "chisess_test" {
			continue
		}
		for _, f := range u.pkg.files {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name && fd.Body == u.node {
					return text + "\n"
				}
			}
		}
	}
	t.Fatalf("no %s in package chisess_test", name)
	return ""
}
