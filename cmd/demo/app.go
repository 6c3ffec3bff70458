package main

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/chisess/kit/chisess"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// app holds what the handlers share.
type app struct {
	cfg      appConfig
	log      *slog.Logger
	sessions *chisess.Manager
	pages    map[string]*template.Template
}

// newApp builds the demo's handler for cfg: it opens the session backend,
// makes the chisess manager, parses the templates and mounts the routes. The
// returned close function releases the backend; call it after the server
// has shut down. newApp does not listen, so tests serve the handler with
// httptest.
func newApp(ctx context.Context, cfg appConfig, logger *slog.Logger) (http.Handler, func() error, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, nil, err
	}
	store, closeStore, err := openBackend(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	a := &app{cfg: cfg, log: logger, pages: pages}
	scfg := chisess.Config{
		Secret:      cfg.Secret,
		Backend:     store,
		Insecure:    cfg.Insecure,
		IdleTimeout: cfg.IdleTimeout,
		Lifetime:    cfg.Lifetime,
		Rolling:     cfg.Rolling,
		Logger:      logger,
		// Autoload, Require and RenewToken answer a failed load through it,
		// and so does chisess.Error in the handlers.
		ErrorHandler: a.sessionError,
		Observer:     cfg.Observer,
	}
	if cfg.LogEvents {
		scfg.OnEvent = chisess.LogEvents(logger)
	}
	a.sessions, err = chisess.New(scfg)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return a.routes(), closeStore, nil
}

func (a *app) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(logRequests(a.log))
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	// Refuse cross-site form posts (Sec-Fetch-Site / Origin checks): the
	// SameSite=Lax cookie already keeps the session out of them, this
	// keeps the forms themselves out.
	r.Use(http.NewCrossOriginProtection().Handler)
	// Every request gets a lazy session; routes that never touch it, like
	// /static/, cost nothing more.
	r.Use(chisess.Load(a.sessions))

	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))

	r.Get("/", a.home)
	r.Get("/login", a.loginForm)
	r.With(chisess.RenewToken).Post("/login", a.login) // new session ID on login
	r.Post("/logout", a.logout)
	r.Get("/stream", a.streamPage)
	r.Get("/stream/events", a.streamEvents)

	// Members only: Autoload loads the session before the handlers run,
	// Require sends visitors without a user to the login page.
	r.Group(func(r chi.Router) {
		r.Use(chisess.Autoload)
		r.Use(chisess.Require(userKey.Name(), http.RedirectHandler("/login", http.StatusSeeOther)))
		r.Get("/members", a.members)
		r.Post("/members/note", a.addNote)
		r.Post("/members/notes/clear", a.clearNotes)
		r.Get("/members/devices", a.devices)
		r.Post("/members/devices/logout", a.logoutDevice)
		r.Post("/members/devices/logout-others", a.logoutOthers)
		r.Get("/session", a.session)
	})

	// A JSON API for clients that keep a token rather than a cookie: under
	// TokenHeader the session travels in the Authorization header ("Bearer
	// <token>"), in both directions, and no cookie is read or set.
	r.Route("/api", func(r chi.Router) {
		r.Use(chisess.TokenHeader("Authorization"))
		r.Use(chisess.Autoload)
		r.With(chisess.RenewToken).Post("/login", a.apiLogin)
		r.Get("/me", a.apiMe)
		r.Post("/logout", a.apiLogout)
		r.NotFound(a.apiNotFound)
		r.MethodNotAllowed(a.apiMethodNotAllowed)
	})

	r.NotFound(a.notFound)
	return r
}

// logRequests logs one line per request. Static files log at debug level.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if strings.HasPrefix(r.URL.Path, "/static/") {
				level = slog.LevelDebug
			}
			logger.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("took", time.Since(start).Round(time.Microsecond)))
		})
	}
}

// securityHeaders sets the headers every response should carry. The
// Content-Security-Policy of HTML pages is set by render, with a nonce.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	v := fmt.Sprintf("public, max-age=%d", int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		next.ServeHTTP(w, r)
	})
}
