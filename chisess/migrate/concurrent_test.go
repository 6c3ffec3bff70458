package migrate_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/migrate"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/matryer/is"
)

// gatedStore is an scs store whose Find reads, then waits for release
// before it returns, and whose Find or Delete can be told to fail.
type gatedStore struct {
	scs.Store
	finds     atomic.Int32
	release   chan struct{} // nil: Find does not wait
	findErr   error
	deleteErr error
}

func (g *gatedStore) Find(token string) ([]byte, bool, error) {
	g.finds.Add(1)
	if g.findErr != nil {
		return nil, false, g.findErr
	}
	b, found, err := g.Store.Find(token)
	if g.release != nil {
		<-g.release
	}
	return b, found, err
}

func (g *gatedStore) Delete(token string) error {
	if g.deleteErr != nil {
		return g.deleteErr
	}
	return g.Store.Delete(token)
}

// newSCS returns an scs manager over store. Inside a synctest bubble, the
// cleanup goroutine of the memstore that scs.New starts is stopped once it
// waits, so that the bubble can end.
func newSCS(store scs.Store, inBubble bool) *scs.SessionManager {
	sm := scs.New()
	if inBubble {
		synctest.Wait()
		sm.Store.(*memstore.MemStore).StopCleanup()
	}
	sm.Store = store
	return sm
}

// signIn stores an scs session for user 42 through sm and returns its
// token, as a login under scs did.
func signIn(t *testing.T, sm *scs.SessionManager) string {
	t.Helper()
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sm.Put(ctx, "user_id", 42)
	token, _, err := sm.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// whoami answers with the user_id of the request's chisess session.
var whoami = chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, err := chisess.Get[int](chisess.From(r.Context()), "user_id")
	if err != nil {
		http.Error(w, "sign in", http.StatusUnauthorized)
		return
	}
	w.Write([]byte{byte('0' + id/10), byte('0' + id%10)})
}))

// Two requests that bring the same old cookie at once, such as a page's
// parallel requests after the switch. From one client (one address, over
// two connections, and one User-Agent) served by one process, they share
// one migration: the old session is read once, and both responses carry
// the one chisess session it became. Served by two processes, each reads
// the old session before the other deletes it: each makes a chisess
// session, the browser keeps the one it receives last, and the other,
// whose token only this browser ever received, is never used again and
// expires (the documented limit: scs's Store has no read-and-delete).
// From two clients, as when an attacker planted the old cookie in the
// victim's browser and races the victim's first request with it, each
// gets a session of its own: the victim's is never one the attacker holds.
func TestParallelRequestsWithOneOldCookie(t *testing.T) {
	tests := []struct {
		name      string
		processes int
		clients   [2]string // each request's RemoteAddr and User-Agent
		planted   string    // a second old cookie the second request carries after the first
		finds     int32     // reads of the old session
		sessions  int       // chisess sessions made
	}{
		{"one process", 1, [2]string{"192.0.2.1:1234 Firefox", "192.0.2.1:5678 Firefox"}, "", 1, 1},
		{"two processes", 2, [2]string{"192.0.2.1:1234 Firefox", "192.0.2.1:5678 Firefox"}, "", 2, 2},
		{"two addresses", 1, [2]string{"192.0.2.1:1234 Firefox", "198.51.100.7:1234 Firefox"}, "", 2, 2},
		{"two user agents", 1, [2]string{"192.0.2.1:1234 Firefox", "192.0.2.1:1234 curl"}, "", 2, 2},
		// The second request's cookies differ after the first: it opens
		// them all, on a migration of its own.
		{"another cookie beside", 1, [2]string{"192.0.2.1:1234 Firefox", "192.0.2.1:5678 Firefox"}, "planted", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				old := &gatedStore{Store: memstore.NewWithCleanupInterval(0), release: make(chan struct{})}
				sm := newSCS(old, true)
				token := signIn(t, sm)
				store := backend.NewMemory()
				defer store.Close()
				m, err := chisess.New(chisess.Config{Backend: store})
				is.NoErr(err)
				var apps []http.Handler
				for range tt.processes {
					apps = append(apps, migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour)}, migrate.SCS(sm))(whoami))
				}

				recs := make([]*httptest.ResponseRecorder, 2)
				done := make(chan struct{})
				for i := range recs {
					recs[i] = httptest.NewRecorder()
					req := httptest.NewRequest("GET", "/", nil)
					req.RemoteAddr, _, _ = strings.Cut(tt.clients[i], " ")
					_, ua, _ := strings.Cut(tt.clients[i], " ")
					req.Header.Set("User-Agent", ua)
					req.AddCookie(&http.Cookie{Name: "session", Value: token})
					if i == 1 && tt.planted != "" {
						req.AddCookie(&http.Cookie{Name: "session", Value: tt.planted})
					}
					go func() {
						apps[i%len(apps)].ServeHTTP(recs[i], req)
						done <- struct{}{}
					}()
					synctest.Wait() // the request waits in Find, or for the other's migration
				}
				is.Equal(old.finds.Load(), tt.finds) // the old session read once per process
				close(old.release)
				<-done
				<-done

				var cookies []string
				for _, rec := range recs {
					is.Equal(rec.Code, http.StatusOK)
					is.Equal(rec.Body.String(), "42") // both signed in
					for _, c := range rec.Result().Cookies() {
						if c.Name == m.CookieName() {
							cookies = append(cookies, c.Value)
						}
					}
				}
				is.Equal(len(cookies), 2)
				is.Equal(cookies[0] == cookies[1], tt.sessions == 1) // one session shared, or one each
				is.Equal(store.Len(), tt.sessions)
				_, found, err := old.Store.Find(token)
				is.NoErr(err)
				is.True(!found) // the old session is gone
			})
		})
	}
}

// When the old store fails, the request is answered through the manager's
// ErrorHandler and nothing is lost: no chisess cookie, the old cookie kept,
// and the old session still in its store for the next request.
func TestOldStoreFailureLosesNothing(t *testing.T) {
	broken := errors.New("store down")
	tests := []struct {
		name      string
		findErr   error
		deleteErr error
	}{
		{"find fails", broken, nil},
		{"delete fails", nil, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			old := &gatedStore{Store: memstore.NewWithCleanupInterval(0)}
			sm := newSCS(old, false)
			token := signIn(t, sm)
			old.findErr, old.deleteErr = tt.findErr, tt.deleteErr
			var got error
			m, err := chisess.New(chisess.Config{Backend: backend.NewMemory(), ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				http.Error(w, "sorry", http.StatusInternalServerError)
			}})
			is.NoErr(err)
			app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour)}, migrate.SCS(sm))(whoami)

			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: token})
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			is.Equal(rec.Code, http.StatusInternalServerError)
			is.True(errors.Is(got, broken))          // the store's error reaches the ErrorHandler
			is.Equal(len(rec.Result().Cookies()), 0) // no cookie set or expired
			old.findErr, old.deleteErr = nil, nil
			_, found, err := old.Find(token)
			is.NoErr(err)
			is.True(found) // the old session is still there

			rec = httptest.NewRecorder()
			app.ServeHTTP(rec, req) // once the store is back
			is.Equal(rec.Body.String(), "42")
		})
	}
}

// When the owner cannot be indexed, the migration fails as a failing
// chisess backend does: the request is answered by the ErrorHandler, no
// chisess cookie is sent, and the old session is still there for the
// next request, which migrates it.
func TestOwnerIndexFailureLosesNothing(t *testing.T) {
	is := is.New(t)
	old := &gatedStore{Store: memstore.NewWithCleanupInterval(0)}
	sm := newSCS(old, false)
	token := signIn(t, sm)
	b := sessiontest.NewBackend()
	broken := errors.New("index down")
	b.FailNext("index", 1, broken)
	var got []error
	m, err := chisess.New(chisess.Config{Backend: b, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = append(got, err)
		http.Error(w, "sorry", http.StatusInternalServerError)
	}})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{
		Until: time.Now().Add(time.Hour),
		Owner: func(*chisess.Session) string { return "42" },
	}, migrate.SCS(sm))(whoami)

	rec := getWithOld(app, token)
	is.Equal(rec.Code, http.StatusInternalServerError)
	is.True(len(got) > 0 && errors.Is(got[0], broken)) // the index's error reaches the ErrorHandler
	is.Equal(len(rec.Result().Cookies()), 0)           // no cookie set or expired
	_, found, err := old.Find(token)
	is.NoErr(err)
	is.True(found) // the old session is still there

	rec = getWithOld(app, token) // the next request, with the index back
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(rec.Body.String(), "42")
	owned, err := m.Sessions(context.Background(), "42")
	is.NoErr(err)
	is.Equal(len(owned), 1)
}

// hungStore is an scs store with the Ctx methods whose Find waits until
// its context ends, as a store behind a dead network path does.
type hungStore struct{ scs.Store }

func (h hungStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}
func (h hungStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return h.Commit(token, b, expiry)
}
func (h hungStore) DeleteCtx(ctx context.Context, token string) error { return h.Delete(token) }

// A hung old store holds a request no longer than Options.Timeout: the
// request is answered by the ErrorHandler with the deadline's error, and
// nothing is lost.
func TestHungOldStoreTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		mem := memstore.NewWithCleanupInterval(0)
		sm := newSCS(mem, true)
		token := signIn(t, sm)
		sm.Store = hungStore{mem}
		var got error
		store := backend.NewMemory()
		defer store.Close()
		m, err := chisess.New(chisess.Config{Backend: store, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "sorry", http.StatusServiceUnavailable)
		}})
		is.NoErr(err)
		app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Timeout: 3 * time.Second}, migrate.SCS(sm))(whoami)

		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
		rec := httptest.NewRecorder()
		start := time.Now()
		app.ServeHTTP(rec, req)
		is.Equal(time.Since(start), 3*time.Second) // held for the Timeout, not for ever
		is.Equal(rec.Code, http.StatusServiceUnavailable)
		is.True(errors.Is(got, context.DeadlineExceeded))
		_, found, err := mem.Find(token)
		is.NoErr(err)
		is.True(found) // the old session is still there
	})
}

// An old session the old library cannot decode (a type no longer
// registered with gob, a corrupt record) is not taken over, as an unknown
// token is not: its cookie is expired, the request goes on with a new
// session, and the log says so without the token. It never answers every
// request of that client with an error until Until.
func TestUndecodableOldSessionIsNotAdopted(t *testing.T) {
	is := is.New(t)
	mem := memstore.NewWithCleanupInterval(0)
	sm := newSCS(mem, false)
	token := "an-old-token-whose-record-is-corrupt"
	is.NoErr(mem.Commit(token, []byte("not gob"), time.Now().Add(time.Hour)))
	var logs strings.Builder
	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory(), ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("ErrorHandler: %v", err)
		http.Error(w, "sorry", http.StatusInternalServerError)
	}})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: slog.New(slog.NewTextHandler(&logs, nil))}, migrate.SCS(sm))(whoami)

	rec := getWithOld(app, token)
	is.Equal(rec.Code, http.StatusUnauthorized) // a new session: sign in
	var expired bool
	for _, c := range rec.Result().Cookies() {
		expired = expired || (c.Name == "session" && c.MaxAge < 0)
	}
	is.True(expired)                                        // the old cookie expired
	is.True(strings.Contains(logs.String(), "not decoded")) // logged
	is.True(!strings.Contains(logs.String(), token))        // without the token
}

// A key that chisess reserves (it starts with a NUL byte) is left out and
// logged by name, as a value with no conversion is; the rest of the old
// session is taken over.
func TestReservedOldKeyIsLeftOut(t *testing.T) {
	is := is.New(t)
	sm := newSCS(memstore.NewWithCleanupInterval(0), false)
	ctx, err := sm.Load(context.Background(), "")
	is.NoErr(err)
	sm.Put(ctx, "user_id", 42)
	sm.Put(ctx, "\x00owner", "mallory")
	token, _, err := sm.Commit(ctx)
	is.NoErr(err)
	var logs strings.Builder
	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: slog.New(slog.NewTextHandler(&logs, nil))}, migrate.SCS(sm))(whoami)

	rec := getWithOld(app, token)
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(rec.Body.String(), "42") // signed in
	is.True(strings.Contains(logs.String(), `key="\x00owner"`))
	var c *http.Cookie
	for _, sc := range rec.Result().Cookies() {
		if sc.Name == m.CookieName() {
			c = sc
		}
	}
	is.True(c != nil)
	s, err := m.Inspect(context.Background(), c.Value)
	is.NoErr(err)
	is.Equal(s.Owner(), "") // the old key did not become the owner
}

// getWithOld serves app a GET request that carries the old scs cookie of
// token.
func getWithOld(app http.Handler, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: token})
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	return rec
}
