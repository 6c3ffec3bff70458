package chisess_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every Go snippet in README.md and docs/ is kept true by code the tests
// compile: each ```go block must appear, line for line (indentation aside),
// in a .go file of the repository, usually as the body of an Example.
func TestDocSnippetsAreCompiledCode(t *testing.T) {
	root := ".."
	var code strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			code.WriteString(normalize(string(b)))
			code.WriteString("\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := code.String()
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	block := regexp.MustCompile("(?s)```go\n(.*?)```")
	n := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllStringSubmatch(string(b), -1) {
			n++
			if !strings.Contains(all, normalize(m[1])) {
				first, _, _ := strings.Cut(strings.TrimSpace(m[1]), "\n")
				t.Errorf("%s: the Go snippet starting %q is not in any .go file; make it the body of an Example", filepath.Base(doc), first)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d Go snippets in the docs; is the pattern right?", n)
	}
}

// normalize drops leading whitespace and blank lines, so a snippet matches
// the body of a function whatever its indentation.
func normalize(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}
