package chisess_test

// Review of issue 15 (cookie attributes, MaxCookieSize, the Path rule,
// AutoloadFunc). Tests marked HOLDS pin a promise that was tried and held;
// the others fail on the branch as reviewed.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// config.go, MaxCookieSize: "New refuses a value above it or below 512"
// (the error: "too small for a sealed session"). The floor is checked on
// its own, not against the cookie name that shares the limit ("name and
// value together"), so New accepts a config under which no session can
// ever be stored: every Set fails with ErrCookieTooLarge.
func TestReview15MaxCookieSizeLeavesRoomForASession(t *testing.T) {
	is := is.New(t)
	m, err := chisess.New(chisess.Config{
		Secret:        testSecret,
		CookieName:    strings.Repeat("n", 450),
		MaxCookieSize: 512,
	})
	if err != nil {
		return // refused at New: the promise holds
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(m), chisess.Autoload)
	var setErr error
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		setErr = chisess.From(r.Context()).Set("u", 1)
	})
	send(r, "GET", "/", m.CookieName())
	is.NoErr(setErr) // New accepted the config, so a one-byte value must fit
}

// HOLDS: the largest value Set accepts under the browsers' 4096 bytes, with
// a long cookie name, Partitioned and SameSite=None, still fits and reads
// back after the metadata grows as far as it can: a lifetime of its own,
// RememberMe, a renewal, a Rolling refresh.
func TestReview15HoldsLargestCookieWithEveryMetadataField(t *testing.T) {
	is := is.New(t)
	cfg := chisess.Config{
		Secret:        testSecret,
		CookieName:    "s" + strings.Repeat("x", 199),
		Partitioned:   true,
		SameSite:      http.SameSiteNoneMode,
		Lifetime:      time.Hour,
		Rolling:       true,
		MaxCookieSize: 4096,
	}
	m := newManager(t, cfg)
	n := largestAccepted(t, m)
	var setErr error
	r := sizeApp(t, m, &setErr).(*chi.Mux)
	r.Post("/grow", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		is.NoErr(s.SetLifetime(2562047 * time.Hour))
		is.NoErr(s.RememberMe(true))
		is.NoErr(s.RenewToken())
	}))
	c := newClient(t, m, r)
	c.do("POST", "/set/"+strconv.Itoa(n))
	is.NoErr(setErr)
	rec := c.do("POST", "/grow")
	is.Equal(rec.Code, http.StatusOK)
	sc := mustSetCookie(t, rec, m.CookieName())
	is.True(len(sc.Name)+1+len(sc.Value) <= 4096)
	is.True(sc.Partitioned)
	is.Equal(c.do("GET", "/get").Body.String(), strconv.Itoa(n))
}

// HOLDS: a request to exactly the Path, and one below it with a query that
// names another path, are on the Path; "/admin" does not cover
// "/administrator", and an encoded slash is not a slash. TokenHeader
// sessions have no path: outside the Path, a header session is read and
// changed.
func TestReview15HoldsPathRuleEdges(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret, Path: "/admin"})
	for target, on := range map[string]bool{
		"/admin":              true,
		"/admin?x=1":          true,
		"/admin/":             true,
		"/admin/x?next=/shop": true,
		"/administrator":      false,
		"/admin%2Fx":          false,
		"/shop?next=/admin":   false,
	} {
		h := &setter{t: t}
		rec := send(chisess.Load(m)(h), "GET", target, m.CookieName())
		is.Equal(h.err == nil, on)                          // target
		is.Equal(setCookie(rec, m.CookieName()) != nil, on) // target
	}

	issued, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
	is.NoErr(err)
	r := chi.NewRouter()
	r.Use(chisess.Load(m), chisess.TokenHeader("X-Session"), chisess.Autoload)
	var user string
	var setErr error
	r.Post("/shop", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		user, _ = chisess.Get[string](s, "user")
		setErr = s.Set("cart", 1)
	})
	req := httptest.NewRequest("POST", "/shop", nil)
	req.Header.Set("X-Session", issued.Value)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	is.Equal(user, "ada") // a header session is read outside the cookie's Path
	is.NoErr(setErr)      // and changed
	is.True(rec.Header().Get("X-Session") != "")
	is.Equal(rec.Header().Values("Set-Cookie"), nil)
}

// HOLDS: AutoloadFunc panics at once on a nil func, and a match that
// panics propagates (the handler does not run) without a session commit.
func TestReview15HoldsAutoloadFuncNilAndPanics(t *testing.T) {
	is := is.New(t)
	func() {
		defer func() { is.True(recover() != nil) }()
		var f func(*http.Request) bool
		chisess.AutoloadFunc(f)
	}()
	m := newManager(t, chisess.Config{Secret: testSecret})
	ran := false
	h := chisess.Load(m)(chisess.AutoloadFunc(func(*http.Request) bool { panic("boom") })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })))
	func() {
		defer func() { is.Equal(recover(), "boom") }()
		send(h, "GET", "/", m.CookieName())
	}()
	is.True(!ran)
}
