package rueidisbackend_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/matryer/is"
)

// appServer is one app server: a manager on a Store with a client and a
// cache of its own, the count of its round trips, and its routes.
type appServer struct {
	m     *chisess.Manager
	store *rueidisbackend.Store
	rt    *writes
	h     http.Handler
}

func newAppServer(t *testing.T, addrs []string, prefix string) *appServer {
	t.Helper()
	store, rt := openStore(t, addrs, prefix, rueidisbackend.Options{})
	m, err := chisess.New(chisess.Config{Backend: store, Insecure: true, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, "session error", http.StatusInternalServerError)
	}})
	if err != nil {
		t.Fatalf("chisess.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err)
			return
		}
		s.RenewToken()
		if err := errors.Join(s.Set("user", "ada"), s.SetOwner("ada")); err != nil {
			chisess.Error(w, r, err)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err)
			return
		}
		user, _ := chisess.Get[string](s, "user")
		w.Write([]byte(user))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err)
			return
		}
		s.Destroy()
	})
	return &appServer{m: m, store: store, rt: rt, h: chisess.Load(m)(mux)}
}

// do sends one request with the session cookie token ("" for none) and
// returns the body, the session cookie it sets ("" if none) and the round
// trips it cost.
func (a *appServer) do(t *testing.T, method, path, token string) (body, setToken string, trips int64) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
	}
	rec := httptest.NewRecorder()
	before := a.rt.load()
	a.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "session" {
			setToken = c.Value
		}
	}
	return rec.Body.String(), setToken, a.rt.load() - before
}

// awaitGone polls the Store until the session of token is gone from its
// cache and from Redis. An invalidation is a push from the server that
// arrives when it arrives; the poll gives it two seconds.
func awaitGone(t *testing.T, a *appServer, token string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := a.m.Inspect(t.Context(), token)
		if errors.Is(err, chisess.ErrUnknownSession) {
			return
		}
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the session is still in the other server's cache two seconds after the logout")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// TestLogoutReachesOtherServer: ada signs in on app server A, her session
// is read and cached on server B, and she logs out on A. Once the
// invalidation has reached B (Sync, or the push by itself), a request on B
// finds the session gone; and "log out everywhere" on A ends the session
// that B had cached from a second device.
func TestLogoutReachesOtherServer(t *testing.T) {
	for _, top := range topologies {
		for _, wait := range []struct {
			name string
			wait func(t *testing.T, b *appServer, token string)
		}{
			{"sync", func(t *testing.T, b *appServer, _ string) {
				if err := b.store.Sync(t.Context()); err != nil {
					t.Fatalf("Sync: %v", err)
				}
			}},
			{"push", awaitGone},
		} {
			t.Run(top.name+", "+wait.name, func(t *testing.T) {
				is := is.New(t)
				addrs, prefix := top.addrs(t), testPrefix()
				a, b := newAppServer(t, addrs, prefix), newAppServer(t, addrs, prefix)

				_, token, _ := a.do(t, "POST", "/login", "")
				is.True(token != "") // logged in on A
				// The invalidation of A's login may still be on its way to
				// B; arriving while B reads the session, it would keep B
				// from caching what it read. Wait for it.
				is.NoErr(b.store.Sync(t.Context()))
				body, _, _ := b.do(t, "GET", "/me", token)
				is.Equal(body, "ada") // B reads the session from Redis
				body, _, trips := b.do(t, "GET", "/me", token)
				is.Equal(body, "ada")     // and again
				is.Equal(trips, int64(0)) // from its cache, with no round trip

				_, cleared, _ := a.do(t, "POST", "/logout", token)
				is.Equal(cleared, "") // the logout expires the cookie
				wait.wait(t, b, token)
				body, set, _ := b.do(t, "GET", "/me", token)
				is.Equal(body, "") // B finds the session gone: an anonymous visitor
				is.Equal(set, "")  // and gives it no session

				// Log out everywhere: a session on each server, both
				// cached on B, ended from A.
				_, t1, _ := a.do(t, "POST", "/login", "")
				_, t2, _ := b.do(t, "POST", "/login", "")
				for _, tok := range []string{t1, t2} {
					body, _, _ := b.do(t, "GET", "/me", tok)
					is.Equal(body, "ada") // cached on B
				}
				n, err := a.m.DestroyOwner(t.Context(), "ada", nil)
				is.NoErr(err)  // DestroyOwner on A
				is.Equal(n, 2) // ends both sessions
				for _, tok := range []string{t1, t2} {
					wait.wait(t, b, tok)
					body, _, _ := b.do(t, "GET", "/me", tok)
					is.Equal(body, "") // B finds each one gone
				}
				_, err = b.store.Read(t.Context(), "missing")
				is.True(errors.Is(err, backend.ErrNotFound)) // the Store still answers
			})
		}
	}
}
