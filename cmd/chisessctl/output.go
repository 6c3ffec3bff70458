package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// table writes aligned columns.
type table struct{ w *tabwriter.Writer }

func newTable(w io.Writer) *table { return &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)} }

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = shown(c)
	}
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

// shown returns c as one line of plain text. A description or a value is
// often the user's choice (a User-Agent, a display name): a tab or a line
// break in it becomes a space, so as not to break the columns, and any
// other control character (a terminal escape sequence, a backspace, a
// bidirectional override) is written as its Go escape, so that it can
// neither drive the admin's terminal nor hide a line of the listing.
func shown(c string) string {
	var b strings.Builder
	for _, r := range c {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (t *table) flush() error { return t.w.Flush() }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stamp shows a time in UTC to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func lifetimeText(d time.Duration) string {
	if d == 0 {
		return "0 (browser-session cookie)"
	}
	return d.String()
}
