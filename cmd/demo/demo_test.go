package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// testSecret is 32 bytes, the least chisess accepts.
const testSecret = "0123456789abcdef0123456789abcdef"

// backendRows are the backends every flow runs against. A sealed cookie
// cannot be revoked on the server: a copy of an old cookie keeps opening
// the session it sealed until it expires. A server-side store deletes the
// old record on login and logout.
var backendRows = []struct {
	name    string
	revokes bool // an old cookie stops working after login and logout
}{
	{name: "cookie", revokes: false},
	{name: "memory", revokes: true},
	{name: "bolt", revokes: true},
}

func testConfig(t *testing.T, backend string) appConfig {
	return appConfig{
		Backend:     backend,
		BoltPath:    filepath.Join(t.TempDir(), "sessions.db"),
		Dev:         true,
		Secret:      testSecret,
		IdleTimeout: 30 * time.Minute,
		TickEvery:   time.Millisecond,
		Ticks:       5,
	}
}

// newTestServer serves the demo for cfg, with middleware wrapped around
// it (for tests that watch the handler), and closes it with the test.
func newTestServer(t *testing.T, cfg appConfig, wrap ...func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	return newLoggedTestServer(t, cfg, slog.New(slog.DiscardHandler), wrap...)
}

// newLoggedTestServer is newTestServer with the demo logging to logger.
func newLoggedTestServer(t *testing.T, cfg appConfig, logger *slog.Logger, wrap ...func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	h, closeStore, err := newApp(t.Context(), cfg, logger)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		if err := closeStore(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	return srv
}

// client is a browser stand-in: a cookie jar, and redirects left to the
// test so that each step's status and Location can be checked.
type client struct {
	t   *testing.T
	srv *httptest.Server
	jar *cookiejar.Jar
	hc  *http.Client
	ua  string // the User-Agent to send; Go's own when empty
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A client of its own: srv.Client() returns the same *http.Client on
	// every call, and each browser needs its own jar.
	hc := &http.Client{
		Transport:     srv.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &client{t: t, srv: srv, jar: jar, hc: hc}
}

type response struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(body)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// cookie returns the session cookie the jar holds, "" for none.
func (c *client) cookie() string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "__Host-session" {
			return ck.Value
		}
	}
	return ""
}

// setCookie puts value in the jar as the session cookie, as an attacker
// holding a copy of an old cookie would.
func (c *client) setCookie(value string) {
	u, _ := url.Parse(c.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: "__Host-session", Value: value, Path: "/", Secure: true}})
}

func (c *client) login(user string) {
	c.t.Helper()
	is := is.New(c.t)
	is.Helper()
	res := c.post("/login", url.Values{"username": {user}, "password": {"demo"}})
	is.Equal(res.status, http.StatusSeeOther) // login redirects
	is.Equal(res.location, "/members")        // to the members page
}

func TestHomeCountsVisits(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			for want := 1; want <= 3; want++ {
				res := c.get("/")
				is.Equal(res.status, http.StatusOK)
				is.True(strings.Contains(res.body, `id="visits">`+strconv.Itoa(want)+`<`)) // the counter goes up by one per visit
			}
			is.True(c.cookie() != "") // the counter lives in a session cookie

			other := newClient(t, c.srv)
			res := other.get("/")
			is.True(strings.Contains(res.body, `id="visits">1<`)) // another browser has its own count
		})
	}
}

func TestStaticAndLazySessions(t *testing.T) {
	is := is.New(t)
	c := newClient(t, newTestServer(t, testConfig(t, "memory")))

	res := c.get("/static/style.css")
	is.Equal(res.status, http.StatusOK)
	is.True(strings.HasPrefix(res.header.Get("Content-Type"), "text/css"))
	is.Equal(res.header.Values("Set-Cookie"), nil) // a route that never loads the session sets no cookie
	is.Equal(res.header.Get("Vary"), "")           // nor varies on it

	res = c.get("/login")
	is.Equal(res.status, http.StatusOK)
	is.Equal(res.header.Values("Set-Cookie"), nil) // an anonymous visitor who only reads gets no session
	is.Equal(res.header.Get("Vary"), "Cookie")     // but the page depends on the cookie

	res = c.get("/no-such-page")
	is.Equal(res.status, http.StatusNotFound)
	is.True(strings.Contains(res.body, "Nothing here")) // the 404 page uses the layout
}

func TestMembersNeedLogin(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))

			for _, path := range []string{"/members", "/members/devices", "/session"} {
				res := c.get(path)
				is.Equal(res.status, http.StatusSeeOther) // members only
				is.Equal(res.location, "/login")
			}
			for _, path := range []string{"/members/note", "/members/devices/logout", "/members/devices/logout-others"} {
				res := c.post(path, url.Values{"note": {"sneaky"}, "handle": {"x"}})
				is.Equal(res.status, http.StatusSeeOther) // posting needs a login too
				is.Equal(res.location, "/login")
			}

			res := c.post("/login", url.Values{"username": {"mallory"}, "password": {"guess"}, "remember": {"1"}})
			is.Equal(res.status, http.StatusUnprocessableEntity)      // wrong password re-renders the form
			is.True(strings.Contains(res.body, "Wrong password"))     // with the error
			is.True(strings.Contains(res.body, "Sign-in failed"))     // and the flash
			is.True(strings.Contains(res.body, `value="mallory"`))    // keeping the name typed
			is.True(!strings.Contains(res.body, `class="user-name"`)) // the nav shows no user
			is.True(strings.Contains(res.body, `value="1" checked>`)) // and the form keeps the box ticked

			res = c.get("/members")
			is.Equal(res.status, http.StatusSeeOther) // still logged out
			res = c.get("/login")
			is.True(!strings.Contains(res.body, "Sign-in failed")) // the flash was shown once

			res = c.post("/login", url.Values{"username": {"  "}, "password": {"demo"}})
			is.Equal(res.status, http.StatusUnprocessableEntity) // a blank name is no name
			is.True(strings.Contains(res.body, "Enter a user name"))
		})
	}
}

func TestLoginRotatesSessionID(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			c.get("/")
			c.get("/")
			before := c.cookie()
			is.True(before != "") // two visits made a session

			c.login("alice")
			after := c.cookie()
			is.True(after != "")
			is.True(after != before) // login gave the session a new ID

			res := c.get("/")
			is.True(strings.Contains(res.body, `id="visits">3<`)) // and kept its data

			// A sealed cookie changes on every save, so compare the IDs
			// themselves too, through the session page's fingerprint.
			first := fingerprint(t, c.get("/session").body)
			c.login("alice")
			is.True(fingerprint(t, c.get("/session").body) != first) // logging in again renews the ID again

			// A copy of the pre-login cookie, as planted by a session fixation
			// attack, never reaches the logged-in session.
			old := newClient(t, c.srv)
			old.setCookie(before)
			res = old.get("/members")
			is.Equal(res.status, http.StatusSeeOther) // the old ID is not logged in
			res = old.get("/")
			if tt.revokes {
				is.True(strings.Contains(res.body, `id="visits">1<`)) // the old ID was deleted: a fresh session
			} else {
				is.True(strings.Contains(res.body, `id="visits">3<`)) // the sealed cookie still opens its own pre-login data
			}
		})
	}
}

func TestLoginFlashOnceAndStaysLoggedIn(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			c.login("alice")

			res := c.get("/members")
			is.Equal(res.status, http.StatusOK)
			is.True(strings.Contains(res.body, "Hello, alice"))             // the page greets the user
			is.True(strings.Contains(res.body, "Welcome back, alice"))      // the flash shows on the next page
			is.True(strings.Contains(res.body, `class="user-name">alice<`)) // and the nav shows who is in

			res = c.get("/members")
			is.Equal(res.status, http.StatusOK) // a reload stays logged in
			is.True(strings.Contains(res.body, "Hello, alice"))
			is.True(!strings.Contains(res.body, "Welcome back, alice")) // the flash shows once only

			res = c.get("/")
			is.True(strings.Contains(res.body, `class="user-name">alice<`)) // every page knows the user
		})
	}
}

func TestLogout(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			c.login("alice")
			c.get("/members")
			loggedIn := c.cookie()

			res := c.post("/logout", nil)
			is.Equal(res.status, http.StatusSeeOther) // logout redirects
			is.Equal(res.location, "/login")          // to the login page
			is.True(c.cookie() != loggedIn)           // with a new session for the flash

			res = c.get("/login")
			is.True(strings.Contains(res.body, "You have been logged out")) // the flash survives Destroy
			is.True(!strings.Contains(res.body, `class="user-name"`))       // nobody is logged in

			res = c.get("/login")
			is.True(!strings.Contains(res.body, "You have been logged out")) // once

			res = c.get("/members")
			is.Equal(res.status, http.StatusSeeOther) // members only again
			is.Equal(res.location, "/login")

			thief := newClient(t, c.srv)
			thief.setCookie(loggedIn)
			res = thief.get("/members")
			if tt.revokes {
				is.Equal(res.status, http.StatusSeeOther) // logout deleted the session: a copied cookie is dead
			} else {
				is.Equal(res.status, http.StatusOK) // a sealed cookie lives until it expires, logout or not
			}
		})
	}
}

func TestNotes(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			c.login("alice")
			c.get("/members") // take the welcome flash

			res := c.post("/members/note", url.Values{"note": {"buy <milk>"}})
			is.Equal(res.status, http.StatusSeeOther) // post/redirect/get
			is.Equal(res.location, "/members")
			res = c.get("/members")
			is.True(strings.Contains(res.body, "<li>buy &lt;milk&gt;</li>")) // the note is stored, and escaped
			is.True(strings.Contains(res.body, "Saved"))                     // with a flash

			for n := 2; n <= 6; n++ {
				c.post("/members/note", url.Values{"note": {"note " + strconv.Itoa(n)}})
				res = c.get("/members")
				is.Equal(strings.Count(res.body, "Saved"), 1) // each save flashes once, on the page after it
			}
			is.True(!strings.Contains(res.body, "milk"))           // only the newest notes are kept
			is.True(strings.Contains(res.body, "<li>note 6</li>")) // the newest is there
			is.Equal(strings.Count(res.body, "<li>"), maxNotes)    // and no more than maxNotes

			res = c.post("/members/note", url.Values{"note": {"   "}})
			is.Equal(res.status, http.StatusSeeOther)
			res = c.get("/members")
			is.True(strings.Contains(res.body, "Write something first")) // an empty note is refused

			c.post("/members/notes/clear", nil)
			res = c.get("/members")
			is.True(strings.Contains(res.body, "No notes yet")) // cleared
		})
	}
}

func TestSessionPage(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			c.get("/")
			c.login("alice")

			res := c.get("/session")
			is.Equal(res.status, http.StatusOK)
			for _, want := range []string{
				"<strong>" + tt.name + "</strong>", // the backend in use
				"<code>visits</code>", "<code>int</code>",
				"<code>user</code>", "&#34;alice&#34;",
				"<code>signed_in_at</code>", "<code>time.Time</code>",
				`id="idle-left">30m`,          // the idle time left, from the last use
				"<dt>Last used</dt>",          // which the page shows
				`id="remembered">no<`,         // the box was not ticked
				`id="owner"><strong>alice<`,   // login set the owner
				"no, loaded from your cookie", // not new
				`id="fingerprint">`,           // a fingerprint, not the ID
			} {
				is.True(strings.Contains(res.body, want)) // the session page shows its metadata and keys
			}
			is.True(!strings.Contains(res.body, c.cookie())) // the ID itself is never shown
		})
	}
}

func TestCrossSiteFormsRefused(t *testing.T) {
	is := is.New(t)
	c := newClient(t, newTestServer(t, testConfig(t, "memory")))
	c.login("alice")

	req, err := http.NewRequest(http.MethodPost, c.srv.URL+"/logout", nil)
	is.NoErr(err)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res := c.do(req)
	is.Equal(res.status, http.StatusForbidden)        // a form posted from another site is refused
	is.Equal(c.get("/members").status, http.StatusOK) // and did not log the user out
}

// fingerprint returns the ID fingerprint that the session page shows.
func fingerprint(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `id="fingerprint">`)
	fp, _, ok2 := strings.Cut(rest, "<")
	if !ok || !ok2 || fp == "" {
		t.Fatal("no ID fingerprint on the session page")
	}
	return fp
}

// sseEvent reads one server-sent event.
func sseEvent(br *bufio.Reader) (event string, data string, err error) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return event, data, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			return event, data, nil
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestStream(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name))) // ticks 1ms apart
			for stream := 1; stream <= 2; stream++ {
				res, err := c.hc.Get(c.srv.URL + "/stream/events")
				is.NoErr(err)
				is.Equal(res.StatusCode, http.StatusOK)
				is.Equal(res.Header.Get("Content-Type"), "text/event-stream")
				is.True(res.Header.Get("Set-Cookie") != "") // the stream's own headers carry the session cookie

				br := bufio.NewReader(res.Body)
				for n := 1; n <= 5; n++ {
					event, data, err := sseEvent(br)
					is.NoErr(err)
					is.Equal(event, "tick")
					var got tick
					is.NoErr(json.Unmarshal([]byte(data), &got))
					is.Equal(got.N, n)              // ticks in order
					is.Equal(got.Stream, stream)    // the counter stored by the previous stream is read back
					is.Equal(got.CookieSet, n == 1) // the first event reports the cookie went out
				}
				event, _, err := sseEvent(br)
				is.NoErr(err)
				is.Equal(event, "done") // a final event tells the page to close
				_, err = br.ReadByte()
				is.Equal(err, io.EOF) // and the stream ends
				res.Body.Close()
			}
			res := c.get("/")
			is.True(strings.Contains(res.body, `id="streams">2<`)) // both streams were counted in the session
		})
	}
}

// TestStreamFirstEventThenCancel reads the first event of a stream whose
// next tick is an hour away: the cookie and the first event arrive before
// the stream ends, and the handler stops when the client goes away.
func TestStreamFirstEventThenCancel(t *testing.T) {
	is := is.New(t)
	cfg := testConfig(t, "memory")
	cfg.TickEvery = time.Hour
	finished := make(chan struct{})
	watch := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.URL.Path == "/stream/events" {
				close(finished)
			}
		})
	}
	c := newClient(t, newTestServer(t, cfg, watch))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.srv.URL+"/stream/events", nil)
	is.NoErr(err)
	res, err := c.hc.Do(req)
	is.NoErr(err)
	defer res.Body.Close()
	is.True(strings.HasPrefix(res.Header.Get("Set-Cookie"), "__Host-session=")) // set before the first event

	event, data, err := sseEvent(bufio.NewReader(res.Body))
	is.NoErr(err)
	is.Equal(event, "tick")
	is.True(strings.Contains(data, `"n":1,`)) // the first event arrived while the stream runs on

	cancel()
	select {
	case <-finished: // the handler saw the request's context end
	case <-time.After(10 * time.Second):
		t.Fatal("the stream handler did not stop after the client went away")
	}
	is.True(c.cookie() != "") // the jar kept the cookie from the stream
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(is *is.I, cfg appConfig)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(is *is.I, cfg appConfig) {
				is.Equal(cfg.Addr, "127.0.0.1:8080")
				is.Equal(cfg.Backend, "cookie")
				is.Equal(cfg.BoltPath, "demo-sessions.db")
				is.True(cfg.Dev)       // development unless told otherwise
				is.True(!cfg.Insecure) // Secure cookies by default
				is.Equal(cfg.IdleTimeout, 30*time.Minute)
				is.Equal(cfg.Lifetime, time.Duration(0))
				is.Equal(cfg.TickEvery, time.Second)
				is.Equal(cfg.Ticks, 5)
				is.True(!cfg.LogEvents) // quiet unless asked
				is.Equal(cfg.OTel, "")  // no telemetry unless asked
			},
		},
		{
			name: "env fallbacks",
			env: map[string]string{
				"DEMO_ADDR": ":9000", "DEMO_BACKEND": "redis", "CHISESS_REDIS_ADDR": "r:6379",
				"CHISESS_POSTGRES_URL": "postgres://db/x", "DEMO_ENV": "production", "SESSION_SECRET": testSecret,
			},
			check: func(is *is.I, cfg appConfig) {
				is.Equal(cfg.Addr, ":9000")
				is.Equal(cfg.Backend, "redis")
				is.Equal(cfg.RedisAddr, "r:6379")
				is.Equal(cfg.PostgresURL, "postgres://db/x")
				is.True(!cfg.Dev) // DEMO_ENV=production
				is.Equal(cfg.Secret, testSecret)
			},
		},
		{
			name: "flags beat env",
			args: []string{"-addr", "127.0.0.1:0", "-backend", "memory", "-dev", "-insecure", "-idle", "5m", "-lifetime", "1h", "-rolling", "-log-events"},
			env:  map[string]string{"DEMO_ADDR": ":9000", "DEMO_BACKEND": "redis", "DEMO_ENV": "production"},
			check: func(is *is.I, cfg appConfig) {
				is.Equal(cfg.Addr, "127.0.0.1:0")
				is.Equal(cfg.Backend, "memory")
				is.True(cfg.Dev)
				is.True(cfg.Insecure)
				is.Equal(cfg.IdleTimeout, 5*time.Minute)
				is.Equal(cfg.Lifetime, time.Hour)
				is.True(cfg.Rolling)
				is.True(cfg.LogEvents)
			},
		},
		{name: "otel flag", args: []string{"-otel", "stdout"}, check: func(is *is.I, cfg appConfig) { is.Equal(cfg.OTel, "stdout") }},
		{name: "otel env", env: map[string]string{"DEMO_OTEL": "stdout"}, check: func(is *is.I, cfg appConfig) { is.Equal(cfg.OTel, "stdout") }},
		{name: "unknown otel exporter", args: []string{"-otel", "jaeger"}, wantErr: `-otel "jaeger": choose one of stdout, or leave it empty`},
		{name: "unknown backend", args: []string{"-backend", "mongo"}, wantErr: `-backend "mongo": choose one of cookie, memory, bolt, redis, postgres`},
		{name: "bad env duration", env: map[string]string{"DEMO_IDLE": "soon"}, wantErr: `DEMO_IDLE="soon"`},
		{name: "stray argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				is.True(err != nil)
				is.True(strings.Contains(err.Error(), tt.wantErr)) // the error says what is wrong
				return
			}
			is.NoErr(err)
			tt.check(is, cfg)
		})
	}
}

func TestSecret(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		wantErr       error
		wantMsg       string
		wantGenerated bool
	}{
		{name: "production without secret", env: map[string]string{"DEMO_ENV": "production"}, wantErr: errNoSecret},
		{name: "dev=false without secret", args: []string{"-dev=false"}, wantErr: errNoSecret},
		{name: "production with secret", env: map[string]string{"DEMO_ENV": "production", "SESSION_SECRET": testSecret}},
		{name: "production memory backend needs none", args: []string{"-backend", "memory"}, env: map[string]string{"DEMO_ENV": "production"}},
		{name: "development generates one", wantGenerated: true},
		{name: "short secret", env: map[string]string{"SESSION_SECRET": "hunter2"}, wantMsg: "SESSION_SECRET is 7 bytes, too short"},
		{name: "short secret, memory backend", args: []string{"-backend", "memory"}, env: map[string]string{"SESSION_SECRET": "hunter2"}, wantMsg: "SESSION_SECRET is 7 bytes, too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			is.NoErr(err)
			generated, err := cfg.checkSecret()
			is.Equal(generated, tt.wantGenerated)
			if tt.wantMsg != "" {
				is.True(err != nil)
				is.True(strings.HasPrefix(err.Error(), tt.wantMsg)) // names the variable and the problem
				return
			}
			if tt.wantErr != nil {
				is.True(errors.Is(err, tt.wantErr))
				is.Equal(err.Error(), "SESSION_SECRET is not set: generate one with `openssl rand -base64 32`")
				return
			}
			is.NoErr(err)
			_, err = chisess.New(chisess.Config{Secret: cfg.Secret}) // whatever secret we end up with, chisess takes it
			if cfg.Backend == "cookie" {
				is.NoErr(err)
			}
		})
	}
}

// TestRunRefusesProductionWithoutSecret runs the command itself: it must
// exit with code 2 and say what to do, before it listens.
func TestRunRefusesProductionWithoutSecret(t *testing.T) {
	is := is.New(t)
	var stdout, stderr bytes.Buffer
	env := map[string]string{"DEMO_ENV": "production", "DEMO_ADDR": "127.0.0.1:0"}
	code := run(nil, func(k string) string { return env[k] }, &stdout, &stderr)
	is.Equal(code, 2)
	is.Equal(stderr.String(), "demo: SESSION_SECRET is not set: generate one with `openssl rand -base64 32`\n")
	is.Equal(stdout.String(), "") // it never started
}

func TestNewAppErrors(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*appConfig)
		wantErr string
	}{
		{"redis without address", func(c *appConfig) { c.Backend = "redis" }, "-backend redis needs -redis-addr or CHISESS_REDIS_ADDR"},
		{"postgres without URL", func(c *appConfig) { c.Backend = "postgres" }, "-backend postgres needs -postgres-url or CHISESS_POSTGRES_URL"},
		{"unknown backend", func(c *appConfig) { c.Backend = "mongo" }, `backend "mongo" is not available in this build`},
		{"short secret", func(c *appConfig) { c.Secret = "short" }, "Config.Secret"},
		{"idle above lifetime", func(c *appConfig) { c.IdleTimeout, c.Lifetime = 2*time.Hour, time.Hour }, "Config.IdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			cfg := testConfig(t, "cookie")
			tt.change(&cfg)
			_, _, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tt.wantErr)) // the error names what to fix
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{12 * time.Second, "12s"},
		{30 * time.Minute, "30m"},
		{4*time.Minute + 30*time.Second, "4m 30s"},
		{2*time.Hour + 5*time.Minute, "2h 5m"},
		{24 * time.Hour, "1d"},
		{50 * time.Hour, "2d 2h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			is := is.New(t)
			is.Equal(humanDuration(tt.d), tt.want)
		})
	}
}

func TestDisplayURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://localhost:8080"},
		{"0.0.0.0:80", "http://localhost:80"},
		{"[::1]:8080", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			is := is.New(t)
			is.Equal(displayURL(tt.addr), tt.want)
		})
	}
}

// User-Agents of the browsers the devices tests sign in from.
const (
	chromeLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariIPad     = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	edgeWindows    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	chromeAndroid  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	curlAgent      = "curl/8.5.0"
)

// newClientAs is newClient for a browser that sends the User-Agent ua.
func newClientAs(t *testing.T, srv *httptest.Server, ua string) *client {
	c := newClient(t, srv)
	c.ua = ua
	return c
}

// deviceEntries returns the entries of the devices page's list, each from
// the class attribute of its <li> to its </li>.
func deviceEntries(body string) []string {
	var entries []string
	parts := strings.Split(body, `<li class="device`)
	for _, p := range parts[1:] {
		e, _, _ := strings.Cut(p, "</li>")
		entries = append(entries, e)
	}
	return entries
}

// deviceEntry returns the one entry of the devices page described as desc.
func deviceEntry(t *testing.T, body, desc string) string {
	t.Helper()
	var found []string
	for _, e := range deviceEntries(body) {
		if strings.Contains(e, `<strong class="device-name">`+desc+`</strong>`) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the devices page lists %d entries for %q, want 1", len(found), desc)
	}
	return found[0]
}

// isCurrent reports whether a device entry is marked as this device.
func isCurrent(entry string) bool {
	return strings.HasPrefix(entry, ` current"`) && strings.Contains(entry, "this device</span>")
}

// handleIn returns the handle in a device entry's logout form.
func handleIn(t *testing.T, entry string) string {
	t.Helper()
	_, rest, ok := strings.Cut(entry, `name="handle" value="`)
	h, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || h == "" {
		t.Fatal("the device entry has no logout form with a handle")
	}
	return h
}

// apiClient calls the JSON API as a client that keeps its token, not a
// cookie: it sends the token in the Authorization header, and keeps the
// newest one a response hands back. Every response is checked to set no
// cookie.
type apiClient struct {
	t     *testing.T
	srv   *httptest.Server
	token string // "Bearer ...", "" for none
}

// call sends a request to the API, with body as a form (url.Values) or as
// JSON (a string), and decodes the apiUser it answers.
func (c *apiClient) call(method, path string, body any) (response, apiUser) {
	c.t.Helper()
	is := is.New(c.t)
	is.Helper()
	var r io.Reader
	contentType := ""
	switch b := body.(type) {
	case url.Values:
		r, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		r, contentType = strings.NewReader(b), "application/json"
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	is.NoErr(err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	req.Header.Set("User-Agent", curlAgent)
	res, err := c.srv.Client().Do(req)
	is.NoErr(err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	is.NoErr(err)
	out := response{status: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(b)}

	is.Equal(res.Header.Values("Set-Cookie"), nil) // the API never sets a cookie
	if v, ok := res.Header["Authorization"]; ok {
		c.token = v[0] // a new token, or "" to forget it
	}
	var u apiUser
	if res.StatusCode == http.StatusOK {
		is.Equal(res.Header.Get("Content-Type"), "application/json")
		is.NoErr(json.Unmarshal(b, &u)) // the API answers JSON
	}
	return out, u
}

func (c *apiClient) login(user string) {
	c.t.Helper()
	is := is.New(c.t)
	is.Helper()
	res, me := c.call(http.MethodPost, "/api/login", url.Values{"username": {user}, "password": {"demo"}})
	is.Equal(res.status, http.StatusOK)
	is.Equal(me.User, user)
}

// listingBackends returns the backends of backendRows that keep an owner
// index, so that the devices page can list sessions: memory, and bolt once
// it has one.
func listingBackends() []string {
	var names []string
	for _, tt := range backendRows {
		if slices.Contains(indexedBackends(), tt.name) {
			names = append(names, tt.name)
		}
	}
	return names
}

func TestDevicesListsSignedInClients(t *testing.T) {
	if !slices.Contains(listingBackends(), "memory") {
		t.Fatal("the memory backend keeps no owner index")
	}
	for _, name := range listingBackends() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			srv := newTestServer(t, testConfig(t, name))
			laptop := newClientAs(t, srv, chromeLinux)
			laptop.login("alice")
			desktop := newClientAs(t, srv, firefoxWindows)
			desktop.login("alice")
			api := &apiClient{t: t, srv: srv}
			api.login("alice")
			phone := newClientAs(t, srv, chromeAndroid)
			phone.login("bob")
			laptop.get("/members") // take the welcome flash

			res := laptop.get("/members/devices")
			is.Equal(res.status, http.StatusOK)
			is.True(strings.Contains(res.body, `href="/members/devices" aria-current="page">Devices<`)) // the nav has the page
			is.Equal(len(deviceEntries(res.body)), 3)                                                   // alice's three sessions
			is.True(!strings.Contains(res.body, "Chrome on Android"))                                   // and not bob's

			chrome := deviceEntry(t, res.body, "Chrome on Linux")
			is.True(isCurrent(chrome))                          // this device is marked
			is.True(!strings.Contains(chrome, `name="handle"`)) // and has no logout button of its own
			is.True(strings.Contains(chrome, "<dt>Signed in</dt>"))
			is.True(strings.Contains(chrome, "<dt>Last used</dt><dd>just now</dd>"))
			is.True(strings.Contains(chrome, "<dt>Expires</dt>"))
			is.True(!strings.Contains(chrome, ">remembered<")) // the box was not ticked

			firefox := deviceEntry(t, res.body, "Firefox on Windows")
			is.True(!isCurrent(firefox))             // another device
			is.True(handleIn(t, firefox) != "")      // with a logout button
			curl := deviceEntry(t, res.body, "curl") // the API client is a device too
			is.True(!isCurrent(curl))
			is.Equal(strings.Count(res.body, "this device</span>"), 1)                     // one device is this one
			is.True(strings.Contains(res.body, `action="/members/devices/logout-others"`)) // and the others can go
			is.True(strings.Contains(res.body, "Log out everywhere else"))
			for _, tok := range []string{laptop.cookie(), desktop.cookie(), strings.TrimPrefix(api.token, "Bearer ")} {
				is.True(!strings.Contains(res.body, tok)) // no token is ever shown: handles are hashes
			}

			res = desktop.get("/members/devices")
			is.True(isCurrent(deviceEntry(t, res.body, "Firefox on Windows"))) // each device sees itself marked
			is.True(!isCurrent(deviceEntry(t, res.body, "Chrome on Linux")))
		})
	}
}

func TestLogOutEverywhereElse(t *testing.T) {
	for _, name := range listingBackends() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			srv := newTestServer(t, testConfig(t, name))
			laptop := newClientAs(t, srv, chromeLinux)
			laptop.login("alice")
			desktop := newClientAs(t, srv, firefoxWindows)
			desktop.login("alice")
			api := &apiClient{t: t, srv: srv}
			api.login("alice")
			phone := newClientAs(t, srv, chromeAndroid)
			phone.login("bob")

			res := laptop.post("/members/devices/logout-others", nil)
			is.Equal(res.status, http.StatusSeeOther) // post/redirect/get
			is.Equal(res.location, "/members/devices")
			res = laptop.get("/members/devices")
			is.True(strings.Contains(res.body, "Logged out everywhere else: ended 2 other sessions.")) // the flash counts them
			is.Equal(len(deviceEntries(res.body)), 1)                                                  // only this device is left
			is.True(isCurrent(deviceEntry(t, res.body, "Chrome on Linux")))
			is.True(!strings.Contains(res.body, "Log out everywhere else<")) // with nothing else to log out
			is.True(strings.Contains(res.body, "You are signed in on this device only"))

			res = desktop.get("/members")
			is.Equal(res.status, http.StatusSeeOther) // the other browser is logged out
			is.Equal(res.location, "/login")
			_, me := api.call(http.MethodGet, "/api/me", nil)
			is.Equal(me.User, "") // and so is the API client

			is.Equal(laptop.get("/members").status, http.StatusOK) // this one stays
			is.Equal(phone.get("/members").status, http.StatusOK)  // and another user's session is untouched

			laptop.post("/members/devices/logout-others", nil)
			res = laptop.get("/members/devices")
			is.True(strings.Contains(res.body, "You are signed in on no other device.")) // nothing left to end
		})
	}
}

func TestLogOutOneDevice(t *testing.T) {
	for _, name := range listingBackends() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			srv := newTestServer(t, testConfig(t, name))
			laptop := newClientAs(t, srv, chromeLinux)
			laptop.login("alice")
			desktop := newClientAs(t, srv, firefoxWindows)
			desktop.login("alice")
			tablet := newClientAs(t, srv, safariIPad)
			tablet.login("alice")
			bob1 := newClientAs(t, srv, edgeWindows)
			bob1.login("bob")
			bob2 := newClientAs(t, srv, chromeAndroid)
			bob2.login("bob")

			res := laptop.get("/members/devices")
			is.Equal(len(deviceEntries(res.body)), 3)
			handle := handleIn(t, deviceEntry(t, res.body, "Firefox on Windows"))

			res = laptop.post("/members/devices/logout", url.Values{"handle": {handle}})
			is.Equal(res.status, http.StatusSeeOther)
			is.Equal(res.location, "/members/devices")
			res = laptop.get("/members/devices")
			is.True(strings.Contains(res.body, "Logged out Firefox on Windows.")) // the flash names the device
			is.Equal(len(deviceEntries(res.body)), 2)                             // which is gone from the list
			is.True(!strings.Contains(res.body, "Firefox on Windows<"))

			res = desktop.get("/members")
			is.Equal(res.status, http.StatusSeeOther) // that browser is logged out
			is.Equal(res.location, "/login")
			is.Equal(tablet.get("/members").status, http.StatusOK) // the third one is not
			is.Equal(laptop.get("/members").status, http.StatusOK) // nor this one

			laptop.post("/members/devices/logout", url.Values{"handle": {handle}})
			res = laptop.get("/members/devices")
			is.True(strings.Contains(res.body, "That device was already logged out.")) // a second click changes nothing

			// A handle of another user's session ends nothing.
			res = bob1.get("/members/devices")
			bobHandle := handleIn(t, deviceEntry(t, res.body, "Chrome on Android"))
			laptop.post("/members/devices/logout", url.Values{"handle": {bobHandle}})
			res = laptop.get("/members/devices")
			is.True(strings.Contains(res.body, "That device was already logged out."))
			is.Equal(bob2.get("/members").status, http.StatusOK) // bob's other browser is still signed in

			// A device that posts its own handle (read off another device's
			// page) is simply logged out.
			res = laptop.get("/members/devices")
			own := handleIn(t, deviceEntry(t, res.body, "Safari on iPadOS"))
			res = tablet.post("/members/devices/logout", url.Values{"handle": {own}})
			is.Equal(res.status, http.StatusSeeOther)
			is.Equal(res.location, "/login")
			is.True(strings.Contains(tablet.get("/login").body, "You have been logged out"))
			is.Equal(tablet.get("/members").status, http.StatusSeeOther)
			is.Equal(laptop.get("/members").status, http.StatusOK)
		})
	}
}

func TestDevicesNeedOwnerIndex(t *testing.T) {
	is := is.New(t)
	c := newClient(t, newTestServer(t, testConfig(t, "cookie")))
	c.login("alice")
	c.get("/members")

	res := c.get("/members/devices")
	is.Equal(res.status, http.StatusOK)
	for _, want := range []string{
		`id="no-index"`,
		"<strong>cookie</strong> backend cannot list your sessions", // the page explains why
		"chisess.ErrNoOwnerIndex",
		"-backend memory", // and what to run instead
	} {
		is.True(strings.Contains(res.body, want))
	}
	is.True(!strings.Contains(res.body, `class="devices"`)) // with no list

	for _, path := range []string{"/members/devices/logout-others", "/members/devices/logout"} {
		res = c.post(path, url.Values{"handle": {"x"}})
		is.Equal(res.status, http.StatusSeeOther)
		res = c.get("/members/devices")
		is.True(strings.Contains(res.body, "This backend cannot list or end your other sessions.")) // a post says so too
		is.Equal(c.get("/members").status, http.StatusOK)                                           // and logs nobody out
	}
}

// sessionSetCookie returns the Set-Cookie header of the session cookie.
func sessionSetCookie(t *testing.T, res response) string {
	t.Helper()
	for _, v := range res.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "__Host-session=") {
			return v
		}
	}
	t.Fatal("the response sets no session cookie")
	return ""
}

// maxAge returns the Max-Age of a Set-Cookie header, -1 when it has none.
func maxAge(t *testing.T, setCookie string) int {
	t.Helper()
	_, rest, ok := strings.Cut(setCookie, "Max-Age=")
	if !ok {
		return -1
	}
	v, _, _ := strings.Cut(rest, ";")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("Max-Age %q: %v", v, err)
	}
	return n
}

func TestRememberMe(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			srv := newTestServer(t, testConfig(t, tt.name))

			c := newClient(t, srv)
			res := c.post("/login", url.Values{"username": {"alice"}, "password": {"demo"}, "remember": {"1"}})
			is.Equal(res.status, http.StatusSeeOther)
			age := maxAge(t, sessionSetCookie(t, res))
			is.True(age > int((29 * 24 * time.Hour).Seconds())) // "keep me signed in": a persistent cookie, for 30 days

			res = c.get("/session")
			is.True(strings.Contains(res.body, "This device stays signed in for 30d.")) // the flash says so
			is.True(strings.Contains(res.body, `id="remembered">yes`))                  // the session page too
			is.True(strings.Contains(res.body, "but not for a remembered session"))     // no idle timeout
			is.True(!strings.Contains(res.body, `id="idle-left"`))

			other := newClient(t, srv)
			res = other.post("/login", url.Values{"username": {"alice"}, "password": {"demo"}})
			is.Equal(maxAge(t, sessionSetCookie(t, res)), -1) // without the box: a browser-session cookie

			if slices.Contains(listingBackends(), tt.name) {
				res = c.get("/members/devices")
				entries := deviceEntries(res.body)
				is.Equal(len(entries), 2)
				for _, e := range entries {
					is.Equal(strings.Contains(e, `<span class="badge">remembered</span>`), isCurrent(e)) // the devices page marks the remembered one
				}
			}

			res = c.post("/login", url.Values{"username": {"alice"}, "password": {"demo"}})
			is.Equal(maxAge(t, sessionSetCookie(t, res)), -1) // signing in again without the box forgets it
			res = c.get("/session")
			is.True(strings.Contains(res.body, `id="remembered">no<`))
		})
	}
}

func TestAPI(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			srv := newTestServer(t, testConfig(t, tt.name))
			api := &apiClient{t: t, srv: srv}

			res, me := api.call(http.MethodPost, "/api/login", url.Values{"username": {"alice"}, "password": {"demo"}})
			is.Equal(res.status, http.StatusOK)
			is.Equal(me, apiUser{User: "alice"})
			is.True(strings.HasPrefix(api.token, "Bearer ")) // the token comes back in the Authorization header
			is.True(len(api.token) > len("Bearer ")+40)
			is.Equal(res.header.Get("Vary"), "Authorization")     // the answer depends on that header
			is.Equal(res.header.Get("Cache-Control"), "no-store") // and is not cached

			for want := 1; want <= 3; want++ {
				before := api.token
				res, me = api.call(http.MethodGet, "/api/me", nil)
				is.Equal(res.status, http.StatusOK)
				is.Equal(me, apiUser{User: "alice", Visits: want}) // the token carries the session from call to call
				if tt.revokes {
					is.Equal(res.header.Values("Authorization"), nil) // a server-side token stays the same
				} else {
					is.True(api.token != before) // a sealed one is the session itself: each save sends a new one
				}
			}

			anon := &apiClient{t: t, srv: srv}
			res, me = anon.call(http.MethodGet, "/api/me", nil)
			is.Equal(res.status, http.StatusOK)
			is.Equal(me, apiUser{})                           // without a token, no user
			is.Equal(res.header.Values("Authorization"), nil) // and no session is made

			stolen := api.token
			res, me = api.call(http.MethodPost, "/api/logout", nil)
			is.Equal(res.status, http.StatusOK)
			is.Equal(me, apiUser{})
			is.Equal(res.header.Values("Authorization"), []string{""}) // logout clears the token: an empty header
			is.Equal(api.token, "")
			_, me = api.call(http.MethodGet, "/api/me", nil)
			is.Equal(me.User, "") // signed out

			old := &apiClient{t: t, srv: srv, token: stolen}
			_, me = old.call(http.MethodGet, "/api/me", nil)
			if tt.revokes {
				is.Equal(me.User, "") // logout deleted the session: a copy of the token is dead
			} else {
				is.Equal(me.User, "alice") // a sealed token lives until it expires
			}
		})
	}
}

func TestAPILogin(t *testing.T) {
	is := is.New(t)
	srv := newTestServer(t, testConfig(t, "memory"))

	api := &apiClient{t: t, srv: srv}
	res, me := api.call(http.MethodPost, "/api/login", `{"username": "bob", "password": "demo"}`)
	is.Equal(res.status, http.StatusOK) // JSON works as well as a form
	is.Equal(me.User, "bob")
	is.True(strings.HasPrefix(api.token, "Bearer "))
	_, me = api.call(http.MethodGet, "/api/me", nil)
	is.Equal(me, apiUser{User: "bob", Visits: 1})

	// A login that already holds a token gets a new one (RenewToken).
	before := api.token
	api.login("bob")
	is.True(api.token != before)
	old := &apiClient{t: t, srv: srv, token: before}
	_, me = old.call(http.MethodGet, "/api/me", nil)
	is.Equal(me.User, "") // the old token died with the renewal

	tests := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"wrong password", url.Values{"username": {"bob"}, "password": {"guess"}}, http.StatusUnauthorized, "Wrong password"},
		{"wrong password JSON", `{"username": "bob", "password": "guess"}`, http.StatusUnauthorized, "Wrong password"},
		{"no name", `{"password": "demo"}`, http.StatusUnprocessableEntity, "Enter a user name"},
		{"not JSON", `{"username": `, http.StatusBadRequest, `send {\"username\"`},
		{"too large", `{"username": "` + strings.Repeat("x", 5000) + `"}`, http.StatusBadRequest, `send {\"username\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := &apiClient{t: t, srv: srv}
			res, _ := c.call(http.MethodPost, "/api/login", tt.body)
			is.Equal(res.status, tt.status)
			is.Equal(res.header.Get("Content-Type"), "application/json")
			is.True(strings.Contains(res.body, `"error":"`+tt.msg)) // a JSON error says what is wrong
			is.Equal(c.token, "")                                   // and no token is handed out
		})
	}

	res, _ = api.call(http.MethodGet, "/api/nope", nil)
	is.Equal(res.status, http.StatusNotFound)
	is.Equal(res.body, `{"error":"no such endpoint: GET /api/nope"}`+"\n") // the API answers JSON even when lost
	res, _ = api.call(http.MethodGet, "/api/login", nil)
	is.Equal(res.status, http.StatusMethodNotAllowed)
	is.Equal(res.header.Get("Content-Type"), "application/json")
}

// TestAPIIgnoresCookies: under TokenHeader the session cookie is neither
// read nor set, so a browser's cookie does not sign in an API call.
func TestAPIIgnoresCookies(t *testing.T) {
	for _, tt := range backendRows {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, newTestServer(t, testConfig(t, tt.name)))
			c.login("alice")
			cookie := c.cookie()

			res := c.get("/api/me") // the jar sends the cookie
			is.Equal(res.status, http.StatusOK)
			is.Equal(res.body, `{"user":"","visits":0}`+"\n")
			is.Equal(res.header.Values("Set-Cookie"), nil)
			is.Equal(res.header.Values("Authorization"), nil)
			is.Equal(c.cookie(), cookie)
		})
	}
}

// syncBuffer is a bytes.Buffer that the server's goroutines may log to
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogEvents(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run("log-events="+strconv.FormatBool(on), func(t *testing.T) {
			is := is.New(t)
			var buf syncBuffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := testConfig(t, "memory")
			cfg.LogEvents = on
			c := newClient(t, newLoggedTestServer(t, cfg, logger))

			c.login("alice")
			token := c.cookie()
			c.get("/members")
			c.post("/logout", nil)
			c.setCookie("not-a-token")
			c.get("/")

			log := buf.String()
			if !on {
				is.True(!strings.Contains(log, "chisess: session")) // no events without the flag
				return
			}
			for _, want := range []string{
				`msg="chisess: session created" event=created session=`,
				`level=DEBUG msg="chisess: session loaded" event=loaded`,
				`level=DEBUG msg="chisess: session committed" event=committed`,
				`msg="chisess: session destroyed" event=destroyed`,
				`level=WARN msg="chisess: session rejected" event=rejected reason=malformed`,
			} {
				is.True(strings.Contains(log, want)) // every kind of event is logged
			}
			is.True(!strings.Contains(log, token)) // but never the token
		})
	}
}

func TestHelpMentionsLogEvents(t *testing.T) {
	is := is.New(t)
	var stderr bytes.Buffer
	_, err := parseConfig([]string{"-help"}, func(string) string { return "" }, &stderr)
	is.True(errors.Is(err, flag.ErrHelp))
	is.True(strings.Contains(stderr.String(), "-log-events"))       // the flag is listed
	is.True(strings.Contains(stderr.String(), "chisess.LogEvents")) // and says what it does

	cfg, err := parseConfig([]string{"-log-events"}, func(string) string { return "" }, io.Discard)
	is.NoErr(err)
	is.True(cfg.LogEvents)
}

func TestSessionErrorHandler(t *testing.T) {
	is := is.New(t)
	a := &app{log: slog.New(slog.DiscardHandler)}
	secret := errors.New("redis: connection refused at 10.0.0.7")

	rec := httptest.NewRecorder()
	a.sessionError(rec, httptest.NewRequest(http.MethodGet, "/members", nil), secret)
	is.Equal(rec.Code, http.StatusInternalServerError)
	is.True(strings.Contains(rec.Body.String(), "Your session is unavailable right now")) // a page says so
	is.True(!strings.Contains(rec.Body.String(), "10.0.0.7"))                             // without the error

	rec = httptest.NewRecorder()
	a.sessionError(rec, httptest.NewRequest(http.MethodGet, "/api/me", nil), secret)
	is.Equal(rec.Code, http.StatusInternalServerError)
	is.Equal(rec.Header().Get("Content-Type"), "application/json") // the API in JSON
	is.Equal(rec.Body.String(), `{"error":"session unavailable, try again"}`+"\n")

	rec = httptest.NewRecorder()
	a.sessionError(rec, httptest.NewRequest(http.MethodGet, "/", nil), fmt.Errorf("%w: Set", chisess.ErrResponseStarted))
	is.Equal(rec.Body.Len(), 0) // after the response started, only the log
	is.Equal(len(rec.Header()), 0)
}

func TestDescribeDevice(t *testing.T) {
	tests := []struct{ ua, want string }{
		{chromeLinux, "Chrome on Linux"},
		{firefoxWindows, "Firefox on Windows"},
		{safariIPad, "Safari on iPadOS"},
		{edgeWindows, "Edge on Windows"},
		{chromeAndroid, "Chrome on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on macOS"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Windows"},
		{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome on Linux"},
		{curlAgent, "curl"},
		{"Go-http-client/1.1", "Go HTTP client"},
		{"Mozilla/5.0 (X11; Linux x86_64) Lynx", "Unknown browser on Linux"},
		{"", "Unknown browser"},
		{"<script>alert(1)</script>", "Unknown browser"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			is := is.New(t)
			is.Equal(describeDevice(tt.ua), tt.want)
		})
	}
}

// -otel stdout writes the spans of each session load, commit and backend
// call as they end, and the metrics at shutdown, and neither holds the
// session's token.
func TestOTelStdout(t *testing.T) {
	is := is.New(t)
	var out syncBuffer
	obs, shutdown, err := newTelemetry("stdout", &out)
	is.NoErr(err)
	cfg := testConfig(t, "memory")
	cfg.Observer = obs
	c := newClient(t, newTestServer(t, cfg))
	c.login("alice")
	token := c.cookie()
	c.get("/members")
	is.NoErr(shutdown(context.Background()))

	text := out.String()
	for _, want := range []string{
		`"Name":"chisess.session.load"`, `"Name":"chisess.session.commit"`, `"Name":"chisess.backend.read"`, // spans
		`"Name":"chisess.session.created"`, `"Name":"chisess.session.load.duration"`, // metrics
	} {
		is.True(strings.Contains(text, want)) // want
	}
	is.True(!strings.Contains(text, token)) // never the token
}
