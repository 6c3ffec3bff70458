package migrate_test

// Attacks on the promises of Options.Owner and Options.Timeout, each
// quoting the promise it tries to break.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/migrate"
)

// Options.Owner: "When the owner cannot be indexed, the request is
// answered by Config.ErrorHandler and the old session is kept for the next
// one"; that is for a failure that passes. An owner the application's
// Owner names from the old values that SetOwner can never take (a NUL
// byte, invalid UTF-8), or an owner key that takes a session full to
// Config.MaxKeys past it, fails the same way on every request. It failed
// when every request of that client until Until was answered by the
// ErrorHandler (and stored one more chisess session that no client ever
// got), as an undecodable old session no longer is.
func TestOwnerThatCanNeverBeSetDoesNotFailEveryRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		owner   string
		maxKeys int
	}{
		{"a NUL byte", "42\x00", 0},
		{"invalid UTF-8", "\xff42", 0},
		{"one key past MaxKeys", "42", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			sm := newSCS(memstore.NewWithCleanupInterval(0), false)
			token := signIn(t, sm) // user_id: one key
			var answered atomic.Int32
			m, err := chisess.New(chisess.Config{Backend: backend.NewMemory(), MaxKeys: tc.maxKeys, Logger: discardLogger(),
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					answered.Add(1)
					http.Error(w, "sorry", http.StatusInternalServerError)
				}})
			is.NoErr(err)
			app := migrate.Load(m, migrate.Options{
				Until:  time.Now().Add(time.Hour),
				Owner:  func(*chisess.Session) string { return tc.owner },
				Logger: discardLogger(),
			}, migrate.SCS(sm))(whoami)
			for range 2 {
				rec := getWithOld(app, token)
				is.True(rec.Code != http.StatusInternalServerError) // the handler answers
			}
			is.Equal(answered.Load(), int32(0)) // the ErrorHandler never
		})
	}
}

// hungWrites is a chisess backend whose writes after the first (Issue's)
// wait until their context ends, as a backend behind a dead network path
// does.
type hungWrites struct {
	backend.Backend
	writes atomic.Int32
}

func (h *hungWrites) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if h.writes.Add(1) == 1 {
		return h.Backend.Write(ctx, key, data, ttl)
	}
	<-ctx.Done()
	return ctx.Err()
}

// Options.Timeout: "Timeout bounds one migration: reading and ending the
// old sessions, and storing the new one. A request whose migration runs
// out of it is answered by Config.ErrorHandler with the context's error."
//
// The chisess backend hangs while the new session's owner is saved (the
// finishing request). It failed when that save ran detached from the
// migration's deadline, within Config.Timeout only (an hour here), and
// the ErrorHandler answering the client's request got an error saying
// only that the finishing request answered 500.
func TestTimeoutBoundsTheFinishingSave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		mem := memstore.NewWithCleanupInterval(0)
		sm := newSCS(mem, true)
		token := signIn(t, sm)
		store := backend.NewMemory()
		defer store.Close()
		var mu sync.Mutex
		var got error
		m, err := chisess.New(chisess.Config{Backend: &hungWrites{Backend: store}, Timeout: time.Hour, Logger: discardLogger(),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				mu.Lock()
				defer mu.Unlock()
				got = err // the last: the one that answers the client
				http.Error(w, "sorry", http.StatusServiceUnavailable)
			}})
		is.NoErr(err)
		app := migrate.Load(m, migrate.Options{
			Until:   time.Now().Add(time.Hour),
			Timeout: 3 * time.Second,
			Owner:   func(*chisess.Session) string { return "42" },
			Logger:  discardLogger(),
		}, migrate.SCS(sm))(whoami)

		start := time.Now()
		rec := getWithOld(app, token)
		is.True(time.Since(start) <= 3*time.Second) // held for the Timeout, not Config.Timeout
		is.Equal(rec.Code, http.StatusServiceUnavailable)
		mu.Lock()
		is.True(errors.Is(got, context.DeadlineExceeded)) // the context's error
		mu.Unlock()
		_, found, err := mem.Find(token)
		is.NoErr(err)
		is.True(found)        // the old session is still there
		time.Sleep(time.Hour) // the finishing save, left behind, gives up within Config.Timeout
	})
}

// The finishing request, for RememberMe and Owner together, runs at
// Config.Path when it is not "/", on a server-side backend and on the
// sealed cookie, for a manager with an OnEvent hook: the one cookie sent
// has that Path and RememberFor's Max-Age, the session is remembered and
// owned, and the hook hears of one session created. HOLDS.
func TestFinishAtAPathWithRememberMeAndOwner(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend func() backend.Backend // nil: the sealed cookie
	}{
		{"memory", func() backend.Backend { return backend.NewMemory() }},
		{"cookie", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			sm := newSCS(memstore.NewWithCleanupInterval(0), false)
			sm.Cookie.Persist = false
			ctx, err := sm.Load(context.Background(), "")
			is.NoErr(err)
			sm.Put(ctx, "user_id", 42)
			sm.RememberMe(ctx, true)
			token, _, err := sm.Commit(ctx)
			is.NoErr(err)
			var created atomic.Int32
			cfg := chisess.Config{Secret: "a secret of at least thirty-two bytes, for the test", Path: "/app", CookieName: "sid",
				Logger: discardLogger(),
				OnEvent: func(_ context.Context, e chisess.Event) {
					if e.Kind == chisess.EventCreated {
						created.Add(1)
					}
				}}
			if tc.backend != nil {
				cfg.Backend = tc.backend()
			}
			m, err := chisess.New(cfg)
			is.NoErr(err)
			app := migrate.Load(m, migrate.Options{
				Until:  time.Now().Add(time.Hour),
				Owner:  func(*chisess.Session) string { return "42" },
				Logger: discardLogger(),
			}, migrate.SCS(sm))(whoami)
			req := httptest.NewRequest("GET", "/app/account", nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: token})
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			is.Equal(rec.Code, http.StatusOK)
			is.Equal(rec.Body.String(), "42")
			var sent []*http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == m.CookieName() {
					sent = append(sent, c)
				}
			}
			is.Equal(len(sent), 1)
			is.Equal(sent[0].Path, "/app")
			is.Equal(sent[0].MaxAge, int(chisess.DefaultRememberFor/time.Second))
			s, err := m.Inspect(context.Background(), sent[0].Value)
			is.NoErr(err)
			is.True(s.Remembered())
			is.Equal(s.Owner(), "42")
			is.Equal(created.Load(), int32(1))
		})
	}
}
