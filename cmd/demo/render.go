package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/chisess/kit/chisess"
)

// page is what every template gets: the layout uses the top-level fields,
// the page's own template reads Data.
type page struct {
	Title   string
	Nav     string // the active nav item
	User    string // the signed-in user, "" when signed out
	Flashes []chisess.Flash
	Backend string
	Idle    time.Duration
	Nonce   string // for the Content-Security-Policy of inline scripts
	Data    any
}

// parsePages parses each page template together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template)
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		pages[base] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"human": humanDuration,
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
	"stamp": func(t time.Time) string { return t.Local().Format("Mon 2 Jan 15:04:05 MST") },
	"until": func(t time.Time) string { return humanDuration(time.Until(t)) },
	"ago": func(t time.Time) string {
		if d := time.Since(t); d >= 5*time.Second {
			return humanDuration(d) + " ago"
		}
		return "just now"
	},
	"initial": func(name string) string {
		for _, r := range name {
			return strings.ToUpper(string(r))
		}
		return "?"
	},
}

// humanDuration writes d to the second with at most two units, dropping
// a zero second unit: "1d", "2h 5m", "30m", "4m 30s", "12s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	two := func(n1 int, u1 string, n2 int, u2 string) string {
		if n2 == 0 {
			return fmt.Sprintf("%d%s", n1, u1)
		}
		return fmt.Sprintf("%d%s %d%s", n1, u1, n2, u2)
	}
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h >= 24:
		return two(h/24, "d", h%24, "h")
	case h > 0:
		return two(h, "h", m, "m")
	case m > 0:
		return two(m, "m", s, "s")
	}
	return fmt.Sprintf("%ds", s)
}

// render loads the session, takes its flash messages and writes the page
// with status. The page is rendered into a buffer first, so a template
// error is a clean 500 (which chisess does not commit: the flashes stay).
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		chisess.Error(w, r, err)
		return
	}
	p.User, _ = userKey.Get(s)
	p.Flashes, _ = s.Flashes() // nothing is written yet: taking them cannot fail
	p.Backend = a.cfg.Backend
	p.Idle = a.cfg.IdleTimeout
	p.Nonce = newNonce()

	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.log.ErrorContext(r.Context(), "render", "page", name, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'self'",
		"script-src 'nonce-" + p.Nonce + "'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src 'self'",
		"form-action 'self'",
		"frame-ancestors 'none'",
		"base-uri 'none'",
	}, "; "))
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	buf.WriteTo(w)
}

func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// sessionError is the session manager's Config.ErrorHandler: it answers a
// request whose session could not be loaded or saved, for Autoload, Require
// and RenewToken, and for handlers through chisess.Error. The error goes to the
// log, never to the client. An error wrapping ErrResponseStarted (which a
// handler may pass to chisess.Error) comes after the response has started,
// so the log is all it gets.
func (a *app) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "session", "method", r.Method, "path", r.URL.Path, "err", err)
	switch {
	case errors.Is(err, chisess.ErrResponseStarted):
	case isAPI(r):
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "session unavailable, try again"})
	default:
		http.Error(w, "Your session is unavailable right now. Please try again.", http.StatusInternalServerError)
	}
}

// seeOther ends a POST with a redirect, so a reload does not post again.
func seeOther(w http.ResponseWriter, r *http.Request, url string) {
	http.Redirect(w, r, url, http.StatusSeeOther)
}
