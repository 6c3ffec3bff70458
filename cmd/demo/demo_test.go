package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
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
	h, closeStore, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
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
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
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
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

// setCookie puts value in the jar as the session cookie, as an attacker
// holding a copy of an old cookie would.
func (c *client) setCookie(value string) {
	u, _ := url.Parse(c.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: value, Path: "/"}})
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

			for _, path := range []string{"/members", "/session"} {
				res := c.get(path)
				is.Equal(res.status, http.StatusSeeOther) // members only
				is.Equal(res.location, "/login")
			}
			res := c.post("/members/note", url.Values{"note": {"sneaky"}})
			is.Equal(res.status, http.StatusSeeOther) // posting a note needs a login too
			is.Equal(res.location, "/login")

			res = c.post("/login", url.Values{"username": {"mallory"}, "password": {"guess"}})
			is.Equal(res.status, http.StatusUnprocessableEntity)      // wrong password re-renders the form
			is.True(strings.Contains(res.body, "Wrong password"))     // with the error
			is.True(strings.Contains(res.body, "Sign-in failed"))     // and the flash
			is.True(strings.Contains(res.body, `value="mallory"`))    // keeping the name typed
			is.True(!strings.Contains(res.body, `class="user-name"`)) // the nav shows no user

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
				`id="idle-left">30m`,          // the idle time left
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
	is.True(strings.HasPrefix(res.Header.Get("Set-Cookie"), "session=")) // set before the first event

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
			},
		},
		{
			name: "env fallbacks",
			env: map[string]string{
				"DEMO_ADDR": ":9000", "DEMO_BACKEND": "redis", "REDIS_ADDR": "r:6379",
				"DATABASE_URL": "postgres://db/x", "DEMO_ENV": "production", "SESSION_SECRET": testSecret,
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
			args: []string{"-addr", "127.0.0.1:0", "-backend", "memory", "-dev", "-insecure", "-idle", "5m", "-lifetime", "1h", "-rolling"},
			env:  map[string]string{"DEMO_ADDR": ":9000", "DEMO_BACKEND": "redis", "DEMO_ENV": "production"},
			check: func(is *is.I, cfg appConfig) {
				is.Equal(cfg.Addr, "127.0.0.1:0")
				is.Equal(cfg.Backend, "memory")
				is.True(cfg.Dev)
				is.True(cfg.Insecure)
				is.Equal(cfg.IdleTimeout, 5*time.Minute)
				is.Equal(cfg.Lifetime, time.Hour)
				is.True(cfg.Rolling)
			},
		},
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
		{"redis without address", func(c *appConfig) { c.Backend = "redis" }, "-backend redis needs -redis-addr or REDIS_ADDR"},
		{"postgres without URL", func(c *appConfig) { c.Backend = "postgres" }, "-backend postgres needs -postgres-url or DATABASE_URL"},
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
