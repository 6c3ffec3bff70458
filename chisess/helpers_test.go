package chisess_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
)

const testSecret = "test-secret-0123456789-abcdefghijklmnop"

var errOutage = errors.New("backend is down")

// mode is one of the ways a manager stores sessions; most behaviour must be
// the same in each. forEachMode runs a test once in every mode.
type mode struct {
	name string
	// b is the fake backend behind cfg, nil in the cookie mode.
	b *sessiontest.Backend
	// cfg configures a manager to store its sessions this way.
	cfg chisess.Config
	// update is the op that saves a change to a session the request
	// loaded: "swap", or "write" when the backend has no Swap; "" in the
	// cookie mode.
	update string
}

// The ways a manager stores sessions:
//
//   - memory: on a sessiontest.Backend, which has backend.Swapper and
//     backend.Indexer, so chisess takes the path it takes in production:
//     a change to a loaded session is one swap against the record it
//     loaded (a swap to nothing deletes), with no read before it;
//   - base-only: on the same backend behind baseOnly, which shows only
//     the three methods of backend.Backend, as a minimal custom backend
//     has them: chisess reads the record again before it writes or
//     deletes it;
//   - cookie: in the sealed cookie, with no backend at all.
var (
	serverModes = []string{"memory", "base-only"}
	allModes    = []string{"memory", "base-only", "cookie"}
)

// newMode returns the mode of that name, with a store of its own.
func newMode(name string) mode {
	b := sessiontest.NewBackend()
	switch name {
	case "memory":
		return mode{name: name, b: b, cfg: chisess.Config{Backend: b}, update: "swap"}
	case "base-only":
		return mode{name: name, b: b, cfg: chisess.Config{Backend: baseOnly{b}}, update: "write"}
	}
	return mode{name: name, cfg: chisess.Config{Secret: testSecret}}
}

// baseOnly hides every optional interface of the backend it wraps.
type baseOnly struct{ backend.Backend }

// forEachMode runs test as a subtest of t once in every mode, named for it.
func forEachMode(t *testing.T, test func(t *testing.T, tm mode)) {
	t.Helper()
	runModes(t, allModes, test)
}

// forEachServerMode is forEachMode for the modes with a server-side
// backend, for tests of what chisess does to the store.
func forEachServerMode(t *testing.T, test func(t *testing.T, tm mode)) {
	t.Helper()
	runModes(t, serverModes, test)
}

func runModes(t *testing.T, names []string, test func(t *testing.T, tm mode)) {
	t.Helper()
	for _, name := range names {
		t.Run(name, func(t *testing.T) { test(t, newMode(name)) })
	}
}

// calls counts the backend calls of op so far; the cookie mode makes none.
func (tm mode) calls(op string) int {
	return tm.count(func(c sessiontest.Call) bool { return c.Op == op })
}

// total counts every backend call so far.
func (tm mode) total() int {
	return tm.count(func(sessiontest.Call) bool { return true })
}

// writes counts the calls so far that store a record: a write, or a swap
// to a record (the memory mode's save of a change).
func (tm mode) writes() int {
	return tm.count(func(c sessiontest.Call) bool { return c.Op == "write" || c.Op == "swap" && c.Data != nil })
}

// deletes counts the calls so far that remove a record: a delete, or a
// swap to nothing (the memory mode's way to end a session).
func (tm mode) deletes() int {
	return tm.count(func(c sessiontest.Call) bool { return c.Op == "delete" || c.Op == "swap" && c.Data == nil })
}

func (tm mode) count(match func(sessiontest.Call) bool) int {
	if tm.b == nil {
		return 0
	}
	n := 0
	for _, c := range tm.b.Calls() {
		if match(c) {
			n++
		}
	}
	return n
}

func newManager(t *testing.T, cfg chisess.Config) *chisess.Manager {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := chisess.New(cfg)
	if err != nil {
		t.Fatalf("chisess.New: %v", err)
	}
	return m
}

// newApp returns a manager made with cfg and a client of newRouter's
// routes on it.
func newApp(t *testing.T, cfg chisess.Config) (*chisess.Manager, *client) {
	t.Helper()
	m := newManager(t, cfg)
	return m, newClient(t, m, newRouter(t, m))
}

// client sends requests to h like a browser with one cookie: it sends the
// session cookie it holds and keeps what Set-Cookie says.
type client struct {
	t      *testing.T
	h      http.Handler
	name   string
	cookie string // current cookie value, "" for none
}

func newClient(t *testing.T, m *chisess.Manager, h http.Handler) *client {
	return &client{t: t, h: h, name: m.CookieName()}
}

// withCookie returns another client of the same handler that holds the
// cookie value v, as a second browser, a stale tab or an attacker would.
func (c *client) withCookie(v string) *client {
	return &client{t: c.t, h: c.h, name: c.name, cookie: v}
}

func (c *client) do(method, target string) *httptest.ResponseRecorder {
	c.t.Helper()
	rec := send(c.h, method, target, c.name, c.cookie)
	for _, sc := range rec.Result().Cookies() {
		if sc.Name != c.name {
			continue
		}
		if sc.MaxAge < 0 {
			c.cookie = ""
		} else {
			c.cookie = sc.Value
		}
	}
	return rec
}

// send sends one request to h with a cookie name=value for each value that
// is not empty, and returns the response. It touches no shared state, so
// it may run on any goroutine.
func send(h http.Handler, method, target, name string, values ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for _, v := range values {
		if v != "" {
			req.AddCookie(&http.Cookie{Name: name, Value: v})
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// setCookie returns the recorded response's Set-Cookie named name, or nil.
func setCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	return responseCookie(rec.Result(), name)
}

// mustSetCookie is setCookie for a response that must carry the cookie:
// without one it fails the test at once, rather than leave a nil for the
// test to dereference.
func mustSetCookie(t *testing.T, rec *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	c := setCookie(rec, name)
	if c == nil {
		t.Fatalf("the response has no Set-Cookie %s", name)
	}
	return c
}

// responseCookie returns the Set-Cookie of res named name, or nil.
func responseCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// loaded adapts f into a handler that loads the session first and answers
// 503 when it cannot, so that f gets a loaded session.
func loaded(t *testing.T, f func(w http.ResponseWriter, r *http.Request, s *chisess.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "load failed", http.StatusServiceUnavailable)
			return
		}
		f(w, r, s)
	}
}

func hasHeaderValue(h http.Header, name, value string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), value) {
				return true
			}
		}
	}
	return false
}
