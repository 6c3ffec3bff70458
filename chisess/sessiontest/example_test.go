package sessiontest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// exampleSecret stands in for the app's SESSION_SECRET.
const exampleSecret = "example-secret-example-secret-32b"

// exampleT stands in for the *testing.T of a test, which an example does
// not have: it prints what an assertion reports, and runs cleanups when the
// example ends. In a test, pass t itself.
type exampleT struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) finish() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
}

// exampleApp is a small app for the examples: a home page that reads the
// session, a counter, and a login and logout.
func exampleApp(sessions *chisess.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Get("/about", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "about us")
	})
	r.With(chisess.Autoload).Get("/", func(w http.ResponseWriter, r *http.Request) {
		user, err := chisess.Get[string](chisess.From(r.Context()), "user")
		if err != nil {
			user = "guest"
		}
		fmt.Fprintf(w, "hello, %s", user)
	})
	r.With(chisess.Autoload).Post("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := chisess.Get[int](s, "visits")
		if err := s.Set("visits", n+1); err != nil {
			http.Error(w, "could not count the visit", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	})
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", r.FormValue("user"))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	r.With(chisess.Autoload).Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return r
}

func ExampleNewBackend() {
	b := sessiontest.NewBackend()
	sessions, _ := chisess.New(chisess.Config{Backend: b})
	app := exampleApp(sessions)

	// A new visitor's first visit writes a new session.
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/visit", nil))
	fmt.Println(rec.Body, "stored", b.Len())
	for _, c := range b.Calls() {
		fmt.Println(c.Op, len(c.Key), "byte key,", c.TTL.Round(time.Minute))
	}
	// Output:
	// visit 1 stored 1
	// write 43 byte key, 24h0m0s
}

func ExampleBackend_Calls() {
	b := sessiontest.NewBackend()
	sessions, _ := chisess.New(chisess.Config{Backend: b})
	app := exampleApp(sessions)

	// NewRequest's own write is not recorded: the calls are the app's.
	req := sessiontest.NewRequest(sessions, "POST", "/visit", nil, map[string]any{"visits": 1})
	app.ServeHTTP(httptest.NewRecorder(), req)
	for _, c := range b.Calls() {
		fmt.Println(c.Op, c.Err)
	}
	// Output:
	// read <nil>
	// swap <nil>
}

func ExampleBackend_FailNext() {
	b := sessiontest.NewBackend()
	sessions, _ := chisess.New(chisess.Config{Backend: b, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "sessions unavailable", http.StatusServiceUnavailable)
	}})
	app := exampleApp(sessions)

	b.FailNext("write", 1, errors.New("connection refused"))
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/visit", nil))
	fmt.Println(rec.Code, rec.Header().Values("Set-Cookie"), b.Len())
	fmt.Println(b.Calls()[0].Op, b.Calls()[0].Err)
	// Output:
	// 503 [] 0
	// write connection refused
}

// Hold stops a request inside the backend, so that a test can run another
// one meanwhile: here a logout overtakes a slow request, which then fails
// rather than bring the ended session back.
func ExampleBackend_Hold() {
	b := sessiontest.NewBackend()
	sessions, _ := chisess.New(chisess.Config{Backend: b, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "conflict", http.StatusConflict)
	}})
	app := exampleApp(sessions)
	slow := sessiontest.NewRequest(sessions, "POST", "/visit", nil, map[string]any{"user": "ada"})
	logout := httptest.NewRequest("POST", "/logout", nil)
	cookie, _ := slow.Cookie(sessions.CookieName())
	logout.AddCookie(cookie)

	g := b.Hold("swap") // the next save of a loaded session
	defer g.Release()
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, slow)
		done <- rec.Code
	}()
	<-g.Reached() // the slow request is saving
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, logout)
	fmt.Println("logout:", rec.Code)
	g.Release()
	fmt.Println("slow request:", <-done)
	fmt.Println("stored:", b.Len())
	// Output:
	// logout: 303
	// slow request: 409
	// stored: 0
}

func ExampleBackend_Sessions() {
	b := sessiontest.NewBackend()
	sessions, _ := chisess.New(chisess.Config{Backend: b})
	app := exampleApp(sessions)

	form := url.Values{"user": {"ada"}}
	req := httptest.NewRequest("POST", "/login", nil)
	req.PostForm = form
	app.ServeHTTP(httptest.NewRecorder(), req)

	for key, s := range b.Sessions(sessions) {
		user, _ := chisess.Get[string](s, "user")
		fmt.Println(key == b.Calls()[0].Key, user)
	}
	// Output: true ada
}

func ExampleNewRequest() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	app := exampleApp(sessions)

	req := sessiontest.NewRequest(sessions, "GET", "/", nil, map[string]any{"user": "ada"})
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	fmt.Println(rec.Body)
	// Output: hello, ada
}

func ExampleNewClient() {
	t := new(exampleT) // in a test: the test's t
	defer t.finish()
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})

	c := sessiontest.NewClient(t, exampleApp(sessions))
	resp := c.PostForm("/login", url.Values{"user": {"ada"}})
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"))
	resp = c.Get("/")
	body, _ := io.ReadAll(resp.Body) // the body is in memory: no error, no Close needed
	fmt.Println(string(body))
	c.PostForm("/logout", nil)
	fmt.Println("cookie after logout:", c.Cookie(sessions.CookieName()) != nil)
	// Output:
	// 303 /
	// hello, ada
	// cookie after logout: false
}

// SetCookie starts a client signed in, with a cookie from Manager.Issue.
func ExampleClient_SetCookie() {
	t := new(exampleT) // in a test: the test's t
	defer t.finish()
	sessions, _ := chisess.New(chisess.Config{Backend: sessiontest.NewBackend()})
	cookie, _ := sessions.Issue(context.Background(), map[string]any{"user": "bob"})

	c := sessiontest.NewClient(t, exampleApp(sessions))
	c.SetCookie(cookie)
	body, _ := io.ReadAll(c.Get("/").Body)
	fmt.Println(string(body))
	// Output: hello, bob
}

func ExampleSessionOf() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	app := exampleApp(sessions)

	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/visit", nil))
	s, err := sessiontest.SessionOf(sessions, rec.Result())
	if err != nil {
		panic(err)
	}
	n, _ := chisess.Get[int](s, "visits")
	fmt.Println(n, s.Keys())

	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/about", nil))
	_, err = sessiontest.SessionOf(sessions, rec.Result())
	fmt.Println(errors.Is(err, chisess.ErrUnknownSession))
	// Output:
	// 1 [visits]
	// true
}

// exampleLogin returns the response to a login as ada, on a recorder.
func exampleLogin(app http.Handler, sessions *chisess.Manager, values map[string]any) (*http.Response, *http.Cookie) {
	req := sessiontest.NewRequest(sessions, "POST", "/login", nil, values)
	req.PostForm = url.Values{"user": {"ada"}}
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	before, _ := req.Cookie(sessions.CookieName())
	return rec.Result(), before
}

func ExampleAssertValue() {
	t := new(exampleT) // in a test: the test's t
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	resp, _ := exampleLogin(exampleApp(sessions), sessions, nil)

	sessiontest.AssertValue(t, sessions, resp, "user", "ada") // passes
	sessiontest.AssertValue(t, sessions, resp, "user", "bob")
	sessiontest.AssertValue(t, sessions, resp, "user", 42)
	// Output:
	// FAIL: sessiontest: AssertValue "user": got "ada", want "bob"
	// FAIL: sessiontest: AssertValue "user": chisess: get "user": chisess: stored value has another type: holds string, not int
}

func ExampleAssertAbsent() {
	t := new(exampleT) // in a test: the test's t
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	resp, _ := exampleLogin(exampleApp(sessions), sessions, nil)

	sessiontest.AssertAbsent(t, sessions, resp, "admin") // passes
	sessiontest.AssertAbsent(t, sessions, resp, "user")
	// Output:
	// FAIL: sessiontest: AssertAbsent "user": the session holds "ada" under "user", want no value
}

func ExampleAssertRotated() {
	t := new(exampleT) // in a test: the test's t
	sessions, _ := chisess.New(chisess.Config{Backend: sessiontest.NewBackend()})
	app := exampleApp(sessions)

	resp, before := exampleLogin(app, sessions, map[string]any{"cart": "tea"})
	sessiontest.AssertRenewed(t, sessions, before, resp) // passes: RenewToken renewed the token

	req := sessiontest.NewRequest(sessions, "POST", "/visit", nil, map[string]any{"user": "ada"})
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	before, _ = req.Cookie(sessions.CookieName())
	sessiontest.AssertRenewed(t, sessions, before, rec.Result())
	// Output:
	// FAIL: sessiontest: AssertRenewed: the response sets the session cookie "__Host-session" to the value it had before; the ID was not renewed
}

func ExampleAssertDestroyed() {
	t := new(exampleT) // in a test: the test's t
	sessions, _ := chisess.New(chisess.Config{Backend: sessiontest.NewBackend()})
	app := exampleApp(sessions)

	req := sessiontest.NewRequest(sessions, "POST", "/logout", nil, map[string]any{"user": "ada"})
	before, _ := req.Cookie(sessions.CookieName())
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	sessiontest.AssertDestroyed(t, sessions, before, rec.Result()) // passes

	// A logout that forgets the Path, and the record.
	forgetful := &http.Response{Header: http.Header{"Set-Cookie": {"__Host-session=; Max-Age=0; Secure"}}}
	req = sessiontest.NewRequest(sessions, "POST", "/logout", nil, map[string]any{"user": "ada"})
	before, _ = req.Cookie(sessions.CookieName())
	sessiontest.AssertDestroyed(t, sessions, before, forgetful)
	// Output:
	// FAIL: sessiontest: AssertDestroyed: the expired cookie has Path="", want "/"; a browser deletes only the cookie with the same Path
	// FAIL: sessiontest: AssertDestroyed: the session ID from before still loads a live session with keys ["user"]; ending a session must delete it from the backend
}

func ExampleAssertNoSession() {
	t := new(exampleT) // in a test: the test's t
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	app := exampleApp(sessions)

	for _, path := range []string{"/about", "/", "/visit"} {
		method := "GET"
		if path == "/visit" {
			method = "POST"
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		sessiontest.AssertNoSession(t, sessions, rec.Result()) // passes for /about and /
	}
	// Output:
	// FAIL: sessiontest: AssertNoSession: the response sets the session cookie "__Host-session" (a live value with no Max-Age), want no Set-Cookie for it
}

func ExampleAssertCookie() {
	t := new(exampleT) // in a test: the test's t
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, Lifetime: 24 * time.Hour})
	resp, _ := exampleLogin(exampleApp(sessions), sessions, nil)

	sessiontest.AssertCookie(t, resp, &http.Cookie{ // passes
		Name: "__Host-session", Path: "/", MaxAge: 86400,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	sessiontest.AssertCookie(t, resp, &http.Cookie{
		Name: "__Host-session", Path: "/", MaxAge: 86400,
		Secure: true, HttpOnly: false, SameSite: http.SameSiteStrictMode,
	})
	// Output:
	// FAIL: sessiontest: AssertCookie "__Host-session": HttpOnly=true, want false; SameSite=Lax, want Strict
}

// A backend's tests run the conformance suite. This example only shows
// the shape of the test; a backend package would declare it as
// func TestConformance(t *testing.T).
func ExampleRunConformance() {
	testConformance := func(t *testing.T) {
		sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
			b := backend.NewMemory()
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Error(err)
				}
			})
			return b
		})
	}
	_ = testConformance // in a test file: func TestConformance(t *testing.T), with this function's body
}
