// Package outagetest holds the backend-outage flow that every network
// backend of this repository runs against its real server: while
// the server is unreachable, a route that never loads the session still
// answers, [chisess.Session.Load] returns an error that wraps the client's
// error for the lost connection, a [chisess.Require]'d route answers
// through Config.ErrorHandler (neither a redirect to the login page nor a
// new session), and a commit that fails is an error response with no
// Set-Cookie; when the server is back, the very next request works, with
// the session as it was before.
//
// The outage is made by a [faultproxy.Proxy] between the backend's client
// and the server, so the server itself, which other tests share, keeps
// running. The package is internal: backend authors outside this
// repository get sessiontest.RunConformance.
package outagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/faultproxy"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// timeout is the Config.Timeout of the manager under test. It only bounds
// a call that hangs, which would be a failure: the proxy closes
// connections, so every call made during the outage fails at once, and the
// flow checks that no error is a deadline.
const timeout = 2 * time.Second

// unavailable is the body of the ErrorHandler's response.
const unavailable = "session store unavailable"

// Run runs the outage flow against the servers at targets ("host:port"
// each): one server, or every node of a cluster, which all go down and
// come back together. newBackend returns a backend whose client connects,
// for each target, to via(target), the address of a proxy to it, instead
// of the target itself (a cluster client maps the node addresses the
// cluster announces through via as it dials); the flow takes the servers
// down and up at the proxies. newBackend configures the client so
// that each backend call is one attempt (retries would only slow down the
// requests that fail) and so that the client drops a dead pooled
// connection before using it, as it would after an outage of more than a
// moment. The client may run any number of goroutines of its own; the
// flow sends one request at a time.
//
// The flow is one sequence of requests, each checked before the next:
//
//  1. Server up: log in (a route under RenewToken), visit twice (a counter in the
//     session), and see the account page (a Require'd route).
//  2. A request loads its session, the server goes down, and the request
//     changes the session and returns: its commit fails, so it answers
//     through ErrorHandler with no Set-Cookie.
//  3. Server down: a route that never loads answers 200; an explicit
//     s.Load returns an error wrapping the client's; the Require and RenewToken
//     and Autoload'ed routes answer through ErrorHandler; no response sets
//     a cookie.
//  4. Server up again: the first request sees the session from before the
//     outage, and the counter goes on from its value before the failed
//     commit.
func Run(t *testing.T, targets []string, newBackend func(t *testing.T, via func(target string) string) backend.Backend) {
	is := is.New(t)
	proxies := map[string]*faultproxy.Proxy{}
	for _, target := range targets {
		proxies[target] = faultproxy.New(t, target)
	}
	via := func(target string) string {
		p, ok := proxies[target]
		if !ok {
			// The client dials a server the test did not name: the
			// outage would not reach it.
			panic(fmt.Sprintf("outagetest: the client dials %s, which is not one of the targets %v", target, targets))
		}
		return p.Addr()
	}
	proxy := group(proxies)
	a := newApp(t, newBackend(t, via))
	c := sessiontest.NewClient(t, a.router)
	name := a.m.CookieName()

	// 1. Up: a session is made and used.
	resp := c.PostForm("/login", nil)
	is.Equal(resp.StatusCode, http.StatusOK)           // login works while the server is up
	is.Equal(len(resp.Header.Values("Set-Cookie")), 1) // login sets the session cookie
	cookie := c.Cookie(name)
	is.True(cookie != nil) // the client holds the session cookie after login
	for _, want := range []string{"1", "2"} {
		resp = c.PostForm("/visit", nil)
		is.Equal(resp.StatusCode, http.StatusOK) // a visit works while the server is up
		is.Equal(body(resp), want)               // the visit counter counts
	}
	resp = c.Get("/account")
	is.Equal(resp.StatusCode, http.StatusOK) // the Require'd route lets the logged-in user in
	is.Equal(body(resp), "account ada")      // and sees the session
	resp = c.Get("/explicit")
	is.Equal(resp.StatusCode, http.StatusOK) // an explicit s.Load works while the server is up
	is.Equal(len(a.loadErrs), 1)             // /explicit reported its s.Load
	is.NoErr(<-a.loadErrs)                   // s.Load succeeds while the server is up
	is.Equal(a.reported(), nil)              // ErrorHandler was not called while the server was up

	// 2. The server goes down between a request's load and its commit.
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		// Straight to the router, not through the client: the client's
		// methods fail the test, which only the test's goroutine may do.
		req := httptest.NewRequest(http.MethodPost, "/visit-slow", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		a.router.ServeHTTP(rec, req)
		done <- rec
	}()
	select {
	case <-a.slowLoaded:
	case rec := <-done:
		t.Fatalf("/visit-slow answered %d %q before its handler ran: the load failed while the server was up", rec.Code, rec.Body)
	}
	proxy.Down()
	close(a.slowRelease)
	rec := <-done
	is.Equal(rec.Code, http.StatusServiceUnavailable)   // a failed commit answers through ErrorHandler
	is.Equal(rec.Body.String(), unavailable)            // and not with the handler's own body
	is.Equal(len(rec.Header().Values("Set-Cookie")), 0) // a failed commit sets no cookie
	errs := a.reported()
	is.Equal(len(errs), 1)                  // ErrorHandler got the commit's error
	checkOutage(t, errs[0], "save session") // the commit's error wraps the lost connection's

	// 3. Down: what each kind of route answers.
	resp = c.Get("/untouched")
	is.Equal(resp.StatusCode, http.StatusOK)           // a route that never loads the session answers during the outage
	is.Equal(body(resp), "untouched")                  // with its own body
	is.Equal(len(resp.Header.Values("Set-Cookie")), 0) // and no cookie
	is.Equal(a.reported(), nil)                        // and no error: it made no backend call

	resp = c.Get("/explicit")
	is.Equal(len(a.loadErrs), 1)                             // /explicit reported its s.Load
	checkOutage(t, <-a.loadErrs, "load session")             // s.Load returns an error wrapping the lost connection's
	is.Equal(resp.StatusCode, http.StatusServiceUnavailable) // the handler passed the error to chisess.Error
	is.Equal(len(resp.Header.Values("Set-Cookie")), 0)       // and no cookie
	is.Equal(len(a.reported()), 1)                           // ErrorHandler got the load error

	resp = c.Get("/account")
	is.Equal(resp.StatusCode, http.StatusServiceUnavailable) // Require answers through ErrorHandler: not 303 to /login, not the account
	is.Equal(resp.Header.Get("Location"), "")                // no redirect to the login page: an outage is not a logout
	is.Equal(body(resp), unavailable)                        // the ErrorHandler's body
	is.Equal(len(resp.Header.Values("Set-Cookie")), 0)       // no new session
	errs = a.reported()
	is.Equal(len(errs), 1)                  // ErrorHandler got Require's load error
	checkOutage(t, errs[0], "load session") // which wraps the lost connection's

	for _, path := range []string{"/login", "/visit"} { // under RenewToken and Autoload
		resp = c.PostForm(path, nil)
		is.Equal(resp.StatusCode, http.StatusServiceUnavailable) // a route that loads the session answers through ErrorHandler
		is.Equal(len(resp.Header.Values("Set-Cookie")), 0)       // and sets no cookie: no new session
		errs = a.reported()
		is.Equal(len(errs), 1)                  // ErrorHandler got the load error
		checkOutage(t, errs[0], "load session") // which wraps the lost connection's
	}
	is.Equal(c.Cookie(name), cookie) // the client still holds its session cookie

	// 4. Up again: the next request works, and nothing was lost or added.
	proxy.Up()
	resp = c.Get("/account")
	is.Equal(resp.StatusCode, http.StatusOK)           // the first request after the outage works
	is.Equal(body(resp), "account ada")                // with the session from before the outage
	is.Equal(len(resp.Header.Values("Set-Cookie")), 0) // and keeps its cookie
	resp = c.PostForm("/visit", nil)
	is.Equal(resp.StatusCode, http.StatusOK) // a visit works again
	is.Equal(body(resp), "3")                // the counter goes on from 2: the failed commit saved nothing
	is.Equal(c.Cookie(name), cookie)         // the same session all along
	is.Equal(a.reported(), nil)              // no error once the server is back
}

// app is the application under test: a manager on the backend, and its
// routes.
type app struct {
	m      *chisess.Manager
	router http.Handler

	errs     chan error // what ErrorHandler was given, in order
	loadErrs chan error // what /explicit's s.Load returned

	// /visit-slow closes slowLoaded once its session is loaded, then
	// waits for slowRelease before changing it.
	slowLoaded, slowRelease chan struct{}
}

func newApp(t *testing.T, b backend.Backend) *app {
	t.Helper()
	a := &app{
		errs:        make(chan error, 16),
		loadErrs:    make(chan error, 1),
		slowLoaded:  make(chan struct{}),
		slowRelease: make(chan struct{}),
	}
	m, err := chisess.New(chisess.Config{
		Backend: b,
		Timeout: timeout,
		Logger:  slog.New(slog.DiscardHandler),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.errs <- err
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, unavailable)
		},
	})
	if err != nil {
		t.Fatalf("chisess.New: %v", err)
	}
	a.m = m

	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.Get("/untouched", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "untouched")
	})
	r.Get("/explicit", func(w http.ResponseWriter, r *http.Request) {
		err := chisess.From(r.Context()).Load(r.Context())
		a.loadErrs <- err
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		fmt.Fprint(w, "loaded")
	})
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := chisess.From(r.Context()).Set("user", "ada"); err != nil {
			chisess.Error(w, r, err)
			return
		}
		fmt.Fprint(w, "welcome")
	})
	r.With(chisess.Require("user", http.RedirectHandler("/login", http.StatusSeeOther))).Get("/account", func(w http.ResponseWriter, r *http.Request) {
		user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
		fmt.Fprint(w, "account ", user)
	})
	r.With(chisess.Autoload).Post("/visit", func(w http.ResponseWriter, r *http.Request) {
		visit(w, r)
	})
	r.With(chisess.Autoload).Post("/visit-slow", func(w http.ResponseWriter, r *http.Request) {
		close(a.slowLoaded)
		<-a.slowRelease
		visit(w, r)
	})
	a.router = r
	return a
}

// visit counts a visit in the session and writes the new count.
func visit(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	n, _ := chisess.Get[int](s, "visits")
	if err := s.Set("visits", n+1); err != nil {
		chisess.Error(w, r, err)
		return
	}
	fmt.Fprint(w, n+1)
}

// reported returns the errors ErrorHandler has been given since the last
// call, or nil. ErrorHandler runs before the response is written, so the
// errors of every response the test has received are there.
func (a *app) reported() []error {
	var errs []error
	for {
		select {
		case err := <-a.errs:
			errs = append(errs, err)
		default:
			return errs
		}
	}
}

// checkOutage checks that err is what chisess reports when the backend's
// server cannot be reached: an error that says what chisess was doing (op,
// such as "load session") and wraps the client's error for the lost
// connection, and that is neither "no such session" nor a timeout. The
// proxy closes connections, so the error comes at once: a deadline would
// mean that a call hung until Config.Timeout.
func checkOutage(t *testing.T, err error, op string) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	t.Logf("%s during the outage: %v", op, err)
	is.True(err != nil)                                          // an outage is an error
	is.True(strings.HasPrefix(err.Error(), "chisess: "+op+": ")) // the error says what chisess was doing
	is.True(!errors.Is(err, backend.ErrNotFound))                // an outage is never "no such session"
	is.True(!errors.Is(err, chisess.ErrStaleSession))            // nor "destroyed by another request"
	is.True(!errors.Is(err, context.DeadlineExceeded))           // it came at once, not at Config.Timeout
	is.True(connectionLost(err))                                 // the cause is wrapped: the connection was closed under the client
}

// connectionLost reports whether err wraps what a client reports when the
// proxy closes or resets its connection. Which one it sees depends on where
// it was and on timing: ECONNRESET from a read or write that meets a reset
// (pgx: "failed to receive message: read tcp …: connection reset by peer"),
// EPIPE from a write after the socket has reported one, or EOF from a read
// after an orderly close (go-redis returns io.EOF itself; pgx wraps
// io.ErrUnexpectedEOF). None of them is a net.Error in every case, so the
// check is on the causes.
func connectionLost(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// body returns resp's body, which sessiontest.Client has already read.
func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body) // reads from memory, cannot fail
	return string(b)
}

// group takes every proxy down and up together.
type group map[string]*faultproxy.Proxy

func (g group) Down() {
	for _, p := range g {
		p.Down()
	}
}

func (g group) Up() {
	for _, p := range g {
		p.Up()
	}
}
