package chisess_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// TestAutoloadFunc: the session is loaded before the handler exactly for
// the requests the predicate accepts, and the others stay lazy and unread.
// The regular-expression rows are modelled on starsessions'
// test_loads_for_regex_paths (tests/test_autoloading.py), whose patterns
// "/app*" and "/admin*" are matched from the start of the path; the host and
// method rows cover what a path cannot say.
func TestAutoloadFunc(t *testing.T) {
	app, admin := regexp.MustCompile("^/app*"), regexp.MustCompile("^/admin*")
	byRegexp := func(r *http.Request) bool { return admin.MatchString(r.URL.Path) || app.MatchString(r.URL.Path) }
	byHost := func(r *http.Request) bool { return r.Host == "admin.example.com" }
	byMethod := func(r *http.Request) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }
	tests := []struct {
		name   string
		match  func(*http.Request) bool
		method string
		target string
		loaded bool
	}{
		{"regexp: /", byRegexp, "GET", "/", false},
		{"regexp: /app", byRegexp, "GET", "/app", true},
		{"regexp: /admin", byRegexp, "GET", "/admin", true},
		{"regexp: /app/1/users", byRegexp, "GET", "/app/1/users", true},
		{"regexp: /admin/settings", byRegexp, "GET", "/admin/settings", true},
		{"regexp: /about", byRegexp, "GET", "/about", false},
		{"regexp: /static/app.js", byRegexp, "GET", "/static/app.js", false},
		{"host: admin", byHost, "GET", "http://admin.example.com/", true},
		{"host: www", byHost, "GET", "http://www.example.com/", false},
		{"method: POST", byMethod, "POST", "/anything", true},
		{"method: GET", byMethod, "GET", "/anything", false},
		{"method: HEAD", byMethod, "HEAD", "/anything", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				issued, err := m.Issue(context.Background(), map[string]any{"key": "value"})
				is.NoErr(err)
				r := chi.NewRouter()
				r.Use(chisess.Load(m), chisess.AutoloadFunc(tt.match))
				r.HandleFunc("/*", func(w http.ResponseWriter, r *http.Request) {
					s := chisess.From(r.Context())
					if !s.Loaded() {
						fmt.Fprint(w, "lazy")
						return
					}
					v, _ := chisess.Get[string](s, "key")
					fmt.Fprint(w, v)
				})
				rec := send(r, tt.method, tt.target, m.CookieName(), issued.Value)
				want, reads := "lazy", 0
				if tt.loaded {
					want = "value"
					if tm.b != nil {
						reads = 1 // one read on a server-side backend
					}
				}
				if tt.method != "HEAD" {
					is.Equal(rec.Body.String(), want) // loaded before the handler, with the session's data, or lazy
				}
				is.Equal(tm.calls("read"), reads) // and read only when loaded
			})
		})
	}
}

// TestAutoloadFuncFailsAtWiring: a nil predicate panics when the
// middleware is made, and a missing Load at the first matching request,
// each with a message that names AutoloadFunc.
func TestAutoloadFuncFailsAtWiring(t *testing.T) {
	is := is.New(t)
	func() {
		defer func() {
			r := recover()
			is.True(r != nil)                                                   // a nil predicate fails at wiring time
			is.True(strings.HasPrefix(fmt.Sprint(r), "chisess: AutoloadFunc ")) // and says which middleware
		}()
		chisess.AutoloadFunc(nil)
	}()

	h := chisess.AutoloadFunc(func(*http.Request) bool { return true })(http.NotFoundHandler())
	func() {
		defer func() {
			r := recover()
			is.True(strings.Contains(fmt.Sprint(r), "chisess: AutoloadFunc needs chisess.Load")) // Load missing: says what to mount
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	skip := chisess.AutoloadFunc(func(*http.Request) bool { return false })(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	skip.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	is.Equal(rec.Code, http.StatusNotFound) // a request it does not load passes through, Load or not
}

// TestAutoloadFuncBackendDown: when the predicate accepts a request and the
// backend fails, the ErrorHandler answers and the handler does not run.
func TestAutoloadFuncBackendDown(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		issued, err := m.Issue(context.Background(), map[string]any{"key": "value"})
		is.NoErr(err)
		ran := false
		h := chisess.Load(m)(chisess.AutoloadFunc(func(*http.Request) bool { return true })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })))
		tm.b.FailNext("read", 1, errOutage)
		rec := send(h, "GET", "/", m.CookieName(), issued.Value)
		is.Equal(rec.Code, http.StatusInternalServerError) // the ErrorHandler answers
		is.True(!ran)                                      // and the handler does not run
	})
}
