package chisess_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

const testSecret = "test-secret-0123456789-abcdefghijklmnop"

// spyBackend wraps a real backend, counts every call by operation, and can
// be told to fail an operation.
type spyBackend struct {
	backend.Backend
	mu    sync.Mutex
	calls map[string]int
	keys  []string // every key written
	fail  map[string]error
}

func newSpy() *spyBackend {
	return &spyBackend{
		Backend: backend.NewMemoryWithCleanup(0),
		calls:   map[string]int{},
		fail:    map[string]error{},
	}
}

func (b *spyBackend) count(op string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[op]
}

func (b *spyBackend) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.calls {
		n += c
	}
	return n
}

func (b *spyBackend) failOn(op string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail[op] = err
}

func (b *spyBackend) record(op, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[op]++
	if op == "write" {
		b.keys = append(b.keys, key)
	}
	return b.fail[op]
}

func (b *spyBackend) Read(ctx context.Context, key string) ([]byte, error) {
	if err := b.record("read", key); err != nil {
		return nil, err
	}
	return b.Backend.Read(ctx, key)
}

func (b *spyBackend) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if err := b.record("write", key); err != nil {
		return err
	}
	return b.Backend.Write(ctx, key, data, ttl)
}

func (b *spyBackend) Delete(ctx context.Context, key string) error {
	if err := b.record("delete", key); err != nil {
		return err
	}
	return b.Backend.Delete(ctx, key)
}

var errOutage = errors.New("backend is down")

// mode is one of the ways a manager stores sessions; most behaviour must be
// the same in each. A test runs in every mode with forEachMode.
type mode struct {
	name string
	// spy is the backend behind cfg, nil in the cookie mode.
	spy *spyBackend
	// cfg configures a manager to store its sessions this way.
	cfg chisess.Config
}

// modes make a fresh mode for each run, so that no two tests share a store.
var modes = []struct {
	name string
	make func() mode
}{
	{"memory", func() mode {
		spy := newSpy()
		return mode{name: "memory", spy: spy, cfg: chisess.Config{Backend: spy}}
	}},
	{"cookie", func() mode { return mode{name: "cookie", cfg: chisess.Config{Secret: testSecret}} }},
}

// forEachMode runs test as a subtest of t once in each mode, named for it.
func forEachMode(t *testing.T, test func(t *testing.T, tm mode)) {
	t.Helper()
	for _, mk := range modes {
		t.Run(mk.name, func(t *testing.T) { test(t, mk.make()) })
	}
}

// calls counts the backend calls of op so far; the cookie mode makes none.
func (tm mode) calls(op string) int {
	if tm.spy == nil {
		return 0
	}
	return tm.spy.count(op)
}

// total counts every backend call so far.
func (tm mode) total() int {
	if tm.spy == nil {
		return 0
	}
	return tm.spy.total()
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

func (c *client) do(method, target string) *httptest.ResponseRecorder {
	c.t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: c.name, Value: c.cookie})
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
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

// setCookie returns the response's session Set-Cookie, or nil.
func setCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// handlerFunc adapts a func that may fail into a handler that fails the
// test (via is) on error; it runs on the test goroutine under httptest.
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
