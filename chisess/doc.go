// Package chisess is a toolkit of small, composable chi middlewares for HTTP
// sessions.
//
// Make a [Manager] once with [New], mount [Load] on the router, and use the
// session in handlers through [From]:
//
//	sessions, err := chisess.New(chisess.Config{Secret: os.Getenv("SESSION_SECRET")})
//	if err != nil {
//		log.Fatal(err)
//	}
//	r := chi.NewRouter()
//	r.Use(chisess.Load(sessions))
//	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
//		s := chisess.From(r.Context())
//		if err := s.Load(r.Context()); err != nil {
//			chisess.Error(w, r, err) // answers through Config.ErrorHandler
//			return
//		}
//		n, _ := chisess.Get[int](s, "visits")
//		s.Set("visits", n+1)
//		fmt.Fprintf(w, "visit %d", n+1)
//	})
//
// Sessions are lazy: [Load] attaches an unloaded session and nothing is read
// until a handler calls [Session.Load], or a middleware does it for a route
// group: [Autoload] loads eagerly, [AutoloadPaths] does so for matching paths
// and [AutoloadFunc] for the requests a func picks, [Require] guards a group by a key (a logged-in user), and [RenewToken]
// gives the session a new token on login. They are plain
// func(http.Handler) http.Handler, so they work on the standard library's
// http.ServeMux as well as on chi (see Example_serveMux).
//
// With Config.Backend nil, the session lives in the cookie, encrypted and
// authenticated with AES-256-GCM under Config.Secret: no server is needed.
// With a [backend.Backend] (memory, Redis, PostgreSQL, bbolt), the cookie
// carries only a random 256-bit token and the store keeps the data under a
// hash of it.
//
// The session is saved once, just before the first byte of the response, so
// a failed save becomes an error response through Config.ErrorHandler rather
// than a success whose changes were lost.
package chisess
