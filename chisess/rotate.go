package chisess

import "net/http"

// Rotate is a middleware that loads the session and gives it a new ID
// before the handler runs, keeping its data, as [Session.RenewID] does. Put
// it on the routes where privileges change, above all login, so that a
// session ID planted before login (session fixation) is dead after it:
//
//	r.With(chisess.Rotate).Post("/login", login)
//
// The old ID is deleted from the backend at commit; if that delete fails the
// request fails. Rotate panics at the first request if [Load] is not mounted
// before it.
func Rotate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := loadFor(w, r, "Rotate")
		if !ok {
			return
		}
		s.RenewID()
		next.ServeHTTP(w, r)
	})
}
