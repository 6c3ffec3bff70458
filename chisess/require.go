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
// A nil otherwise answers 401 Unauthorized. When the backend fails, the
// request is answered by Config.ErrorHandler, not by otherwise: an outage
// must not look like a logged-out user. Require panics at the first request
// if [Load] is not mounted before it.
func Require(key string, otherwise http.Handler) func(http.Handler) http.Handler {
	if otherwise == nil {
		otherwise = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, ok := loadFor(w, r, "Require")
			if !ok {
				return
			}
			if !s.Has(key) {
				otherwise.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
