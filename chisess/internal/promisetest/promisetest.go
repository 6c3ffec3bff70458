// Package promisetest tries to break, on a real store, the promises that
// docs/backends.md makes for every server-side backend: a logout ends the
// session whatever renewals happened since it was loaded, managers sharing a
// store never open each other's sessions, what a commit writes can be read
// back, flash messages of concurrent requests are all kept, no response
// hands out a dead session's cookie, a cookie's Expires names the instant
// its Max-Age does, and a request outside the cookie's Path changes
// nothing. Each scenario is a failure that was once real: two app servers
// (a manager on each of two handles on one store) and requests held at a
// point in their handler, so that the order that broke the promise is
// forced, not hoped for. It is internal: backend
// authors outside this repository get sessiontest.RunConformance.
//
// The promises hold for Session.Save as for the commit: a streaming
// response that saves mid-stream merges with the requests of the other
// server and never brings back a session they ended. Two managers on one
// store that serve one request keep their sessions apart as two apps do.
package promisetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testhook"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// Run runs every scenario. open returns two handles on one store, as two
// app servers would have (for an in-process store, the same value twice).
func Run(t *testing.T, open func(t *testing.T) (backend.Backend, backend.Backend)) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, a, b backend.Backend)
	}{
		{"logout-follows-a-periodic-renewal", logoutFollowsPeriodicRenewal},
		{"logout-follows-a-periodic-renewal-that-writes", logoutFollowsRenewalThatWrites},
		{"logout-follows-a-login-renewal", logoutFollowsLoginRenewal},
		{"logout-follows-two-renewals", logoutFollowsTwoRenewals},
		{"log-out-everywhere-follows-a-renewal", logOutEverywhereFollowsRenewal},
		{"managers-isolated-by-cookie", managersIsolatedByCookie},
		{"managers-isolated-by-header", managersIsolatedByHeader},
		{"managers-isolated-in-the-owner-index", managersIsolatedInOwnerIndex},
		{"two-managers-on-one-request", twoManagersOnOneRequest},
		{"largest-session-reads-back", largestSessionReadsBack},
		{"merge-past-the-limit-fails-clearly", mergePastLimitFails},
		{"concurrent-flashes-all-kept", concurrentFlashesAllKept},
		{"refresh-of-an-ended-session-sends-no-cookie", refreshOfEndedSessionSendsNoCookie},
		{"expiry-to-the-millisecond", expiryToTheMillisecond},
		{"max-lifetime-holds-against-activity", maxLifetimeHoldsAgainstActivity},
		{"own-lifetime-enforced-and-followed", ownLifetimeEnforcedAndFollowed},
		{"own-lifetime-kept-by-a-concurrent-change", ownLifetimeKeptByConcurrentChange},
		{"expires-and-max-age-name-one-instant", expiresAndMaxAgeNameOneInstant},
		{"outside-the-path-changes-nothing", outsideThePathChangesNothing},
		{"save-mid-stream-merges-and-never-resurrects", saveMidStream(chisess.Config{})},
		{"save-mid-stream-follows-renewals", saveMidStream(chisess.Config{RenewEvery: time.Nanosecond, RenewGrace: time.Minute})},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a, b := open(t)
			sc.run(t, a, b)
		})
	}
}

// servers is two app servers on one store: a manager with the same Config
// on each handle, and the same routes.
type servers struct {
	t      *testing.T
	m      [2]*chisess.Manager
	r      [2]chi.Router
	header string // the TokenHeader of the routes, "" for cookies
	clock  *testclock.Clock

	mu   sync.Mutex
	errs []error // what the ErrorHandlers saw
}

func newServers(t *testing.T, a, b backend.Backend, cfg chisess.Config) *servers {
	t.Helper()
	srv := &servers{t: t, clock: testclock.New()}
	// Half a millisecond on: records keep times in milliseconds, so a
	// token made now is already older than a RenewEvery of a nanosecond
	// when it is next read, as with a real clock.
	srv.clock.Add(time.Millisecond / 2)
	for i, be := range []backend.Backend{a, b} {
		c := cfg
		c.Backend = be
		c.Timeout = time.Minute
		c.Logger = slog.New(slog.DiscardHandler)
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			srv.mu.Lock()
			srv.errs = append(srv.errs, err)
			srv.mu.Unlock()
			code := http.StatusInternalServerError
			if errors.Is(err, chisess.ErrStaleSession) {
				code = http.StatusConflict
			}
			http.Error(w, "session error", code)
		}
		m, err := chisess.New(c)
		if err != nil {
			t.Fatalf("chisess.New: %v", err)
		}
		testhook.SetClock(m, srv.clock.Now)
		r := chi.NewRouter()
		r.Use(chisess.Load(m))
		srv.m[i], srv.r[i] = m, r
	}
	return srv
}

// withHeader makes sessions travel in the Authorization header.
func (srv *servers) withHeader() *servers {
	srv.header = "Authorization"
	for _, r := range srv.r {
		r.Use(chisess.TokenHeader(srv.header))
	}
	return srv
}

// handle serves f on both servers, with the session loaded.
func (srv *servers) handle(pattern string, f func(w http.ResponseWriter, r *http.Request, s *chisess.Session)) {
	for _, r := range srv.r {
		r.With(chisess.Autoload).HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f(w, r, chisess.From(r.Context()))
		})
	}
}

// do sends a request carrying token to server i, and returns the response
// and the token it hands out ("" for none; "-" when it drops the token).
func (srv *servers) do(i int, method, path, token string) (*httptest.ResponseRecorder, string) {
	req := httptest.NewRequest(method, path, nil)
	name := srv.m[i].CookieName()
	if token != "" {
		if srv.header != "" {
			req.Header.Set(srv.header, "Bearer "+token)
		} else {
			req.AddCookie(&http.Cookie{Name: name, Value: token})
		}
	}
	rec := httptest.NewRecorder()
	srv.r[i].ServeHTTP(rec, req)
	return rec, given(rec, srv.header, name)
}

// given is the token a response hands out: "" for none, "-" when it tells
// the client to drop the one it holds.
func given(rec *httptest.ResponseRecorder, header, name string) string {
	if header != "" {
		v, ok := rec.Header()[header]
		switch {
		case !ok:
			return ""
		case v[0] == "":
			return "-"
		}
		return strings.TrimPrefix(v[0], "Bearer ")
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			if c.MaxAge < 0 {
				return "-"
			}
			return c.Value
		}
	}
	return ""
}

// live reports whether token leads to a live session on server i.
func (srv *servers) live(i int, token string) bool {
	srv.t.Helper()
	_, err := srv.m[i].Inspect(context.Background(), token)
	if err != nil && !errors.Is(err, chisess.ErrUnknownSession) {
		srv.t.Fatalf("Inspect: %v", err)
	}
	return err == nil
}

// login signs ada in on server i with a fresh token, and returns it.
func (srv *servers) login(i int) string {
	srv.t.Helper()
	rec, token := srv.do(i, "POST", "/login", "")
	if rec.Code != http.StatusOK || token == "" || token == "-" {
		srv.t.Fatalf("login: %d, token %q, errors %v", rec.Code, token, srv.errors())
	}
	return token
}

func (srv *servers) errors() []error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]error(nil), srv.errs...)
}

// routes mounts the app most scenarios use: login (a new token, ada as user
// and owner), me (reads the user), visit (counts), logout (Destroy, after
// the gate when one is given), flash (adds one), flashes (shows them).
func (srv *servers) routes(logoutGate *gate) {
	srv.handle("/login", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := errors.Join(s.RenewToken(), s.Set("user", "ada"), s.SetOwner("ada")); err != nil {
			chisess.Error(w, r, err)
		}
	})
	srv.handle("/me", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		u, _ := chisess.Get[string](s, "user")
		fmt.Fprint(w, u)
	})
	srv.handle("/visit", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		n, _ := chisess.Get[int](s, "visits")
		if err := s.Set("visits", n+1); err != nil {
			chisess.Error(w, r, err)
		}
	})
	srv.handle("/logout", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		logoutGate.wait()
		if err := s.Destroy(); err != nil {
			chisess.Error(w, r, err)
		}
	})
}

// gate holds the requests that reach it until it is released; a nil gate
// holds nothing.
type gate struct {
	reached, release chan struct{}
	once             sync.Once
}

func newGate() *gate { return &gate{reached: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) wait() {
	if g == nil {
		return
	}
	g.once.Do(func() { close(g.reached) })
	<-g.release
}

// async runs f on its own goroutine and returns a channel of its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

type response struct {
	rec   *httptest.ResponseRecorder
	token string
}

// racingLogout mounts the app with cfg and a logout that waits at a gate,
// and signs ada in: the start of every logout race.
func racingLogout(t *testing.T, a, b backend.Backend, cfg chisess.Config) (*servers, *gate, string) {
	srv := newServers(t, a, b, cfg)
	g := newGate()
	srv.routes(g)
	return srv, g, srv.login(1)
}

// logoutRace holds a logout that loaded the session under token, runs
// meanwhile, then lets the logout go on, and checks the promise: the logout
// answers 200 and every token of the session is dead, or it fails with
// ErrStaleSession; never a 2xx while the session lives on.
func logoutRace(t *testing.T, srv *servers, g *gate, token string, meanwhile func() []string) {
	is := is.New(t)
	done := async(func() response {
		rec, tok := srv.do(0, "POST", "/logout", token)
		return response{rec, tok}
	})
	<-g.reached
	tokens := append([]string{token}, meanwhile()...)
	close(g.release)
	l := <-done
	switch l.rec.Code {
	case http.StatusOK:
		is.Equal(l.token, "-") // the logout drops the client's token
		for i, tok := range tokens {
			if srv.live(1, tok) {
				t.Fatalf("the logout answered 200, yet token %d of the session still leads to a live session", i)
			}
		}
	case http.StatusConflict:
		is.True(errors.Is(srv.errors()[0], chisess.ErrStaleSession)) // an honest failure, never a false success
	default:
		t.Fatalf("the logout answered %d (%v)", l.rec.Code, srv.errors())
	}
}

// Request L (logout) loads the session and waits; request R with the same
// token triggers the periodic renewal and commits; then L destroys. Before
// the fix, L deleted the record under the old token only (by then a
// forward record) and the renewed session lived on.
func logoutFollowsPeriodicRenewal(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv, g, t0 := racingLogout(t, a, b, chisess.Config{RenewEvery: time.Nanosecond, RenewGrace: time.Minute})
	logoutRace(t, srv, g, t0, func() []string {
		rec, t1 := srv.do(1, "GET", "/me", t0)
		is.Equal(rec.Body.String(), "ada")
		is.True(t1 != "" && t1 != t0) // R renewed the token
		return []string{t1}
	})
}

// As above, with R also writing a key: the renewal and the change go out
// together.
func logoutFollowsRenewalThatWrites(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv, g, t0 := racingLogout(t, a, b, chisess.Config{RenewEvery: time.Nanosecond, RenewGrace: time.Minute})
	logoutRace(t, srv, g, t0, func() []string {
		rec, t1 := srv.do(1, "POST", "/visit", t0)
		is.Equal(rec.Code, http.StatusOK)
		is.True(t1 != "" && t1 != t0)
		return []string{t1}
	})
}

// R is a login (RenewToken) on the session L loaded. The old token's
// forward record is not loadable (a planted token must be dead at once),
// yet L's logout must still find the session.
func logoutFollowsLoginRenewal(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv, g, t0 := racingLogout(t, a, b, chisess.Config{})
	logoutRace(t, srv, g, t0, func() []string {
		rec, t1 := srv.do(1, "POST", "/login", t0)
		is.Equal(rec.Code, http.StatusOK)
		is.True(t1 != "" && t1 != t0)
		is.True(!srv.live(0, t0)) // the old token leads nowhere at once
		return []string{t1}
	})
}

// Two renewals, one after the other, between L's load and its logout.
func logoutFollowsTwoRenewals(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv, g, t0 := racingLogout(t, a, b, chisess.Config{RenewEvery: time.Nanosecond, RenewGrace: time.Minute})
	logoutRace(t, srv, g, t0, func() []string {
		_, t1 := srv.do(1, "GET", "/me", t0)
		_, t2 := srv.do(0, "POST", "/login", t1)
		is.True(t1 != t0 && t2 != t1 && t2 != "")
		return []string{t1, t2}
	})
}

// "Log out everywhere" lists the owner's sessions, then a request renews
// one of them before it is ended: it must be followed to its new token.
func logOutEverywhereFollowsRenewal(t *testing.T, a, b backend.Backend) {
	needIndex(t, a)
	is := is.New(t)
	listed := newGate()
	srv := newServers(t, holdOwned{a, listed}, b, chisess.Config{RenewEvery: time.Nanosecond, RenewGrace: time.Minute})
	srv.routes(nil)
	laptop, phone := srv.login(1), srv.login(1)
	done := async(func() error {
		_, err := srv.m[0].DestroyOwner(context.Background(), "ada", nil)
		return err
	})
	<-listed.reached
	rec, renewed := srv.do(1, "GET", "/me", laptop)
	is.Equal(rec.Body.String(), "ada")
	is.True(renewed != "" && renewed != laptop) // renewed while "log out everywhere" ran
	close(listed.release)
	is.NoErr(<-done)
	for _, tok := range []string{laptop, renewed, phone} {
		is.True(!srv.live(1, tok)) // every session of the owner is over, the renewed one included
	}
}

// needIndex skips a scenario about the owner index on a store that has
// none (such a store answers ErrNoOwnerIndex, which other tests check).
func needIndex(t *testing.T, b backend.Backend) {
	t.Helper()
	_, ok := b.(backend.Indexer)
	_, atomic := b.(backend.Swapper)
	if !ok || !atomic {
		t.Skip("the store has no owner index")
	}
}

// holdOwned is a backend whose owner listing waits at a gate once it has
// its answer, so that a request can change the listed sessions meanwhile.
type holdOwned struct {
	backend.Backend
	g *gate
}

func (h holdOwned) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	return h.Backend.(backend.Swapper).Swap(ctx, key, old, data, ttl)
}

func (h holdOwned) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	return h.Backend.(backend.Indexer).Index(ctx, owner, key, ttl)
}

func (h holdOwned) Unindex(ctx context.Context, owner, key string) error {
	return h.Backend.(backend.Indexer).Unindex(ctx, owner, key)
}

func (h holdOwned) Owned(ctx context.Context, owner string) ([]string, error) {
	keys, err := h.Backend.(backend.Indexer).Owned(ctx, owner)
	h.g.wait()
	return keys, err
}

// isolated mounts two apps on one store, as an admin area and a public one
// would be: each with its own manager (cookie user_s or admin_s), the same
// login route, and a members route under Require("user").
func isolated(t *testing.T, a, b backend.Backend, header bool) (user, admin *servers) {
	user = newServers(t, a, b, chisess.Config{CookieName: "user_s"})
	admin = newServers(t, a, b, chisess.Config{CookieName: "admin_s"})
	for _, srv := range []*servers{user, admin} {
		if header {
			srv.withHeader()
		}
		srv.routes(nil)
		for _, r := range srv.r {
			r.With(chisess.Require("user", nil)).Get("/members", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "welcome")
			})
		}
	}
	return user, admin
}

// A user copies their own user_s token into an admin_s cookie: before the
// fix the admin manager loaded the user's session, because the storage
// key was a hash of the token alone.
func managersIsolatedByCookie(t *testing.T, a, b backend.Backend) {
	user, admin := isolated(t, a, b, false)
	checkIsolated(t, user, admin)
}

// The same with the token in an Authorization header on both apps.
func managersIsolatedByHeader(t *testing.T, a, b backend.Backend) {
	user, admin := isolated(t, a, b, true)
	checkIsolated(t, user, admin)
}

func checkIsolated(t *testing.T, user, admin *servers) {
	is := is.New(t)
	tok := user.login(0)
	rec, _ := user.do(1, "GET", "/members", tok)
	is.Equal(rec.Code, http.StatusOK) // the user is a member of the user area
	rec, given := admin.do(1, "GET", "/members", tok)
	is.Equal(rec.Code, http.StatusUnauthorized) // but the same token opens nothing in the admin area
	is.True(given == "" || given == "-")        // and gets no session there
	is.True(!admin.live(0, tok))                // Inspect agrees
	is.True(user.live(0, tok))                  // the user's session is untouched
}

// Two managers on one store serve one request, the admin area's Load
// inside the site's: each session is saved in its own cookie, and reads
// back through its own manager on the other server; each token pasted
// into the other's cookie opens nothing there; Load(site) mounted again
// aims Require at the site's session.
func twoManagersOnOneRequest(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	var site, admin [2]*chisess.Manager
	var routers [2]chi.Router
	for i, be := range []backend.Backend{a, b} {
		for _, m := range []**chisess.Manager{&site[i], &admin[i]} {
			name := map[bool]string{true: "site_s", false: "admin_s"}[m == &site[i]]
			var err error
			*m, err = chisess.New(chisess.Config{Backend: be, CookieName: name, Logger: slog.New(slog.DiscardHandler)})
			is.NoErr(err)
		}
		s, ad := site[i], admin[i]
		r := chi.NewRouter()
		r.Use(chisess.Load(s), chisess.Load(ad))
		r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
			ss, as := s.From(r.Context()), ad.From(r.Context())
			err := errors.Join(ss.Load(r.Context()), as.Load(r.Context()),
				ss.RenewToken(), ss.Set("user", "ada"), as.RenewToken(), as.Set("role", "admin"))
			if err != nil {
				s.Error(w, r, err)
			}
		})
		r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
			ss, as := s.From(r.Context()), ad.From(r.Context())
			if err := errors.Join(ss.Load(r.Context()), as.Load(r.Context())); err != nil {
				s.Error(w, r, err)
				return
			}
			user, _ := chisess.Get[string](ss, "user")
			role, _ := chisess.Get[string](as, "role")
			fmt.Fprint(w, user, "/", role)
		})
		r.With(chisess.Load(s), chisess.Require("user", nil)).Get("/members", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "welcome")
		})
		routers[i] = r
	}
	send := func(i int, method, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		routers[i].ServeHTTP(rec, req)
		return rec
	}
	rec := send(0, "POST", "/login")
	is.Equal(rec.Code, http.StatusOK)
	tok := map[string]string{}
	for _, c := range rec.Result().Cookies() {
		tok[c.Name] = c.Value
	}
	is.Equal(len(tok), 2) // a cookie for each session
	siteTok, adminTok := tok["site_s"], tok["admin_s"]
	is.True(siteTok != "" && adminTok != "" && siteTok != adminTok)

	is.Equal(send(1, "GET", "/whoami", &http.Cookie{Name: "site_s", Value: siteTok}, &http.Cookie{Name: "admin_s", Value: adminTok}).Body.String(), "ada/admin")
	is.Equal(send(1, "GET", "/members", &http.Cookie{Name: "site_s", Value: siteTok}).Code, http.StatusOK)

	// Each token in the other's cookie.
	swapped := []*http.Cookie{{Name: "site_s", Value: adminTok}, {Name: "admin_s", Value: siteTok}}
	is.Equal(send(1, "GET", "/whoami", swapped...).Body.String(), "/")                                                 // neither opens anything
	is.Equal(send(1, "GET", "/members", swapped...).Code, http.StatusUnauthorized)                                     // the admin token is no site member
	is.Equal(send(1, "GET", "/members", &http.Cookie{Name: "admin_s", Value: adminTok}).Code, http.StatusUnauthorized) // nor is the admin cookie alone
	for _, c := range []struct {
		m   *chisess.Manager
		tok string
	}{{site[0], siteTok}, {admin[0], adminTok}} {
		_, err := c.m.Inspect(context.Background(), c.tok)
		is.NoErr(err) // both sessions live on
	}
}

// The owner index of one manager lists and ends only its own sessions,
// even when both use the same user IDs.
func managersIsolatedInOwnerIndex(t *testing.T, a, b backend.Backend) {
	needIndex(t, a)
	is := is.New(t)
	user, admin := isolated(t, a, b, false)
	u, ad := user.login(0), admin.login(0)
	ctx := context.Background()
	list, err := user.m[1].Sessions(ctx, "ada")
	is.NoErr(err)
	is.Equal(len(list), 1) // the user area lists its own session only
	n, err := user.m[1].DestroyOwner(ctx, "ada", nil)
	is.NoErr(err)
	is.Equal(n, 1)             // "log out everywhere" in the user area ends one session
	is.True(!user.live(0, u))  // its own
	is.True(admin.live(0, ad)) // and leaves the admin area's alone
}

// What the writer accepts, the reader reads back: a session at every limit
// at once (the most keys, the largest value) loads, and one more key is
// refused at Set, with the session unchanged. Before the fix, a session
// with more than 65,536 keys was saved without error and then every load
// took it for corrupt.
func largestSessionReadsBack(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	const maxKeys, maxValue = 65_536, 1 << 20
	srv := newServers(t, a, b, chisess.Config{MaxKeys: maxKeys, MaxSize: 4 << 20, MaxValueSize: maxValue})
	values := make(map[string]any, maxKeys)
	for i := range maxKeys - 1 {
		values[fmt.Sprintf("k%d", i)] = i
	}
	values["big"] = strings.Repeat("x", maxValue-1) // a tag byte makes it maxValue
	cookie, err := srv.m[0].Issue(context.Background(), values)
	is.NoErr(err) // the largest session the limits allow is stored
	var setErr, bigErr error
	srv.handle("/more", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		setErr = s.Set("one-more", 1)
		bigErr = s.Set("big", strings.Repeat("x", maxValue))
		fmt.Fprint(w, s.Len())
	})
	rec, _ := srv.do(1, "POST", "/more", cookie.Value)
	is.Equal(rec.Body.String(), fmt.Sprint(maxKeys)) // and read back whole
	is.True(errors.Is(setErr, chisess.ErrTooLarge))  // one more key is refused at Set
	is.True(errors.Is(bigErr, chisess.ErrTooLarge))  // and so is a larger value
	is.True(srv.live(0, cookie.Value))               // the session still loads

	values["one-more"] = 1
	_, err = srv.m[0].Issue(context.Background(), values)
	is.True(errors.Is(err, chisess.ErrTooLarge)) // Issue keeps the same limits
}

// Two requests each stay within MaxKeys, but together they would not: the
// one that commits second fails with ErrTooLarge, and the stored session
// stays readable, as the first left it.
func mergePastLimitFails(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{MaxKeys: 3})
	g := newGate()
	srv.handle("/set", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if r.URL.Query().Get("hold") != "" {
			g.wait()
		}
		for _, k := range strings.Split(r.URL.Query().Get("k"), ",") {
			if err := s.Set(k, 1); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
	})
	cookie, err := srv.m[0].Issue(context.Background(), map[string]any{"a": 1})
	is.NoErr(err)
	slow := async(func() response {
		rec, tok := srv.do(0, "POST", "/set?hold=1&k=d", cookie.Value)
		return response{rec, tok}
	})
	<-g.reached
	rec, _ := srv.do(1, "POST", "/set?k=b,c", cookie.Value)
	is.Equal(rec.Code, http.StatusOK) // a, b, c: at the limit
	close(g.release)
	r := <-slow
	is.Equal(r.rec.Code, http.StatusInternalServerError)           // a, b, c, d would pass it: the commit fails
	is.True(errors.Is(srv.errors()[0], chisess.ErrTooLarge))       // with ErrTooLarge
	is.Equal(r.token, "")                                          // and no cookie
	s, err := srv.m[1].Inspect(context.Background(), cookie.Value) // what is stored still loads
	is.NoErr(err)
	is.Equal(s.Keys(), []string{"a", "b", "c"})
}

// Two requests each add a flash message to one session: both messages are
// kept. Before the fix the queue was one value, and the later commit's
// queue replaced the earlier one's.
func concurrentFlashesAllKept(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{})
	g := newGate()
	srv.handle("/flash", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if r.URL.Query().Get("hold") != "" {
			g.wait()
		}
		if err := s.AddFlash("info", r.URL.Query().Get("m")); err != nil {
			chisess.Error(w, r, err)
		}
	})
	var shown []chisess.Flash
	srv.handle("/show", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		var err error
		if shown, err = s.Flashes(); err != nil {
			chisess.Error(w, r, err)
		}
	})
	cookie, err := srv.m[0].Issue(context.Background(), map[string]any{"user": "ada"})
	is.NoErr(err)
	slow := async(func() response {
		rec, tok := srv.do(0, "POST", "/flash?hold=1&m=saved", cookie.Value)
		return response{rec, tok}
	})
	<-g.reached
	rec, _ := srv.do(1, "POST", "/flash?m=mailed", cookie.Value)
	is.Equal(rec.Code, http.StatusOK)
	srv.clock.Add(time.Millisecond) // the held request adds its message later
	close(g.release)
	is.Equal((<-slow).rec.Code, http.StatusOK)
	rec, _ = srv.do(1, "GET", "/show", cookie.Value)
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(shown, []chisess.Flash{{Kind: "info", Message: "mailed"}, {Kind: "info", Message: "saved"}}) // both, oldest first
	srv.do(0, "GET", "/show", cookie.Value)
	is.Equal(len(shown), 0) // and each only once
}

// A read-only request loads a rolling session whose refresh is due, and is
// held; another request logs out; the held one then commits. Before the
// fix it answered with a fresh Set-Cookie for the dead token.
func refreshOfEndedSessionSendsNoCookie(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{Rolling: true, Lifetime: time.Hour})
	g := newGate()
	srv.routes(nil)
	srv.handle("/held", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		g.wait()
		u, _ := chisess.Get[string](s, "user")
		fmt.Fprint(w, u)
	})
	tok := srv.login(0)
	srv.clock.Add(2 * time.Minute) // the refresh is due
	rec, refreshed := srv.do(1, "GET", "/me", tok)
	is.Equal(rec.Body.String(), "ada")
	is.Equal(refreshed, tok) // a due refresh of a live session slides its cookie
	srv.clock.Add(2 * time.Minute)

	held := async(func() response {
		rec, tok := srv.do(0, "GET", "/held", tok)
		return response{rec, tok}
	})
	<-g.reached
	rec, dropped := srv.do(1, "POST", "/logout", tok)
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(dropped, "-")
	close(g.release)
	r := <-held
	is.Equal(r.rec.Code, http.StatusOK)  // the held read still answers
	is.Equal(r.rec.Body.String(), "ada") // from what it loaded
	is.Equal(r.token, "")                // but hands out no cookie for the dead session
	is.True(!srv.live(1, tok))           // which stays dead
	is.Equal(len(srv.errors()), 0)       // and nothing failed
}

// Every backend ends a session at the same moment, to the millisecond, by
// the times stored in its record: alive a millisecond before its end, over
// at it, whatever the store's own expiry (relative TTLs, rounded up) does.
// Before the fix the sealed cookie ended up to a second early; this holds
// the server-side stores to the same rule.
func expiryToTheMillisecond(t *testing.T, a, b backend.Backend) {
	for _, lifetime := range []time.Duration{1500 * time.Millisecond, 500 * time.Millisecond} {
		t.Run(lifetime.String(), func(t *testing.T) {
			is := is.New(t)
			srv := newServers(t, a, b, chisess.Config{Lifetime: lifetime})
			srv.routes(nil)
			tok := srv.login(0)
			srv.clock.Add(lifetime - time.Millisecond)
			rec, _ := srv.do(1, "GET", "/me", tok)
			is.Equal(rec.Body.String(), "ada") // alive a millisecond before its end
			srv.clock.Add(time.Millisecond)
			rec, _ = srv.do(1, "GET", "/me", tok)
			is.Equal(rec.Body.String(), "") // and over at its end
			is.True(!srv.live(0, tok))
		})
	}
}

// With Rolling, activity slides the lifetime, but not past MaxLifetime: a
// session used every 23 hours ends MaxLifetime after its creation.
func maxLifetimeHoldsAgainstActivity(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{Rolling: true, Lifetime: 24 * time.Hour, MaxLifetime: 72 * time.Hour})
	srv.routes(nil)
	tok := srv.login(0)
	for range 3 {
		srv.clock.Add(23 * time.Hour)
		rec, _ := srv.do(1, "GET", "/me", tok)
		is.Equal(rec.Body.String(), "ada") // used every 23 hours, it lives on
	}
	srv.clock.Add(3 * time.Hour) // 72 hours after creation
	rec, _ := srv.do(1, "GET", "/me", tok)
	is.Equal(rec.Body.String(), "") // and ends at MaxLifetime
}

// A session given a lifetime of its own (SetLifetime) by one server ends
// when that lifetime says on the other, to the millisecond, whether it is
// shorter or longer than the configured hour; the cookie's Max-Age and the
// TTL chisess hands the store follow it (the store then keeps the record
// that long: its conformance rules check that it honours the TTL), and so
// does the owner index, which must list a session for as long as it lives.
func ownLifetimeEnforcedAndFollowed(t *testing.T, a, b backend.Backend) {
	for _, lifetime := range []time.Duration{10 * time.Minute, 48 * time.Hour} {
		t.Run(lifetime.String(), func(t *testing.T) {
			is := is.New(t)
			noted, ttls := noteTTLs(t, a)
			srv := newServers(t, noted, b, chisess.Config{Lifetime: time.Hour})
			srv.routes(nil)
			srv.handle("/lifetime", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				if err := s.SetLifetime(lifetime); err != nil {
					chisess.Error(w, r, err)
				}
			})
			tok := srv.login(1)
			srv.clock.Add(time.Minute)
			rec, _ := srv.do(0, "POST", "/lifetime", tok)
			is.Equal(rec.Code, http.StatusOK)
			c := responseCookie(rec, srv.m[0].CookieName())
			is.True(c != nil)                                                              // the change sets the cookie
			is.Equal(time.Duration(c.MaxAge)*time.Second, lifetime)                        // with a Max-Age of the session's own lifetime, from now
			is.Equal(c.Expires, srv.clock.Now().Add(lifetime).UTC().Truncate(time.Second)) // and an Expires at its end
			is.Equal(ttls.record(), lifetime)                                              // the store is told to keep the record as long
			if _, ok := a.(backend.Indexer); ok {
				is.True(ttls.index() > lifetime-time.Millisecond) // and the owner index too (to the session's end, from the millisecond it was set)
			}

			srv.clock.Add(lifetime - time.Millisecond)
			rec, _ = srv.do(1, "GET", "/me", tok)
			is.Equal(rec.Body.String(), "ada") // alive on the other server a millisecond before its end
			if _, ok := a.(backend.Indexer); ok {
				infos, err := srv.m[1].Sessions(context.Background(), "ada")
				is.NoErr(err)
				is.Equal(len(infos), 1) // listed for as long as it lives
			}
			srv.clock.Add(time.Millisecond)
			rec, _ = srv.do(1, "GET", "/me", tok)
			is.Equal(rec.Body.String(), "") // and over at its end
			is.True(!srv.live(0, tok))
		})
	}
}

// Request A gives the session a lifetime of its own and is held; request
// B, on the other server, changes a value and commits; A commits. Both
// changes are kept: the lifetime merges as a key does. Then the other way
// round: A changes a value, B the lifetime. (A store without Swap merges
// them too, as it reads the record again before it writes: here nothing
// writes between that read and A's write.)
func ownLifetimeKeptByConcurrentChange(t *testing.T, a, b backend.Backend) {
	for _, heldPath := range []string{"/lifetime", "/visit"} {
		t.Run(strings.TrimPrefix(heldPath, "/")+" held", func(t *testing.T) {
			is := is.New(t)
			srv := newServers(t, a, b, chisess.Config{Lifetime: time.Hour})
			g := newGate()
			srv.routes(nil)
			srv.handle("/lifetime", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				if r.URL.Query().Get("hold") != "" {
					g.wait()
				}
				if err := s.SetLifetime(10 * time.Minute); err != nil {
					chisess.Error(w, r, err)
				}
			})
			srv.handle("/visit-held", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				g.wait()
				n, _ := chisess.Get[int](s, "visits")
				if err := s.Set("visits", n+1); err != nil {
					chisess.Error(w, r, err)
				}
			})
			tok := srv.login(1)
			held, other := "/lifetime?hold=1", "/visit"
			if heldPath == "/visit" {
				held, other = "/visit-held", "/lifetime"
			}
			slow := async(func() response {
				rec, tok := srv.do(0, "POST", held, tok)
				return response{rec, tok}
			})
			<-g.reached
			rec, _ := srv.do(1, "POST", other, tok)
			is.Equal(rec.Code, http.StatusOK)
			close(g.release)
			is.Equal((<-slow).rec.Code, http.StatusOK)

			s, err := srv.m[1].Inspect(context.Background(), tok)
			is.NoErr(err)
			is.Equal(s.Lifetime(), 10*time.Minute) // the lifetime is kept
			visits, _ := chisess.Get[int](s, "visits")
			is.Equal(visits, 1) // and so is the value
			srv.clock.Add(10 * time.Minute)
			is.True(!srv.live(1, tok)) // and the lifetime holds
		})
	}
}

// ttlNotes notes the TTL of the last record and of the last owner index
// entry chisess hands the store it wraps.
type ttlNotes struct {
	backend.Backend
	mu                 sync.Mutex
	lastRecord, lastIx time.Duration
}

func (n *ttlNotes) note(at *time.Duration, ttl time.Duration) {
	n.mu.Lock()
	*at = ttl
	n.mu.Unlock()
}

func (n *ttlNotes) record() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastRecord
}

func (n *ttlNotes) index() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastIx
}

func (n *ttlNotes) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	n.note(&n.lastRecord, ttl)
	return n.Backend.Write(ctx, key, data, ttl)
}

// ttlNotesAll is ttlNotes for a store with Swap and an owner index.
type ttlNotesAll struct{ *ttlNotes }

func (n ttlNotesAll) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if data != nil {
		n.note(&n.lastRecord, ttl)
	}
	return n.Backend.(backend.Swapper).Swap(ctx, key, old, data, ttl)
}

func (n ttlNotesAll) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	n.note(&n.lastIx, ttl)
	return n.Backend.(backend.Indexer).Index(ctx, owner, key, ttl)
}

func (n ttlNotesAll) Unindex(ctx context.Context, owner, key string) error {
	return n.Backend.(backend.Indexer).Unindex(ctx, owner, key)
}

func (n ttlNotesAll) Owned(ctx context.Context, owner string) ([]string, error) {
	return n.Backend.(backend.Indexer).Owned(ctx, owner)
}

// noteTTLs wraps b in ttlNotes, with the optional interfaces b has.
func noteTTLs(t *testing.T, b backend.Backend) (backend.Backend, *ttlNotes) {
	t.Helper()
	n := &ttlNotes{Backend: b}
	_, swaps := b.(backend.Swapper)
	_, indexes := b.(backend.Indexer)
	switch {
	case swaps && indexes:
		return ttlNotesAll{n}, n
	case !swaps && !indexes:
		return n, n
	}
	t.Fatalf("noteTTLs: a store with only one of Swapper and Indexer (%T)", b)
	return nil, nil
}

// responseCookie returns the Set-Cookie of the response named name, or nil.
func responseCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Every persistent cookie carries Expires beside Max-Age, and both name the
// end of the session's lifetime, on whichever server answers and however
// late: after a change 20 minutes on, and after the login's new token.
func expiresAndMaxAgeNameOneInstant(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{Lifetime: time.Hour})
	srv.routes(nil)
	start := srv.clock.Now()
	end := start.Add(time.Hour).UTC().Truncate(time.Second)
	cookie := func(rec *httptest.ResponseRecorder) *http.Cookie {
		c := responseCookie(rec, srv.m[0].CookieName())
		if c == nil {
			t.Fatalf("no session cookie; errors %v", srv.errors())
		}
		return c
	}
	rec, tok := srv.do(0, "POST", "/visit", "")
	for i, step := range []struct {
		wait   time.Duration
		path   string
		server int
	}{{0, "", 0}, {20 * time.Minute, "/visit", 1}, {10 * time.Minute, "/login", 0}} {
		srv.clock.Add(step.wait)
		if step.path != "" {
			rec, tok = srv.do(step.server, "POST", step.path, tok)
		}
		c := cookie(rec)
		is.Equal(c.Expires, end)                                                                          // Expires: the end of the lifetime, at every step
		is.Equal(c.MaxAge, int(start.Add(time.Hour).Sub(srv.clock.Now()).Round(time.Second)/time.Second)) // and Max-Age counts down to it
		is.True(i < 2 || tok != "" && tok != "-")                                                         // (the login handed out a new token)
	}
}

// A session lives under Config.Path; a request to another path that carries
// its token anyway (a cookie of the name set for "/" by a sibling subdomain,
// or by an older config) neither reads it nor changes, renews or ends it,
// on either server, and answers without a cookie.
func outsideThePathChangesNothing(t *testing.T, a, b backend.Backend) {
	is := is.New(t)
	srv := newServers(t, a, b, chisess.Config{Path: "/admin"})
	srv.routes(nil) // outside the Path
	srv.handle("/admin/login", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.Set("user", "ada"); err != nil {
			chisess.Error(w, r, err)
		}
	})
	srv.handle("/admin/me", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		u, _ := chisess.Get[string](s, "user")
		fmt.Fprint(w, u)
	})
	_, tok := srv.do(0, "POST", "/admin/login", "")
	is.True(tok != "" && tok != "-")
	for i, path := range []string{"/me", "/visit", "/login", "/logout"} {
		rec, given := srv.do(i%2, "POST", path, tok)
		is.Equal(given, "")                 // path: no cookie set or dropped outside the Path
		is.True(rec.Body.String() != "ada") // path: the session is not read there
	}
	errs := srv.errors()
	is.Equal(len(errs), 3) // the visit, the login and the logout were refused
	for _, err := range errs {
		is.True(errors.Is(err, chisess.ErrOutsidePath))
	}
	rec, given := srv.do(1, "GET", "/admin/me", tok)
	is.Equal(rec.Body.String(), "ada") // the session lives on, unchanged
	is.Equal(given, "")
}

// A server-sent events stream on server 0 saves changes mid-stream with
// Session.Save while server 1 serves the same session: each save is read
// by server 1 at once, merges with a key server 1 saved meanwhile, keeps
// the owner index in step, and after server 1 logs the session out, the
// next save fails with ErrStaleSession and brings nothing back. With
// RenewEvery, every request of server 1 renews the session's token under
// the stream, and each save follows it to where the session lives now.
func saveMidStream(cfg chisess.Config) func(t *testing.T, a, b backend.Backend) {
	return func(t *testing.T, a, b backend.Backend) { checkSaveMidStream(t, a, b, cfg) }
}

func checkSaveMidStream(t *testing.T, a, b backend.Backend, cfg chisess.Config) {
	is := is.New(t)
	srv := newServers(t, a, b, cfg)
	srv.routes(nil)
	srv.handle("/room", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		room, _ := chisess.Get[string](s, "room")
		fmt.Fprint(w, room, " ", strings.Join(s.Keys(), ","))
	})
	srv.handle("/cart", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.Set("cart", "tea"); err != nil {
			chisess.Error(w, r, err)
		}
	})
	changes, errs := make(chan func(*chisess.Session) error), make(chan error)
	srv.handle("/events", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		fmt.Fprint(w, "data: open\n\n")
		rc.Flush() // the response has started
		for change := range changes {
			errs <- s.Save(r.Context(), change)
			fmt.Fprint(w, "data: saved\n\n")
			rc.Flush()
		}
	})
	tok := srv.login(1)
	first := tok
	ts := httptest.NewServer(srv.r[0])
	t.Cleanup(ts.Close)
	req, err := http.NewRequest("GET", ts.URL+"/events", nil)
	is.NoErr(err)
	req.AddCookie(&http.Cookie{Name: srv.m[0].CookieName(), Value: tok})
	resp, err := ts.Client().Do(req) // returns once the stream has started
	is.NoErr(err)
	for _, c := range resp.Cookies() {
		tok = c.Value // a renewal by age went out with the stream
	}
	// do sends a request to server 1 with the token the client holds,
	// and keeps the one it hands out.
	do := func(method, path string) *httptest.ResponseRecorder {
		rec, given := srv.do(1, method, path, tok)
		if given != "" && given != "-" {
			tok = given
		}
		return rec
	}
	var once sync.Once
	end := func() {
		once.Do(func() {
			close(changes)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	t.Cleanup(end)
	save := func(change func(*chisess.Session) error) error {
		changes <- change
		return <-errs
	}
	room := func() string { return do("GET", "/room").Body.String() }

	is.NoErr(save(func(s *chisess.Session) error { return s.Set("room", "lobby") }))
	is.Equal(room(), "lobby user,room")               // server 1 reads the save at once
	is.Equal(do("POST", "/cart").Code, http.StatusOK) // server 1 saves a key meanwhile
	is.NoErr(save(func(s *chisess.Session) error { return s.Set("room", "kitchen") }))
	is.Equal(room(), "kitchen user,room,cart") // both kept
	if _, ok := a.(backend.Indexer); ok {
		is.NoErr(save(func(s *chisess.Session) error { return s.SetOwner("grace") }))
		list, err := srv.m[1].Sessions(context.Background(), "grace")
		is.NoErr(err)
		is.Equal(len(list), 1) // listed under its new owner at once
		list, err = srv.m[1].Sessions(context.Background(), "ada")
		is.NoErr(err)
		is.Equal(len(list), 0) // and no longer under the old one
	}

	last := tok
	is.Equal(last != first, cfg.RenewEvery > 0) // renewed under the stream when RenewEvery says so
	is.Equal(do("POST", "/logout").Code, http.StatusOK)
	err = save(func(s *chisess.Session) error { return s.Set("room", "hall") })
	is.True(errors.Is(err, chisess.ErrStaleSession)) // the save after the logout fails
	is.True(!srv.live(0, last))                      // and the session stays over
	end()
	is.True(!srv.live(1, last))    // at the end of the stream too
	is.Equal(len(srv.errors()), 0) // and no ErrorHandler heard of any of it
}
