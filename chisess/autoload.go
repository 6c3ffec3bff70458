package chisess

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// Autoload is a middleware that loads the session before the handler runs,
// so handlers in its group can read it without calling [Session.Load]. Use
// it on a route group whose handlers all use the session:
//
//	r.Group(func(r chi.Router) {
//		r.Use(chisess.Autoload)
//		r.Get("/account", account)
//	})
//
// When the backend fails, the request is answered by Config.ErrorHandler and
// the handler does not run. With the Loads of several managers on the
// route, it loads the nearest one's session (see [Load]). Autoload panics at
// the first request if [Load] is not mounted before it.
func Autoload(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := loadFor(w, r, "Autoload"); ok {
			next.ServeHTTP(w, r)
		}
	})
}

// AutoloadPaths returns a middleware that loads the session, as [Autoload]
// does, for requests whose URL path matches one of patterns, and leaves the
// others lazy. It is the form for a router-wide mount:
//
//	r.Use(chisess.Load(sessions))
//	r.Use(chisess.AutoloadPaths("/account", "/admin", "/api/*/me"))
//
// A pattern without wildcards matches that path and everything below it
// ("/admin" matches "/admin" and "/admin/users", not "/administrator"). A
// pattern with *, ? or [ is matched against the whole path with path.Match.
// AutoloadPaths panics on a malformed pattern or one that does not start
// with "/".
func AutoloadPaths(patterns ...string) func(http.Handler) http.Handler {
	type matcher struct {
		pattern string
		glob    bool
	}
	ms := make([]matcher, 0, len(patterns))
	for _, p := range patterns {
		if !strings.HasPrefix(p, "/") {
			panic(fmt.Sprintf("chisess: AutoloadPaths pattern %q must start with /", p))
		}
		glob := strings.ContainsAny(p, "*?[")
		if glob {
			if _, err := path.Match(p, ""); err != nil {
				panic(fmt.Sprintf("chisess: AutoloadPaths pattern %q: %v", p, err))
			}
		} else if p != "/" {
			p = strings.TrimSuffix(p, "/")
		}
		ms = append(ms, matcher{p, glob})
	}
	return autoloadIf("AutoloadPaths", func(r *http.Request) bool {
		p := r.URL.Path
		for _, m := range ms {
			if m.glob {
				if ok, _ := path.Match(m.pattern, p); ok {
					return true
				}
				continue
			}
			if m.pattern == "/" || p == m.pattern || strings.HasPrefix(p, m.pattern) && p[len(m.pattern)] == '/' {
				return true
			}
		}
		return false
	})
}

// AutoloadFunc returns a middleware that loads the session, as [Autoload]
// does, for the requests match reports true for, and leaves the others
// lazy: the form for rules that paths alone do not express, such as a
// regular expression, a host or a method.
//
//	apiMe := regexp.MustCompile(`^/api/v[0-9]+/me$`)
//	r.Use(chisess.AutoloadFunc(func(r *http.Request) bool {
//		return apiMe.MatchString(r.URL.Path)
//	}))
//
// match runs once per request, before the session is loaded, so it sees
// the request only; keep it fast, as it runs on every request. When the
// backend fails, the request is answered by Config.ErrorHandler and the
// handler does not run. AutoloadFunc panics at once when match is nil, and
// at the first matching request if [Load] is not mounted before it.
func AutoloadFunc(match func(*http.Request) bool) func(http.Handler) http.Handler {
	if match == nil {
		panic("chisess: AutoloadFunc needs a non-nil func that reports whether to load a request's session")
	}
	return autoloadIf("AutoloadFunc", match)
}

// autoloadIf is AutoloadPaths and AutoloadFunc; name is the one the caller
// used, for the panic when Load is missing.
func autoloadIf(name string, match func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				if _, ok := loadFor(w, r, name); !ok {
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
