package sessiontest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// discardLogger keeps the expected errors of failure tests out of the
// test output.
var discardLogger = slog.New(slog.DiscardHandler)

const testSecret = "sessiontest-secret-0123456789-abcdefgh"

// modes are the two kinds of store the kit must serve: a server-side
// backend (the kit's own fake) and the sealed cookie.
var modes = []struct {
	name string
	cfg  func(b *sessiontest.Backend) chisess.Config
}{
	{"backend", func(b *sessiontest.Backend) chisess.Config { return chisess.Config{Backend: b} }},
	{"cookie", func(*sessiontest.Backend) chisess.Config { return chisess.Config{Secret: testSecret} }},
}

// newManager makes a manager or fails the test.
func newManager(t *testing.T, cfg chisess.Config) *chisess.Manager {
	t.Helper()
	is := is.New(t)
	is.Helper()
	m, err := chisess.New(cfg)
	is.NoErr(err) // the test's config is valid
	return m
}

// newKitApp returns the small app the kit's own tests drive. Every route
// does one thing to the session.
func newKitApp(m *chisess.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.Get("/about", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "about")
	})
	r.With(chisess.Autoload).Get("/read", func(w http.ResponseWriter, r *http.Request) {
		user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
		fmt.Fprint(w, user)
	})
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		if user == "" {
			user = "ada"
		}
		s := chisess.From(r.Context())
		s.Set("user", user)
		s.SetOwner(user)
		http.Redirect(w, r, "/read", http.StatusSeeOther)
	})
	r.With(chisess.Autoload).Post("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := chisess.Get[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprint(w, n+1)
	})
	r.With(chisess.Autoload).Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
	})
	r.With(chisess.Autoload).Post("/logout-flash", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Destroy()
		s.AddFlash("info", "logged out")
	})
	r.With(chisess.Autoload).Post("/clear", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Clear()
	})
	return r
}

// serve serves req with h on a recorder and returns the response, with
// its Request set as a client's response has it.
func serve(h http.Handler, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp
}

// setCookieResponse returns a response that only sets the given cookies.
func setCookieResponse(setCookies ...string) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Set-Cookie": setCookies}}
}

// recordingT stands in for the *testing.T of a test so that the kit's own
// tests can see what a helper reports: it records Helper calls, failures
// and cleanups instead of failing the real test. Embedding testing.TB is
// the only way to satisfy its unexported method; a call to a method not
// overridden here goes to the real test.
type recordingT struct {
	testing.TB

	mu       sync.Mutex
	helpers  int
	errors   []string
	fatal    bool
	cleanups []func()
}

func (r *recordingT) Helper() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.helpers++
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingT) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recordingT) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.FailNow()
}

func (r *recordingT) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// FailNow stops the goroutine, as testing.T's does; run helpers with
// record so that this is not the test's own goroutine.
func (r *recordingT) FailNow() {
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingT) Fail() { r.Errorf("Fail called") }

func (r *recordingT) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0
}

func (r *recordingT) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// finish runs the recorded cleanups, last first, as testing does.
func (r *recordingT) finish() {
	r.mu.Lock()
	fs := slices.Clone(r.cleanups)
	r.cleanups = nil
	r.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// message returns every failure recorded, one per line.
func (r *recordingT) message() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// record runs f against rec on a goroutine of its own, so that a Fatal
// stops only that goroutine, and waits for it.
func record(rec *recordingT, f func(t testing.TB)) *recordingT {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	return rec
}

// readBody returns the body of a response whose body is in memory, as
// responses of serve and of a sessiontest.Client are.
func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	is := is.New(t)
	is.Helper()
	b, err := io.ReadAll(resp.Body)
	is.NoErr(err) // the body is in memory
	return string(b)
}

// brokenBackend fails every call, the kit's own included.
type brokenBackend struct{ backend.Backend }

func (brokenBackend) Read(context.Context, string) ([]byte, error) { return nil, errDown }
func (brokenBackend) Write(context.Context, string, []byte, time.Duration) error {
	return errDown
}
func (brokenBackend) Delete(context.Context, string) error { return errDown }

// panicMessage returns what a recovered panic said, or "" for none.
func panicMessage(r any) string {
	switch v := r.(type) {
	case nil:
		return ""
	case string:
		return v
	case error:
		return v.Error()
	}
	return fmt.Sprint(r)
}
