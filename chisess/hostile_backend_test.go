package chisess_test

// Server backends as an attacker meets them: what a leaked or tampered
// store yields. The hostile-input suite's family for stored data.

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/matryer/is"
)

// A leaked store yields no live cookie: no key and no value a backend
// receives contains a token, across login, renewal, periodic renewal
// (whose forward record holds the new token only sealed under the old)
// and logout, on either backend path.
func TestBackendNeverSeesTokens(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			cfg := tm.cfg
			cfg.RenewEvery = time.Hour
			_, c := newApp(t, cfg)
			var tokens []string
			for _, step := range []struct{ method, path string }{
				{"GET", "/"}, {"POST", "/renew"}, {"GET", "/"}, {"GET", "/read"}, {"POST", "/destroy"},
			} {
				if step.path == "/read" {
					time.Sleep(2 * time.Hour) // the next request renews periodically
				}
				c.do(step.method, step.path)
				if c.cookie != "" {
					tokens = append(tokens, c.cookie)
				}
			}
			calls := tm.b.Calls()
			is.True(len(tokens) >= 3) // the flow went through several IDs
			is.True(tm.writes() > 0)  // and wrote to the store
			for _, tok := range tokens {
				for _, call := range calls {
					is.True(!strings.Contains(call.Key, tok))        // no token in any key the store is given
					is.True(!bytes.Contains(call.Data, []byte(tok))) // nor in any value it stores or returns
				}
			}
		})
	})
}

// Garbage stored under a session's key reads as "no session" with a
// warning, not a permanent 500: the visitor gets a fresh session.
func TestCorruptStoredSessionIsNotFound(t *testing.T) {
	for _, garbage := range [][]byte{
		{},
		{0xff},
		[]byte("not a record"),
		bytes.Repeat([]byte{1}, 64),
	} {
		t.Run("", func(t *testing.T) {
			is := is.New(t)
			var logs bytes.Buffer
			mem := backend.NewMemoryWithCleanup(0)
			m, c := newApp(t, chisess.Config{Backend: mem, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c.do("GET", "/")
			s, err := m.Inspect(context.Background(), c.cookie)
			is.NoErr(err)
			is.NoErr(mem.Write(context.Background(), s.Handle(), garbage, time.Hour)) // corrupt the record

			rec := c.do("GET", "/")
			is.Equal(rec.Code, 200)                                // not a 500
			is.Equal(rec.Body.String(), "1")                       // a fresh session
			is.True(strings.Contains(logs.String(), "level=WARN")) // with a warning
			is.True(strings.Contains(logs.String(), "corrupt"))
			is.Equal(c.do("GET", "/").Body.String(), "2") // and the next request works
		})
	}
}

// A record the backend still returns but whose session has expired by the
// manager's own clock and config (its TTL not yet passed, or the Lifetime
// shortened since) is never used.
func TestExpiredButUnsweptRecordIsNeverUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		mem := backend.NewMemoryWithCleanup(0)
		long := newManager(t, chisess.Config{Backend: mem, Lifetime: 48 * time.Hour})
		short := newManager(t, chisess.Config{Backend: mem, Lifetime: time.Hour})
		c := newClient(t, long, newRouter(t, long))
		c.do("GET", "/")
		time.Sleep(2 * time.Hour) // the record lives 48h in the store...
		_, err := mem.Read(context.Background(), mustHandle(t, long, c.cookie))
		is.NoErr(err) // ...and is still there
		later := newClient(t, short, newRouter(t, short))
		later.cookie = c.cookie
		is.Equal(later.do("GET", "/read").Body.String(), "0") // but the 1h lifetime has passed
	})
}

func mustHandle(t *testing.T, m *chisess.Manager, cookie string) string {
	t.Helper()
	s, err := m.Inspect(context.Background(), cookie)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handle()
}

func TestServerKeysAreHashesNotTokens(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	_, c := newApp(t, chisess.Config{Backend: b})
	c.do("GET", "/")
	calls := b.Calls()
	is.Equal(len(calls), 1)
	is.Equal(calls[0].Op, "write")                     // the new session, written
	is.True(calls[0].Key != c.cookie)                  // the backend never sees the token
	is.True(!strings.Contains(calls[0].Key, c.cookie)) // not even inside the key
	is.Equal(len(c.cookie), 43)                        // 256 bits in base64url
}
