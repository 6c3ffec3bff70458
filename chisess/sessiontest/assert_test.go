package sessiontest_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
)

// fixture is what a row of TestAssertions works on: a manager in one mode
// and the kit's test app that uses it.
type fixture struct {
	m *chisess.Manager
	h http.Handler
}

// do serves one request carrying a session with values (none if values is
// nil) and returns the response and the session cookie the request carried.
func (fx *fixture) do(method, target string, values map[string]any) (*http.Response, *http.Cookie) {
	req := sessiontest.NewRequest(fx.m, method, target, nil, values)
	before, _ := req.Cookie(fx.m.CookieName())
	return serve(fx.h, req), before
}

// expiry is the Set-Cookie with which chisess deletes the default session
// cookie.
const expiry = "__Host-session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; Secure; SameSite=Lax"

// TestAssertions runs each assertion against responses it must accept and
// responses it must reject, in both modes, on a recorder in place of the
// test's t, as matryer/is tests its own assertions. A row with no want must
// pass without a report; a row with want must fail with one report that
// contains every string in want, which says what differed. Every row also
// checks that the assertion called t.Helper and never t.Fatal, so that a
// failure points at the test's line and the test goes on.
func TestAssertions(t *testing.T) {
	user := map[string]any{"user": "ada"}
	tests := []struct {
		name string
		only string // the mode the row runs in; both if empty
		run  func(t testing.TB, fx *fixture)
		want []string
	}{
		// AssertValue
		{
			name: "value/set by the response",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertValue(t, fx.m, resp, "user", "ada")
			},
		},
		{
			name: "value/carried by the request",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("GET", "/read", user) // sets no cookie
				sessiontest.AssertValue(t, fx.m, resp, "user", "ada")
			},
		},
		{
			name: "value/int",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/visit", map[string]any{"visits": 2})
				sessiontest.AssertValue(t, fx.m, resp, "visits", 3)
			},
		},
		{
			name: "value/time compared with Equal",
			run: func(t testing.TB, fx *fixture) {
				at := time.Now() // has a monotonic reading, which the stored time has lost
				resp, _ := fx.do("GET", "/read", map[string]any{"at": at})
				sessiontest.AssertValue(t, fx.m, resp, "at", at)
			},
		},
		{
			name: "value/struct",
			run: func(t testing.TB, fx *fixture) {
				type cart struct{ Items []string }
				resp, _ := fx.do("GET", "/read", map[string]any{"cart": cart{Items: []string{"tea"}}})
				sessiontest.AssertValue(t, fx.m, resp, "cart", cart{Items: []string{"tea"}})
			},
		},
		{
			name: "value/differs",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertValue(t, fx.m, resp, "user", "bob")
			},
			want: []string{`AssertValue "user": got "ada", want "bob"`},
		},
		{
			name: "value/another type",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/visit", nil)
				sessiontest.AssertValue(t, fx.m, resp, "visits", int64(1))
			},
			want: []string{`AssertValue "visits"`, "another type"},
		},
		{
			name: "value/missing key",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertValue(t, fx.m, resp, "role", "admin")
			},
			want: []string{`the session has no key "role", want "admin"; it holds ["user"]`},
		},
		{
			name: "value/no session",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("GET", "/about", nil)
				sessiontest.AssertValue(t, fx.m, resp, "user", "ada")
			},
			want: []string{`AssertValue "user"`, `sets no session cookie "__Host-session" and its request carried none`},
		},
		{
			name: "value/session ended",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/logout", user)
				sessiontest.AssertValue(t, fx.m, resp, "user", "ada")
			},
			want: []string{`the response expires the session cookie "__Host-session"`},
		},

		// AssertAbsent
		{
			name: "absent/other key present",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertAbsent(t, fx.m, resp, "role")
			},
		},
		{
			name: "absent/no session",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("GET", "/about", nil)
				sessiontest.AssertAbsent(t, fx.m, resp, "user")
			},
		},
		{
			name: "absent/session ended",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/logout", user)
				sessiontest.AssertAbsent(t, fx.m, resp, "user")
			},
		},
		{
			name: "absent/present",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertAbsent(t, fx.m, resp, "user")
			},
			want: []string{`AssertAbsent "user": the session holds "ada" under "user", want no value`},
		},

		// AssertRenewed
		{
			name: "rotated/login",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/login", map[string]any{"cart": "tea"})
				sessiontest.AssertRenewed(t, fx.m, before, resp)
			},
		},
		{
			name: "rotated/destroyed and refilled",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/logout-flash", user)
				sessiontest.AssertRenewed(t, fx.m, before, resp)
			},
		},
		{
			name: "rotated/changed but not renewed",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/visit", user)
				sessiontest.AssertRenewed(t, fx.m, before, resp)
			},
			// Same cookie on a backend; a new seal of the same ID in a cookie.
			want: []string{"AssertRenewed: ", "the ID was not renewed"},
		},
		{
			name: "rotated/no cookie",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("GET", "/read", user)
				sessiontest.AssertRenewed(t, fx.m, before, resp)
			},
			want: []string{`AssertRenewed: the response sets no session cookie "__Host-session"`},
		},
		{
			name: "rotated/ended instead",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/logout", user)
				sessiontest.AssertRenewed(t, fx.m, before, resp)
			},
			want: []string{`AssertRenewed: the response expires the session cookie "__Host-session", want a new one`},
		},
		{
			name: "rotated/old ID still live",
			only: "backend",
			run: func(t testing.TB, fx *fixture) {
				_, before := fx.do("GET", "/about", user)
				resp, _ := fx.do("POST", "/login", nil) // another session, leaving before's alone
				sessiontest.AssertRenewed(t, fx.m, before, resp)
			},
			want: []string{`AssertRenewed: the session ID from before still loads a live session with keys ["user"]`},
		},
		{
			name: "rotated/new cookie leads nowhere",
			run: func(t testing.TB, fx *fixture) {
				_, before := fx.do("GET", "/about", user)
				sessiontest.AssertRenewed(t, fx.m, before, setCookieResponse("__Host-session=forged; Path=/"))
			},
			want: []string{"AssertRenewed: the new session cookie leads to no session"},
		},
		{
			name: "rotated/nil before",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertRenewed(t, fx.m, nil, resp)
			},
			want: []string{"AssertRenewed: before is nil"},
		},

		// AssertDestroyed
		{
			name: "destroyed/logout",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/logout", user)
				sessiontest.AssertDestroyed(t, fx.m, before, resp)
			},
		},
		{
			name: "destroyed/cleared",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/clear", user)
				sessiontest.AssertDestroyed(t, fx.m, before, resp)
			},
		},
		{
			name: "destroyed/sealed cookie is only expired",
			only: "cookie",
			run: func(t testing.TB, fx *fixture) {
				_, before := fx.do("GET", "/about", user)
				sessiontest.AssertDestroyed(t, fx.m, before, setCookieResponse(expiry))
			},
		},
		{
			name: "destroyed/record left in the backend",
			only: "backend",
			run: func(t testing.TB, fx *fixture) {
				_, before := fx.do("GET", "/about", user)
				sessiontest.AssertDestroyed(t, fx.m, before, setCookieResponse(expiry))
			},
			want: []string{`AssertDestroyed: the session ID from before still loads a live session with keys ["user"]; ending a session must delete it from the backend`},
		},
		{
			name: "destroyed/no cookie",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("GET", "/read", user)
				sessiontest.AssertDestroyed(t, fx.m, before, resp)
			},
			// On a backend the record is still there too, which is a
			// second report.
			want: []string{`AssertDestroyed: the response sets no session cookie "__Host-session"; ending a session expires its cookie`},
		},
		{
			name: "destroyed/live cookie",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/logout-flash", user)
				sessiontest.AssertDestroyed(t, fx.m, before, resp)
			},
			want: []string{`AssertDestroyed: the response sets the session cookie "__Host-session" (a live value with no Max-Age), want it expired (Max-Age=0)`},
		},
		{
			// Max-Age wins over Expires (RFC 6265, section 5.3): a
			// cookie with both lives for its Max-Age, whatever its
			// Expires says, as it does when chisess's clock is not the
			// browser's.
			name: "destroyed/live Max-Age beside an Expires in the past",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/logout", user)
				resp.Header = http.Header{"Set-Cookie": {"__Host-session=" + before.Value + "; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; Secure; SameSite=Lax"}}
				sessiontest.AssertDestroyed(t, fx.m, before, resp)
			},
			want: []string{`AssertDestroyed: the response sets the session cookie "__Host-session" (a live value with Max-Age=3600), want it expired (Max-Age=0)`},
		},
		{
			name: "destroyed/expired on another path",
			run: func(t testing.TB, fx *fixture) {
				resp, before := fx.do("POST", "/logout", user)
				resp.Header = http.Header{"Set-Cookie": {"__Host-session=; Max-Age=0; Path=/app; Domain=example.com; HttpOnly; SameSite=Lax"}}
				sessiontest.AssertDestroyed(t, fx.m, before, resp)
			},
			want: []string{
				`AssertDestroyed: the expired cookie has Path="/app", want "/"`,
				`AssertDestroyed: the expired cookie has Domain="example.com", want ""`,
				`AssertDestroyed: the expired cookie has Secure=false, want true`,
			},
		},
		{
			name: "destroyed/nil before",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/logout", user)
				sessiontest.AssertDestroyed(t, fx.m, nil, resp)
			},
			want: []string{"AssertDestroyed: before is nil"},
		},

		// AssertNoSession
		{
			name: "no session/untouched",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("GET", "/about", nil)
				sessiontest.AssertNoSession(t, fx.m, resp)
			},
		},
		{
			name: "no session/only read",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("GET", "/read", user)
				sessiontest.AssertNoSession(t, fx.m, resp)
			},
		},
		{
			name: "no session/created",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertNoSession(t, fx.m, resp)
			},
			want: []string{`AssertNoSession: the response sets the session cookie "__Host-session" (a live value with no Max-Age), want no Set-Cookie for it`},
		},
		{
			name: "no session/expired",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/logout", user)
				sessiontest.AssertNoSession(t, fx.m, resp)
			},
			want: []string{`AssertNoSession: the response expires the session cookie "__Host-session", want no Set-Cookie for it`},
		},

		// AssertCookie
		{
			name: "cookie/chisess defaults",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertCookie(t, resp, &http.Cookie{
					Name: "__Host-session", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
				})
			},
		},
		{
			name: "cookie/every attribute differs",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("POST", "/login", nil)
				sessiontest.AssertCookie(t, resp, &http.Cookie{
					Name: "__Host-session", Path: "/app", Domain: "example.com", MaxAge: 3600,
					SameSite: http.SameSiteStrictMode, Partitioned: true,
				})
			},
			want: []string{
				`AssertCookie "__Host-session": `,
				`Path="/", want "/app"`,
				`Domain="", want "example.com"`,
				"Max-Age=none, want 3600 (or up to 60 less)",
				"Secure=true, want false",
				"HttpOnly=true, want false",
				"SameSite=Lax, want Strict",
				"Partitioned=false, want true",
			},
		},
		{
			name: "cookie/not set",
			run: func(t testing.TB, fx *fixture) {
				resp, _ := fx.do("GET", "/about", nil)
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session"})
			},
			want: []string{`AssertCookie: the response sets no cookie "__Host-session"; it sets []`},
		},
		{
			name: "cookie/max-age counted down",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Max-Age=3541; Path=/")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/", MaxAge: 3600})
			},
		},
		{
			name: "cookie/max-age too short",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Max-Age=3539; Path=/")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/", MaxAge: 3600})
			},
			want: []string{`AssertCookie "__Host-session": Max-Age=3539, want 3600 (or up to 60 less)`},
		},
		{
			name: "cookie/max-age too long",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Max-Age=3601; Path=/")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/", MaxAge: 3600})
			},
			want: []string{`Max-Age=3601, want 3600 (or up to 60 less)`},
		},
		{
			name: "cookie/max-age where none is wanted",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Max-Age=10; Path=/")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/"})
			},
			want: []string{`Max-Age=10, want none`},
		},
		{
			name: "cookie/expiry",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse(expiry)
				sessiontest.AssertCookie(t, resp, &http.Cookie{
					Name: "__Host-session", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
				})
			},
		},
		{
			name: "cookie/expiry wanted",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Path=/")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/", MaxAge: -1})
			},
			want: []string{`Max-Age=none, want 0 (expired)`},
		},
		{
			name: "cookie/leading dot of Domain",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Path=/; Domain=.example.com")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/", Domain: "example.com"})
			},
		},
		{
			name: "cookie/no SameSite",
			run: func(t testing.TB, fx *fixture) {
				resp := setCookieResponse("__Host-session=v; Path=/")
				sessiontest.AssertCookie(t, resp, &http.Cookie{Name: "__Host-session", Path: "/", SameSite: http.SameSiteLaxMode})
			},
			want: []string{`SameSite=none given, want Lax`},
		},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			for _, tt := range tests {
				if tt.only != "" && tt.only != mode.name {
					continue
				}
				t.Run(tt.name, func(t *testing.T) {
					is := is.New(t)
					m := newManager(t, mode.cfg(sessiontest.NewBackend()))
					fx := &fixture{m: m, h: newKitApp(m)}
					rec := record(&recordingT{TB: t}, func(t testing.TB) { tt.run(t, fx) })
					msg := rec.message()
					is.True(rec.helpers > 0) // the assertion calls t.Helper
					is.True(!rec.fatal)      // assertions report with Errorf and let the test go on
					if len(tt.want) == 0 {
						is.Equal(msg, "") // the assertion must pass
						return
					}
					is.True(msg != "") // the assertion must fail
					t.Logf("report: %s", msg)
					for _, w := range tt.want {
						is.True(strings.Contains(msg, w)) // the report says what differed
					}
					is.True(strings.HasPrefix(msg, "sessiontest: ")) // reports name the package
				})
			}
		})
	}
}

// TestAssertRotatedRenewEvery checks the periodic renewal of
// Config.RenewEvery, on synctest's fake clock: within RenewGrace the old ID
// still leads to the new session, which AssertRenewed reports as such, and
// after it the old ID is dead and AssertRenewed passes.
func TestAssertRotatedRenewEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend(), RenewEvery: time.Hour})
		req := sessiontest.NewRequest(m, "GET", "/read", nil, map[string]any{"user": "ada"})
		before, _ := req.Cookie(m.CookieName())
		time.Sleep(time.Hour) // the fake clock: the ID is now due for renewal
		resp := serve(newKitApp(m), req)

		rec := record(&recordingT{TB: t}, func(t testing.TB) { sessiontest.AssertRenewed(t, m, before, resp) })
		is.True(strings.Contains(rec.message(), "AssertRenewed: the session ID from before still leads to the renewed session, as Config.RenewEvery leaves it for Config.RenewGrace")) // within the grace period

		time.Sleep(chisess.DefaultRenewGrace)
		sessiontest.AssertRenewed(t, m, before, resp) // after it, the old ID is dead
	})
}
