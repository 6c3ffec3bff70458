package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// A command is one of chisessctl's verbs.
type command struct {
	args []string // names of its arguments, for the help
	help string
	do   func(ctx context.Context, m *chisess.Manager, cfg config, c call) error
	argv []string // the arguments given, set by parseConfig
}

// call is what a command reads and writes besides its manager.
type call struct {
	args   []string
	stdin  io.Reader
	stdout io.Writer
	json   bool
}

var commands = map[string]command{
	"decode": {
		args: []string{"<value|->"},
		help: "show the session a cookie value (or token) leads to; - reads it from stdin",
		do:   decode,
	},
	"sessions": {
		args: []string{"<owner>"},
		help: "list the owner's live sessions",
		do:   listSessions,
	},
	"revoke": {
		args: []string{"<owner>", "<handle>"},
		help: "end one of the owner's sessions, by the handle sessions lists",
		do:   revoke,
	},
	"revoke-all": {
		args: []string{"<owner>"},
		help: "end every session of the owner",
		do:   revokeAll,
	},
	"count": {
		help: "count the live sessions of the store (all namespaces)",
		do:   count,
	},
	"sweep": {
		help: "delete the expired sessions of the store now",
		do:   sweep,
	},
}

// commandNames returns the names of the commands, in the order of the help.
func commandNames() []string {
	return []string{"decode", "sessions", "revoke", "revoke-all", "count", "sweep"}
}

// run opens the manager and runs the command.
func (cmd command) run(ctx context.Context, cfg config, stdin io.Reader, stdout io.Writer) error {
	m, closeStore, err := openManager(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	return cmd.do(ctx, m, cfg, call{args: cmd.argv, stdin: stdin, stdout: stdout, json: cfg.JSON})
}

// sessionView is what decode shows of a session.
type sessionView struct {
	Handle      string            `json:"handle,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Description string            `json:"description,omitempty"`
	Created     time.Time         `json:"created"`
	LastUsed    time.Time         `json:"last_used"`
	Expires     time.Time         `json:"expires"`
	Lifetime    string            `json:"lifetime"` // "0s": a browser-session cookie
	Remembered  bool              `json:"remembered"`
	Values      map[string]any    `json:"values"`
	Types       map[string]string `json:"types"`
	Flashes     []chisess.Flash   `json:"flashes,omitempty"`
}

func decode(ctx context.Context, m *chisess.Manager, _ config, c call) error {
	value := c.args[0]
	if value == "-" {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the value from stdin: %w", err)
		}
		value = line
	}
	value = strings.TrimSpace(value)
	value = strings.TrimPrefix(value, m.CookieName()+"=") // a pasted name=value
	if value == "" {
		return usagef("decode: the value is empty")
	}
	s, err := m.Inspect(ctx, value)
	var why chisess.RejectReason
	if errors.As(err, &why) {
		return fmt.Errorf("%w: %s", errNotFound, rejectHint(why, m))
	}
	if err != nil {
		return err
	}
	v := sessionView{
		Handle:      s.Handle(),
		Owner:       s.Owner(),
		Description: s.Description(),
		Created:     s.CreatedAt(),
		LastUsed:    s.LastUsed(),
		Expires:     s.ExpiresAt(),
		Lifetime:    s.Lifetime().String(),
		Remembered:  s.Remembered(),
		Values:      map[string]any{},
		Types:       map[string]string{},
		Flashes:     s.PeekFlashes(),
	}
	for _, k := range s.Keys() {
		val, err := chisess.Get[any](s, k)
		if err != nil {
			return fmt.Errorf("decode value %q: %w", k, err)
		}
		v.Values[k], v.Types[k] = val, fmt.Sprintf("%T", val)
	}
	if c.json {
		return writeJSON(c.stdout, v)
	}
	t := newTable(c.stdout)
	t.row("handle", orDash(v.Handle))
	t.row("owner", orDash(v.Owner))
	t.row("description", orDash(v.Description))
	t.row("created", stamp(v.Created))
	t.row("last used", stamp(v.LastUsed))
	t.row("expires", stamp(v.Expires))
	t.row("lifetime", lifetimeText(s.Lifetime()))
	t.row("remembered", yesNo(v.Remembered))
	for _, f := range v.Flashes {
		t.row("flash", f.Kind+": "+f.Message)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	t = newTable(c.stdout)
	t.row("KEY", "TYPE", "VALUE")
	keys := s.Keys()
	slices.Sort(keys)
	for _, k := range keys {
		t.row(k, v.Types[k], fmt.Sprintf("%v", v.Values[k]))
	}
	return t.flush()
}

// rejectHint says what a RejectReason from Inspect means for the person at
// the shell.
func rejectHint(why chisess.RejectReason, m *chisess.Manager) string {
	switch why {
	case chisess.ReasonTampered:
		return fmt.Sprintf("the cookie does not open (tampered): it was changed, sealed for a cookie name other than %q, or sealed with a secret not given (SESSION_SECRET, SESSION_PREVIOUS_SECRETS or -secret-file)", m.CookieName())
	case chisess.ReasonExpired:
		return "the session has expired (as -idle, -lifetime, -max-lifetime and -remember-for count it)"
	case chisess.ReasonUnknown:
		return "the store holds no session for this token (never issued, ended, renewed, or another -namespace or -cookie-name)"
	case chisess.ReasonMalformed:
		return "the value is not a chisess session cookie or token for this backend, or its stored record is corrupt"
	}
	return "no live session (" + why.String() + ")"
}

// sessionRow is one line of sessions, as JSON.
type sessionRow struct {
	Handle      string    `json:"handle"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	LastUsed    time.Time `json:"last_used"`
	Expires     time.Time `json:"expires"`
	Remembered  bool      `json:"remembered"`
}

func listSessions(ctx context.Context, m *chisess.Manager, cfg config, c call) error {
	infos, err := ownerSessions(ctx, m, cfg, c.args[0])
	if err != nil {
		return err
	}
	rows := make([]sessionRow, len(infos))
	for i, in := range infos {
		rows[i] = sessionRow{in.Handle, in.Description, in.CreatedAt, in.LastUsed, in.ExpiresAt, in.Remembered}
	}
	if c.json {
		return writeJSON(c.stdout, struct {
			Owner    string       `json:"owner"`
			Sessions []sessionRow `json:"sessions"`
		}{c.args[0], rows})
	}
	t := newTable(c.stdout)
	t.row("HANDLE", "DESCRIPTION", "CREATED", "LAST USED", "EXPIRES", "REMEMBERED")
	for _, r := range rows {
		t.row(r.Handle, orDash(r.Description), stamp(r.Created), stamp(r.LastUsed), stamp(r.Expires), yesNo(r.Remembered))
	}
	return t.flush()
}

// ownerSessions is Manager.Sessions, with the errors a shell user can act
// on.
func ownerSessions(ctx context.Context, m *chisess.Manager, cfg config, owner string) ([]chisess.SessionInfo, error) {
	if cfg.Backend == "cookie" {
		return nil, usageError{errCookieBackend.Error()}
	}
	return m.Sessions(ctx, owner)
}

func revoke(ctx context.Context, m *chisess.Manager, cfg config, c call) error {
	owner, handle := c.args[0], c.args[1]
	infos, err := ownerSessions(ctx, m, cfg, owner)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(infos, func(in chisess.SessionInfo) bool { return in.Handle == handle }) {
		return fmt.Errorf("%w: %q is not one of the live sessions of owner %q (chisessctl sessions %s lists them)", errNotFound, handle, owner, owner)
	}
	if err := m.DestroySession(ctx, owner, handle); err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, struct {
			Owner   string `json:"owner"`
			Handle  string `json:"handle"`
			Revoked int    `json:"revoked"`
		}{owner, handle, 1})
	}
	_, err = fmt.Fprintf(c.stdout, "revoked session %s of owner %q\n", handle, owner)
	return err
}

func revokeAll(ctx context.Context, m *chisess.Manager, cfg config, c call) error {
	owner := c.args[0]
	if cfg.Backend == "cookie" {
		return usageError{errCookieBackend.Error()}
	}
	n, err := m.DestroyOwner(ctx, owner, nil)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, struct {
			Owner   string `json:"owner"`
			Revoked int    `json:"revoked"`
		}{owner, n})
	}
	_, err = fmt.Fprintf(c.stdout, "revoked %d session(s) of owner %q\n", n, owner)
	return err
}

func count(ctx context.Context, m *chisess.Manager, cfg config, c call) error {
	ct, ok := m.Backend().(backend.Counter)
	if !ok {
		return usageError{errCookieBackend.Error()}
	}
	n, err := ct.Count(ctx)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, struct {
			Backend  string `json:"backend"`
			Sessions int64  `json:"sessions"`
		}{cfg.Backend, n})
	}
	_, err = fmt.Fprintf(c.stdout, "%d live session(s) in the %s store\n", n, cfg.Backend)
	return err
}

func sweep(ctx context.Context, m *chisess.Manager, cfg config, c call) error {
	if cfg.Backend == "cookie" {
		return usageError{errCookieBackend.Error()}
	}
	sw, ok := m.Backend().(backend.Sweeper)
	var n int64
	note := ""
	if ok {
		var err error
		if n, err = sw.Sweep(ctx); err != nil {
			return err
		}
	} else {
		note = cfg.Backend + " expires sessions by itself: there is nothing to sweep"
	}
	if c.json {
		return writeJSON(c.stdout, struct {
			Backend string `json:"backend"`
			Swept   int64  `json:"swept"`
			Note    string `json:"note,omitempty"`
		}{cfg.Backend, n, note})
	}
	if note != "" {
		_, err := fmt.Fprintln(c.stdout, note)
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "swept %d expired session(s) from the %s store\n", n, cfg.Backend)
	return err
}
