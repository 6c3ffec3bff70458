package main

import (
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/matryer/is"
)

// hostileText is what a user can put in their own session: a description
// made from their User-Agent, a display name. It holds terminal control
// sequences: move the cursor up and erase the line (hiding the line above
// from the admin), set the window title, and a right-to-left override.
const hostileText = "Firefox\x1b[1A\x1b[2K\x1b]0;pwned\x07\b\v\f\u202egnp.exe"

// The tables are "for people", and a value with a tab or a newline is
// flattened so as not to "break the columns"; a value with terminal
// control sequences was printed as it is: a user whose User-Agent (the
// usual description) or display name holds them could erase lines of the
// admin's listing, hide their session, or retitle the terminal.
func TestTablesShowNoControlCharacters(t *testing.T) {
	is := is.New(t)
	st := boltStore(t)
	var token string
	step(t, st, false, func(m *chisess.Manager, _ backend.Backend) {
		token = signIn(t, m, func(s *chisess.Session) error {
			if err := owned("ada", hostileText, false)(s); err != nil {
				return err
			}
			return s.Set("name", hostileText)
		})
	})
	env := map[string]string{"CHISESS_NAMESPACE": namespace}
	for k, v := range st.env {
		env[k] = v
	}
	for _, args := range [][]string{{"sessions", "ada"}, {"decode", token}} {
		r := ctl(env, args...)
		is.Equal(r.code, exitOK)
		is.True(strings.Contains(r.stdout, "Firefox")) // the row is there
		for _, c := range r.stdout {
			if c != '\n' && (c < ' ' || c == 0x7f || c == '\u202e') {
				t.Fatalf("%s: the table holds the control character %U:\n%q", args[0], c, r.stdout)
			}
		}
	}
}
