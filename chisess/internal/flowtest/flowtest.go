// Package flowtest holds the feature flows that every server-side backend
// of this repository runs through two chisess managers on one store, as two
// app servers behind a load balancer would: the token header, periodic ID
// renewal, lifecycle events, typed keys, remember-me and the owner index.
// Each flow is a sequence of requests, alternating between the servers,
// with the expected answer after each one.
//
// The flows use real time but never wait for it: what needs time to pass
// (an expired grace window, an idle refresh coming due) is tested on the
// memory backend under testing/synctest, in package chisess. Concurrency
// scenarios (lost updates, resurrection) live in internal/racetest. Like
// racetest it is internal: backend authors outside this repository get
// sessiontest.RunConformance.
package flowtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// Run runs every flow, each on a fresh pair of handles from open. open
// returns two handles on one store, as two app servers would have (for an
// in-process store, the same value twice).
func Run(t *testing.T, open func(t *testing.T) (backend.Backend, backend.Backend)) {
	flows := []struct {
		name string
		run  func(t *testing.T, a, b backend.Backend)
	}{
		{"token-header", tokenHeader},
		{"renew-every", renewEvery},
		{"events", events},
		{"typed-keys", typedKeys},
		{"remember-me", rememberMe},
		{"owner-index", ownerIndex},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			a, b := open(t)
			f.run(t, a, b)
		})
	}
}

// secret is the Config.Secret of both servers in the events flow: with
// a server-side backend it only keys the session hashes of events.
const secret = "flowtest-secret-0123456789-abcdefghijk"

// Typed keys, declared once as an application would.
var (
	userID = chisess.NewKey[int64]("user_id")
	cart   = chisess.NewKey[[]string]("cart")
)

// servers is two app servers on one store: a manager on each handle with
// the same Config, and the same routes.
type servers struct {
	t      *testing.T
	m      [2]*chisess.Manager
	h      [2]http.Handler
	header string // the TokenHeader of the routes, "" for cookies

	// The in-flight request of /slow: it closes held once it has loaded
	// the session, then waits for release.
	held, release chan struct{}

	mu     sync.Mutex
	errs   []string           // what ErrorHandler saw, on either server
	events [2][]chisess.Event // what OnEvent saw, per server
}

// newServers starts two servers with cfg on the handles a and b. When
// header is not empty, sessions travel in that header (TokenHeader).
func newServers(t *testing.T, a, b backend.Backend, cfg chisess.Config, header string) *servers {
	t.Helper()
	srv := &servers{t: t, header: header, held: make(chan struct{}), release: make(chan struct{})}
	for i, be := range []backend.Backend{a, b} {
		c := cfg
		c.Backend = be
		c.Logger = slog.New(slog.DiscardHandler)
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			srv.mu.Lock()
			srv.errs = append(srv.errs, fmt.Sprintf("server %c: %s %s: %v", 'A'+i, r.Method, r.URL.Path, err))
			srv.mu.Unlock()
			http.Error(w, "session error", http.StatusInternalServerError)
		}
		c.OnEvent = func(_ context.Context, e chisess.Event) {
			srv.mu.Lock()
			srv.events[i] = append(srv.events[i], e)
			srv.mu.Unlock()
		}
		m, err := chisess.New(c)
		if err != nil {
			t.Fatalf("chisess.New: %v", err)
		}
		srv.m[i], srv.h[i] = m, srv.routes(m)
	}
	return srv
}

// routes is the app: the same on both servers.
func (srv *servers) routes(m *chisess.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	if srv.header != "" {
		r.Use(chisess.TokenHeader(srv.header))
	}
	r.Use(chisess.Autoload)
	// /login?remember=1&device=laptop signs ada in, with a fresh ID.
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.RenewToken()
		if err := s.Set("user", "ada"); err != nil {
			chisess.Error(w, r, err)
			return
		}
		if r.URL.Query().Get("remember") == "1" {
			s.RememberMe(true)
		}
		if d := r.URL.Query().Get("device"); d != "" {
			if err := errors.Join(s.SetOwner("ada"), s.SetDescription(d)); err != nil {
				chisess.Error(w, r, err)
				return
			}
		}
		me(w, s)
	})
	// /me only reads.
	r.Get("/me", func(w http.ResponseWriter, r *http.Request) { me(w, chisess.From(r.Context())) })
	r.Post("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := chisess.Get[int](s, "visits")
		if err := s.Set("visits", n+1); err != nil {
			chisess.Error(w, r, err)
			return
		}
		me(w, s)
	})
	r.Post("/renew", func(w http.ResponseWriter, r *http.Request) { chisess.From(r.Context()).RenewToken() })
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) { chisess.From(r.Context()).Destroy() })
	// /slow is the in-flight request: loaded, held, then it changes a key.
	r.Post("/slow", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		close(srv.held)
		<-srv.release
		if err := s.Set("cart", "tea"); err != nil {
			chisess.Error(w, r, err)
			return
		}
		me(w, s)
	})
	r.Post("/keys", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := errors.Join(userID.Set(s, 42), cart.Set(s, []string{"tea", "milk"})); err != nil {
			chisess.Error(w, r, err)
		}
	})
	r.Get("/keys", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		id, err1 := userID.Get(s)
		items, err2 := cart.Get(s)
		fmt.Fprintf(w, "%d %v %v %v", id, items, err1, err2)
	})
	r.Get("/owner", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, chisess.From(r.Context()).Owner()) })
	r.Post("/logout-others", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, err := m.DestroyOwner(r.Context(), s.Owner(), s)
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		fmt.Fprint(w, n)
	})
	return r
}

// me writes who the session belongs to and how many visits it counted.
func me(w http.ResponseWriter, s *chisess.Session) {
	u, _ := chisess.Get[string](s, "user")
	n, _ := chisess.Get[int](s, "visits")
	fmt.Fprintf(w, "%s %d", u, n)
}

// send sends one request carrying token (a cookie value, or the token
// header's value) to server i. It touches no shared state, so it may run
// on any goroutine.
func (srv *servers) send(i int, method, target, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if token != "" {
		if srv.header != "" {
			req.Header.Set(srv.header, token)
		} else {
			req.AddCookie(&http.Cookie{Name: srv.m[i].CookieName(), Value: token})
		}
	}
	rec := httptest.NewRecorder()
	srv.h[i].ServeHTTP(rec, req)
	return rec
}

// client is one browser or API client: it holds the token it was last
// given and sends each request to the server the test names.
type client struct {
	srv   *servers
	token string // the cookie value or the header value ("Bearer ..."); "" for none
}

func (srv *servers) client() *client { return &client{srv: srv} }

// do sends a request to server i and keeps the token the response hands
// out, if any.
func (c *client) do(i int, method, target string) *httptest.ResponseRecorder {
	rec := c.srv.send(i, method, target, c.token)
	if v, ok := given(rec, c.srv.header, c.srv.m[i].CookieName()); ok {
		c.token = v
	}
	return rec
}

// given returns the token a response hands out: the token header's value
// (empty: forget the token), or the session Set-Cookie's value ("" for a
// cookie that expires it). It reports false when the response hands out
// nothing.
func given(rec *httptest.ResponseRecorder, header, cookieName string) (string, bool) {
	if header != "" {
		v, ok := rec.Header()[http.CanonicalHeaderKey(header)]
		if !ok {
			return "", false
		}
		return v[0], true
	}
	c := sessionCookie(rec, cookieName)
	if c == nil {
		return "", false
	}
	if c.MaxAge < 0 {
		return "", true
	}
	return c.Value, true
}

// sessionCookie returns the response's Set-Cookie for the session, or nil.
func sessionCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// inspect returns the stored session behind token as server i sees it,
// or nil when there is none.
func (srv *servers) inspect(i int, token string) *chisess.Session {
	srv.t.Helper()
	s, err := srv.m[i].Inspect(context.Background(), token)
	if errors.Is(err, chisess.ErrUnknownSession) {
		return nil
	}
	if err != nil {
		srv.t.Fatalf("Inspect through server %c: %v", 'A'+i, err)
	}
	return s
}

// reported returns what ErrorHandler reported on either server.
func (srv *servers) reported() []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return slices.Clone(srv.errs)
}

// take returns the events server i reported since the last take.
func (srv *servers) take(i int) []chisess.Event {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	evs := srv.events[i]
	srv.events[i] = nil
	return evs
}

func kinds(evs []chisess.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind.String())
	}
	return out
}

// tokenHeader: an API client keeps its token from a response header and
// sends it back in Authorization; the session is shared between servers,
// and logout empties the header and kills the token.
func tokenHeader(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{}, "Authorization")
	c := srv.client()

	rec := c.do(0, "POST", "/login")
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(len(rec.Result().Cookies()), 0)                // no cookie under TokenHeader
	is.True(strings.HasPrefix(c.token, "Bearer "))          // the token comes back in the Bearer form
	is.True(len(c.token) > len("Bearer "))                  // and is not empty
	is.Equal(rec.Header().Get("Cache-Control"), "no-store") // a response that hands out a token is never cached
	bearer := c.token

	rec = c.do(1, "GET", "/me")
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(rec.Body.String(), "ada 0") // server B reads the session server A stored
	_, sent := rec.Header()["Authorization"]
	is.True(!sent) // an unchanged token is not sent again

	rec = c.do(1, "POST", "/logout")
	is.Equal(rec.Code, http.StatusOK)
	v, sent := rec.Header()["Authorization"]
	is.True(sent && v[0] == "") // logout answers with an empty Authorization header
	is.Equal(c.token, "")       // so the client forgets its token

	stale := srv.client()
	stale.token = bearer
	rec = stale.do(0, "GET", "/me")
	is.Equal(rec.Body.String(), " 0") // the token is dead on the other server too
	is.Equal(stale.token, "")         // and the client is told to drop it
	is.Equal(srv.inspect(1, strings.TrimPrefix(bearer, "Bearer ")), nil)
	is.Equal(srv.reported(), []string(nil)) // no session errors
}

// renewEvery: with RenewEvery every request renews the ID, and the old ID
// leads to the session for RenewGrace: an in-flight request that loaded
// the session before another request renewed it still commits, into the
// renewed session, and a request still holding an old ID sees the data and
// is handed a newer token.
//
// The end of the grace window needs time to pass, so it is covered on the
// memory backend with a fake clock (TestRenewEvery in chisess/renew_test.go).
func renewEvery(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{RenewEvery: time.Nanosecond, RenewGrace: time.Minute}, "")
	c := srv.client()

	c.do(0, "POST", "/login")
	t1 := c.token
	is.True(t1 != "") // request 1 logs in

	rec := c.do(1, "GET", "/me")
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(rec.Body.String(), "ada 0")
	is.True(sessionCookie(rec, srv.m[0].CookieName()) != nil) // request 2, read-only, renews the ID
	t2 := c.token
	is.True(t2 != t1) // and hands out a new token

	t.Run("in-flight-commit-lands", func(t *testing.T) {
		is := is.New(t)
		// An in-flight request loads the session with t2 and is held;
		// another request renews the ID; the held one then commits.
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- srv.send(0, "POST", "/slow", t2) }()
		<-srv.held
		rec := c.do(1, "GET", "/me")
		is.Equal(rec.Code, http.StatusOK)
		t3 := c.token
		is.True(t3 != t2) // the ID was renewed while the slow request was held
		close(srv.release)
		rec = <-done
		is.Equal(rec.Code, http.StatusOK) // the in-flight request still succeeds
		got, _ := given(rec, "", srv.m[0].CookieName())
		is.Equal(got, t3) // and is handed the renewed token
		s := srv.inspect(1, t3)
		is.True(s != nil) // the renewed session is live
		v, err := chisess.Get[string](s, "cart")
		is.NoErr(err)      // the in-flight change landed in the renewed session
		is.Equal(v, "tea") // with its value
		u, _ := chisess.Get[string](s, "user")
		is.Equal(u, "ada")                      // and the session kept its data
		is.Equal(srv.reported(), []string(nil)) // no session errors
	})

	t.Run("old-id-within-grace", func(t *testing.T) {
		is := is.New(t)
		cur := c.token
		late := srv.client()
		late.token = t1 // two renewals old by now
		rec := late.do(0, "GET", "/me")
		is.Equal(rec.Code, http.StatusOK)
		is.Equal(rec.Body.String(), "ada 0")           // the old ID, within the grace window, reaches the session
		is.True(late.token != t1 && late.token != cur) // and is handed a newer token still
		s := srv.inspect(1, late.token)
		is.True(s != nil) // which leads to the session
		u, _ := chisess.Get[string](s, "user")
		is.Equal(u, "ada")                      // with its data
		is.Equal(srv.reported(), []string(nil)) // no session errors
	})
}

// events: OnEvent follows one session through login, visit, RenewToken and
// logout across both servers. Session hashes are never empty and never the
// token; servers that share Config.Secret agree on them, and a server with
// another secret does not.
func events(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{Secret: secret}, "")
	c := srv.client()
	var tokens, hashes []string
	check := func(evs []chisess.Event) {
		for _, e := range evs {
			is.True(e.Session != "") // every event of a live session names it
			hashes = append(hashes, e.Session)
			if e.Previous != "" {
				hashes = append(hashes, e.Previous)
			}
		}
	}

	c.do(0, "POST", "/login")
	tokens = append(tokens, c.token)
	evs := srv.take(0)
	is.Equal(kinds(evs), []string{"created", "committed"}) // server A stored a new session
	check(evs)
	h1 := evs[0].Session
	is.Equal(evs[1].Session, h1)

	c.do(1, "POST", "/visit")
	evs = srv.take(1)
	is.Equal(kinds(evs), []string{"loaded", "committed"}) // server B loaded and saved it
	check(evs)
	is.Equal(evs[0].Session, h1) // with the same Secret, server B hashes the session as server A did

	c.do(0, "POST", "/renew")
	tokens = append(tokens, c.token)
	evs = srv.take(0)
	is.Equal(kinds(evs), []string{"loaded", "renewed", "committed"})
	check(evs)
	is.Equal(evs[1].Previous, h1) // the renewal names the old ID
	h2 := evs[1].Session
	is.True(h2 != h1) // and the new one, which hashes differently

	// A third server with another secret hashes the same session
	// differently: hashes agree only between servers that share it.
	var other []chisess.Event
	m3, err := chisess.New(chisess.Config{
		Backend: a, Secret: strings.ToUpper(secret), Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(_ context.Context, e chisess.Event) { other = append(other, e) },
	})
	is.NoErr(err)
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: m3.CookieName(), Value: c.token})
	chisess.Load(m3)(chisess.Autoload(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))).ServeHTTP(httptest.NewRecorder(), req)
	is.Equal(kinds(other), []string{"loaded"})
	is.True(other[0].Session != "" && other[0].Session != h2) // another secret, another hash

	c.do(1, "POST", "/logout")
	evs = srv.take(1)
	is.Equal(kinds(evs), []string{"loaded", "destroyed"}) // server B ended it
	check(evs)
	is.Equal(evs[1].Session, h2) // under the hash server A gave its new ID

	for _, h := range hashes {
		for _, tok := range tokens {
			is.True(h != tok && !strings.Contains(tok, h) && !strings.Contains(h, tok)) // an event never carries the token
		}
	}
	is.Equal(srv.reported(), []string(nil)) // no session errors
}

// typedKeys: an int64 and a []string written through typed keys on one
// server read back as the same types on the other; reading them as
// another type is ErrWrongType, never a conversion.
func typedKeys(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{}, "")
	c := srv.client()

	is.Equal(c.do(0, "POST", "/keys").Code, http.StatusOK)
	is.Equal(c.do(1, "GET", "/keys").Body.String(), "42 [tea milk] <nil> <nil>") // server B reads both back, typed

	s := srv.inspect(0, c.token)
	is.True(s != nil) // the stored session, as server A sees it
	id, err := userID.Get(s)
	is.NoErr(err)
	is.Equal(id, int64(42))
	items, err := cart.Get(s)
	is.NoErr(err)
	is.Equal(items, []string{"tea", "milk"})
	_, err = chisess.NewKey[int]("user_id").Get(s)
	is.True(errors.Is(err, chisess.ErrWrongType)) // an int64 is not read as an int
	_, err = chisess.NewKey[int64]("cart").Get(s)
	is.True(errors.Is(err, chisess.ErrWrongType)) // nor a []string as an int64
	_, err = chisess.NewKey[string]("user_id").Get(s)
	is.True(errors.Is(err, chisess.ErrWrongType)) // nor an int64 as a string
	is.Equal(srv.reported(), []string(nil))       // no session errors
}

// rememberMe: RememberMe(true) at login gives a cookie that persists for
// RememberFor, and the stored session is remembered as the other server
// sees it; a plain login gets a browser-session cookie.
func rememberMe(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	const rememberFor = 7 * 24 * time.Hour
	srv := newServers(t, a, b, chisess.Config{RememberFor: rememberFor}, "")

	kept := srv.client()
	rec := kept.do(0, "POST", "/login?remember=1")
	sc := sessionCookie(rec, srv.m[0].CookieName())
	is.True(sc != nil)                                        // the login sets the cookie
	is.Equal(sc.MaxAge, int(rememberFor/time.Second))         // which persists for RememberFor
	is.Equal(kept.do(1, "GET", "/me").Body.String(), "ada 0") // and works on server B
	s := srv.inspect(1, kept.token)
	is.True(s != nil)       // server B sees the stored session
	is.True(s.Remembered()) // remembered

	plain := srv.client()
	rec = plain.do(1, "POST", "/login")
	sc = sessionCookie(rec, srv.m[0].CookieName())
	is.True(sc != nil)     // a plain login sets the cookie too
	is.Equal(sc.MaxAge, 0) // but a browser-session one, without Max-Age
	s = srv.inspect(0, plain.token)
	is.True(s != nil)                       // server A sees it
	is.True(!s.Remembered())                // not remembered
	is.Equal(srv.reported(), []string(nil)) // no session errors
}

// ownerIndex: three logins of one owner, two through server A and one
// through B, are listed by either server; "log out everywhere else" from
// B ends the other two, whose next request is logged out. A store without
// backend.Indexer answers ErrNoOwnerIndex instead.
func ownerIndex(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	ctx := context.Background()
	srv := newServers(t, a, b, chisess.Config{}, "")

	// The same store seen without its owner index cannot list sessions.
	blind, err := chisess.New(chisess.Config{Backend: hideIndex{a}, Logger: slog.New(slog.DiscardHandler)})
	is.NoErr(err)
	_, err = blind.Sessions(ctx, "ada")
	is.True(errors.Is(err, chisess.ErrNoOwnerIndex)) // Sessions needs backend.Indexer
	_, err = blind.DestroyOwner(ctx, "ada", nil)
	is.True(errors.Is(err, chisess.ErrNoOwnerIndex)) // and so does DestroyOwner
	if _, ok := a.(backend.Indexer); !ok {
		_, err := srv.m[0].Sessions(ctx, "ada")
		is.True(errors.Is(err, chisess.ErrNoOwnerIndex)) // this store has no owner index
		return
	}

	laptop, phone, tablet := srv.client(), srv.client(), srv.client()
	laptop.do(0, "POST", "/login?device=laptop")
	phone.do(0, "POST", "/login?device=phone")
	tablet.do(1, "POST", "/login?device=tablet")
	for i := range 2 {
		is.Equal(devices(t, srv.m[i], "ada"), []string{"laptop", "phone", "tablet"}) // either server lists all three
	}
	is.Equal(devices(t, srv.m[0], "bob"), []string(nil)) // another owner has none

	is.Equal(tablet.do(1, "POST", "/logout-others").Body.String(), "2") // log out everywhere else, from server B
	is.Equal(laptop.do(0, "GET", "/owner").Body.String(), "")           // the laptop's next request is logged out
	is.Equal(laptop.token, "")                                          // and told to drop its cookie
	is.Equal(phone.do(1, "GET", "/owner").Body.String(), "")            // so is the phone's
	is.Equal(phone.token, "")
	is.Equal(tablet.do(0, "GET", "/owner").Body.String(), "ada") // the tablet kept its session
	for i := range 2 {
		is.Equal(devices(t, srv.m[i], "ada"), []string{"tablet"}) // and is all either server lists
	}
	is.Equal(srv.reported(), []string(nil)) // no session errors
}

// devices returns the sorted descriptions of the owner's sessions.
func devices(t *testing.T, m *chisess.Manager, owner string) []string {
	t.Helper()
	infos, err := m.Sessions(context.Background(), owner)
	if err != nil {
		t.Fatalf("Sessions(%q): %v", owner, err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Description)
	}
	slices.Sort(out)
	return out
}

// hideIndex hides every optional interface of the backend it wraps.
type hideIndex struct{ backend.Backend }
