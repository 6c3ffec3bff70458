package chisess_test

// Attacks on the promises of the cookie attributes, MaxCookieSize, the Path
// rule and AutoloadFunc, each quoting the promise it tries to break.

import (
	"context"
	"errors"
	"fmt"
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

// config.go, MaxCookieSize: New refuses a value that leaves no room for a
// session after the cookie name ("name and value together"). It failed
// when the 512-byte floor was checked on its own: New accepted a 450-byte
// name under a 512-byte limit, and every Set failed with ErrCookieTooLarge.
func TestMaxCookieSizeLeavesRoomForASession(t *testing.T) {
	accepted, refused := 0, 0
	for _, limit := range []int{512, 1024} {
		for _, nameLen := range []int{14, 200, 300, 340, 360, 450, 900} {
			t.Run(fmt.Sprintf("%d-byte name under %d", nameLen, limit), func(t *testing.T) {
				is := is.New(t)
				m, err := chisess.New(chisess.Config{Secret: testSecret, CookieName: strings.Repeat("n", nameLen), MaxCookieSize: limit})
				if err != nil {
					refused++
					is.True(errors.Is(err, chisess.ErrInvalidConfig))
					is.True(strings.Contains(err.Error(), "MaxCookieSize")) // the error names the field
					return
				}
				accepted++
				r := chi.NewRouter()
				r.Use(chisess.Load(m), chisess.Autoload)
				var setErr error
				r.Get("/", func(w http.ResponseWriter, r *http.Request) {
					setErr = chisess.From(r.Context()).Set("user", strings.Repeat("v", 56)) // 60 bytes of keys and values
				})
				rec := send(r, "GET", "/", m.CookieName())
				is.NoErr(setErr) // New accepted the config, so a small session fits
				is.Equal(rec.Code, http.StatusOK)
			})
		}
	}
	is := is.New(t)
	is.True(accepted > 0 && refused > 0) // both sides of the rule were tried
}

// The largest value Set accepts under the browsers' 4096 bytes, with
// a long cookie name, Partitioned and SameSite=None, still fits and reads
// back after the metadata grows as far as it can: a lifetime of its own,
// RememberMe, a renewal, a Rolling refresh.
func TestLargestCookieWithEveryMetadataField(t *testing.T) {
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

// A request to exactly the Path, and one below it with a query that
// names another path, are on the Path; "/admin" does not cover
// "/administrator", and an encoded slash is not a slash. TokenHeader
// sessions have no path: outside the Path, a header session is read and
// changed.
func TestPathRuleEdges(t *testing.T) {
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

// AutoloadFunc panics at once on a nil func, and a match that
// panics propagates (the handler does not run) without a session commit.
func TestAutoloadFuncNilAndPanics(t *testing.T) {
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
