package chisess

import "net/http"

// RenewToken is a middleware that loads the session and gives it a new
// token before the handler runs, keeping its data, as
// [Session.RenewToken] does. Put it on the routes where privileges change,
// above all login, so that a token planted before login (session fixation)
// is dead after it:
//
//	r.With(chisess.RenewToken).Post("/login", login)
//
// The old token stops working at commit; if retiring it fails, the request
// fails. With the Loads of several managers on the route, it renews the
// nearest one's session (see [Load]). RenewToken panics at the first request
// if [Load] is not mounted before it.
func RenewToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := loadFor(w, r, "RenewToken")
		if !ok {
			return
		}
		if err := s.RenewToken(); err != nil {
			s.m.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
