package migrate_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/migrate"
	"github.com/gorilla/sessions"
	"github.com/matryer/is"
)

// serveWith sends one request to h with cookies and returns the response.
func serveWith(h http.Handler, cookies ...*http.Cookie) *http.Response {
	req := httptest.NewRequest("GET", "https://example.com/account", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// attackApp is chisess with migrate.Load over source; /account answers 401
// without user_id, else the user_id.
func attackApp(t *testing.T, b backend.Backend, source ...migrate.Source) (http.Handler, *chisess.Manager) {
	t.Helper()
	m, err := chisess.New(chisess.Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	h := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: discardLogger()}, source...)(
		chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			if !s.Has("user_id") {
				http.Error(w, "sign in", http.StatusUnauthorized)
				return
			}
			id, _ := chisess.Get[any](s, "user_id")
			_ = id
			io.WriteString(w, "ok")
		})))
	return h, m
}

// A gorilla FilesystemStore cookie that verifies but whose file is gone
// (taken over already by an earlier request or another process, or
// removed by a cleanup job, since FilesystemStore never deletes expired
// files itself) leads to no session: docs/migrating.md says such a cookie
// "is never adopted: the old cookie is expired and the request goes on
// with a new, empty session". It failed when migrate.Gorilla took the
// missing file for a store failure: every request that carried the cookie
// was answered by the ErrorHandler (500), and the cookie never expired.
func TestGorillaFilesystemFileGoneIsNotA500(t *testing.T) {
	is := is.New(t)
	store, _, old := fsSession(t)

	app, m := attackApp(t, backend.NewMemory(), migrate.Gorilla(store, fsSessionName))

	// The first request takes the session over and removes its file.
	first := serveWith(app, old)
	is.Equal(first.StatusCode, http.StatusOK)
	is.True(setCookie(first, m.CookieName()) != nil)

	// A second request with the same old cookie, sent before the browser
	// got the first response (a page's parallel requests, another process).
	second := serveWith(app, old)
	is.True(second.StatusCode != http.StatusInternalServerError) // got 500: the missing file is taken for a store failure
	expired := setCookie(second, fsSessionName)
	is.True(expired != nil && expired.MaxAge < 0) // the old cookie is expired
}

// The same, with the file removed before any request (a cleanup job).
func TestGorillaFilesystemFileCleanedIsNotA500(t *testing.T) {
	is := is.New(t)
	store, dir, old := fsSession(t)
	files, _ := filepath.Glob(filepath.Join(dir, "session_*"))
	for _, f := range files {
		is.NoErr(os.Remove(f))
	}

	app, _ := attackApp(t, backend.NewMemory(), migrate.Gorilla(store, fsSessionName))
	for range 2 { // and it does not heal: every request with the cookie
		resp := serveWith(app, old)
		is.Equal(resp.StatusCode, http.StatusUnauthorized) // a new, empty session, not a 500
	}
}

// migrate.Load takes sources... and "takes over the old sessions of the
// sources", but only the first old cookie a request carries is read: a
// user who holds two old sessions (two gorilla names, as gorilla's
// registry invites, or scs and gorilla) gets the first's values, and the
// second's cookie is then "expired unread" on the next request because the
// client now has a live chisess session: its values are lost.
func TestTwoSourcesBothTakenOver(t *testing.T) {
	is := is.New(t)
	store := sessions.NewCookieStore(gorillaHash, gorillaBlock)
	login := httptest.NewRequest("POST", "/login", nil)
	rec := httptest.NewRecorder()
	a, _ := store.Get(login, "app")
	a.Values["user_id"] = 42
	b, _ := store.Get(login, "prefs")
	b.Values["theme"] = "dark"
	is.NoErr(sessions.Save(login, rec))
	var oldA, oldB *http.Cookie
	for _, c := range rec.Result().Cookies() {
		switch c.Name {
		case "app":
			oldA = c
		case "prefs":
			oldB = c
		}
	}
	is.True(oldA != nil && oldB != nil)

	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	is.NoErr(err)
	var theme atomic.Value
	app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: discardLogger()},
		migrate.Gorilla(store, "app"), migrate.Gorilla(store, "prefs"))(
		chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, _ := chisess.Get[string](chisess.From(r.Context()), "theme")
			theme.Store(v)
		})))

	// A browser: first request with both old cookies, then with what it
	// holds after the response.
	jar := map[string]*http.Cookie{"app": oldA, "prefs": oldB}
	for range 2 {
		var cs []*http.Cookie
		for _, c := range jar {
			cs = append(cs, c)
		}
		resp := serveWith(app, cs...)
		for _, c := range resp.Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c
			}
		}
	}
	is.Equal(theme.Load(), "dark") // the second old session's value was taken over
}

// An old scs session with a value "taken as it is" that chisess's codec
// cannot encode (a float32 NaN goes through the JSON codec) makes Issue
// fail with an error that is not one of the "does not fit" ones: the user
// gets the ErrorHandler's 500 on every request until Until, rather than
// the key being left out and logged (Options.Converters: "any other value
// is left out and its key logged").
func TestUnencodableValueIsLeftOutNotA500(t *testing.T) {
	is := is.New(t)
	sm := scs.New()
	ms := memstore.NewWithCleanupInterval(0)
	sm.Store = ms
	ctx, err := sm.Load(context.Background(), "")
	is.NoErr(err)
	sm.Put(ctx, "user_id", 42)
	sm.Put(ctx, "score", float32(math.NaN()))
	token, _, err := sm.Commit(ctx)
	is.NoErr(err)

	app, _ := attackApp(t, backend.NewMemory(), migrate.SCS(sm))
	resp := serveWith(app, &http.Cookie{Name: "session", Value: token})
	is.Equal(resp.StatusCode, http.StatusOK) // signed in, "score" left out; got 500
}

// failingWrites is a memory backend whose writes fail once fail is set.
type failingWrites struct {
	*backend.Memory
	fail atomic.Bool
}

var errBackendDown = errors.New("backend down")

func (f *failingWrites) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if f.fail.Load() {
		return errBackendDown
	}
	return f.Memory.Write(ctx, key, data, ttl)
}

func (f *failingWrites) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if f.fail.Load() {
		return false, errBackendDown
	}
	return f.Memory.Swap(ctx, key, old, data, ttl)
}

// the migration request's own commit fails, or the handler answers
// 5xx, after the old scs session was deleted: the response still sets the
// chisess cookie the old session became (it is set outside chisess.Load),
// so the user keeps their sign-in.
func TestFailingCommitKeepsMigratedSignIn(t *testing.T) {
	for _, mode := range []string{"commit fails", "handler 500"} {
		t.Run(mode, func(t *testing.T) {
			is := is.New(t)
			sm := scs.New()
			sm.Store = memstore.NewWithCleanupInterval(0)
			ctx, _ := sm.Load(context.Background(), "")
			sm.Put(ctx, "user_id", 42)
			token, _, err := sm.Commit(ctx)
			is.NoErr(err)

			fb := &failingWrites{Memory: backend.NewMemory()}
			m, err := chisess.New(chisess.Config{Backend: fb})
			is.NoErr(err)
			var first atomic.Bool
			first.Store(true)
			app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: discardLogger()}, migrate.SCS(sm))(
				chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s := chisess.From(r.Context())
					if first.Swap(false) {
						if mode == "commit fails" {
							fb.fail.Store(true)
							s.Set("visits", 1)
							return
						}
						s.Set("visits", 1)
						http.Error(w, "boom", http.StatusInternalServerError)
						return
					}
					if !s.Has("user_id") {
						http.Error(w, "sign in", http.StatusUnauthorized)
					}
				})))
			resp := serveWith(app, &http.Cookie{Name: "session", Value: token})
			is.Equal(resp.StatusCode, http.StatusInternalServerError)
			fb.fail.Store(false)
			c := setCookie(resp, m.CookieName())
			is.True(c != nil && c.MaxAge >= 0) // the migrated session's cookie is still sent
			_, found, _ := sm.Store.Find(token)
			is.True(!found) // the old session is gone
			next := serveWith(app, c)
			is.Equal(next.StatusCode, http.StatusOK) // still signed in
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fsSessionName is the cookie name of fsSession's gorilla sessions.
const fsSessionName = "fsession"

// fsSession signs a user in under a gorilla FilesystemStore in a fresh
// directory and returns the store, the directory and the session cookie.
func fsSession(t *testing.T) (*sessions.FilesystemStore, string, *http.Cookie) {
	t.Helper()
	is := is.New(t)
	dir := t.TempDir()
	store := sessions.NewFilesystemStore(dir, gorillaHash, gorillaBlock)
	login := httptest.NewRequest("POST", "/login", nil)
	rec := httptest.NewRecorder()
	s, _ := store.Get(login, fsSessionName)
	s.Values["user_id"] = 42
	is.NoErr(s.Save(login, rec))
	return store, dir, rec.Result().Cookies()[0]
}
