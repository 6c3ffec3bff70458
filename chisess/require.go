package chisess

import "net/http"

// Require returns a middleware that loads the session and lets the request
// through only when the session holds key; otherwise it serves otherwise,
// typically a redirect to the login page. Use it with [Autoload]'s group
// pattern to guard members-only routes:
//
//	r.Group(func(r chi.Router) {
//		r.Use(chisess.Require("user_id", http.RedirectHandler("/login", http.StatusSeeOther)))
//		r.Get("/account", account)
//	})
//
// Require checks that key is present, not what it holds: a key set to "",
// 0, false or null lets the request through. To require a value (a
// non-empty user ID, a role), use [RequireFunc].
//
// A nil otherwise answers 401 Unauthorized. When the backend fails, the
// request is answered by Config.ErrorHandler, not by otherwise: an outage
// must not look like a logged-out user. With the Loads of several managers
// on the route, it checks the nearest one's session (see [Load]). Require
// panics at the first request if [Load] is not mounted before it.
func Require(key string, otherwise http.Handler) func(http.Handler) http.Handler {
	return require("Require", func(s *Session) bool { return s.Has(key) }, otherwise)
}

// RequireFunc is [Require] with a test of its own: it loads the session and
// lets the request through only when ok reports true for it; otherwise it
// serves otherwise (a nil otherwise answers 401 Unauthorized). ok runs on
// the loaded session before the handler, once per request, and should
// only read it:
//
//	admins := chisess.RequireFunc(func(s *chisess.Session) bool {
//		role, _ := chisess.Get[string](s, "role")
//		return role == "admin"
//	}, http.RedirectHandler("/login", http.StatusSeeOther))
//
// As with Require, a backend failure is answered by Config.ErrorHandler,
// never by otherwise, and RequireFunc panics at the first request if [Load]
// is not mounted before it. It panics at once when ok is nil.
func RequireFunc(ok func(*Session) bool, otherwise http.Handler) func(http.Handler) http.Handler {
	if ok == nil {
		panic("chisess: RequireFunc needs a non-nil func that reports whether to let a session through")
	}
	return require("RequireFunc", ok, otherwise)
}

// require is Require and RequireFunc; name is the one the caller used, for
// the panic when Load is missing.
func require(name string, ok func(*Session) bool, otherwise http.Handler) func(http.Handler) http.Handler {
	if otherwise == nil {
		otherwise = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, loaded := loadFor(w, r, name)
			if !loaded {
				return
			}
			if !ok(s) {
				otherwise.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
