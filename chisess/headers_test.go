package chisess_test

// Response headers: whenever chisess sends a session cookie, the response
// must not be cached and must vary on Cookie (OWASP: session IDs must never
// be cached). The hostile-input suite's family for headers; the config
// family is config_test.go.

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"
)

func TestEverySetCookieIsUncacheable(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			cfg := tm.cfg
			cfg.Lifetime = 24 * time.Hour
			cfg.Rolling = true
			cfg.IdleTimeout = time.Hour
			_, c := newApp(t, cfg)
			sent := 0
			for _, step := range []struct {
				method, path string
				wait         time.Duration
			}{
				{"GET", "/", 0},
				{"GET", "/read", 10 * time.Minute}, // a rolling refresh
				{"POST", "/renew", 0},
				{"POST", "/clear", 0},
				{"GET", "/", 0},
				{"POST", "/destroy", 0},
			} {
				time.Sleep(step.wait)
				rec := c.do(step.method, step.path)
				is.True(hasHeaderValue(rec.Header(), "Vary", "Cookie")) // every response that read the session varies on Cookie
				if len(rec.Header().Values("Set-Cookie")) > 0 {
					sent++
					is.Equal(rec.Header().Get("Cache-Control"), "no-store") // and every Set-Cookie is uncacheable
				}
			}
			is.True(sent >= 5) // the flow sent cookies at almost every step
		})
	})
}

func TestCookieValuesAreBase64URLOnly(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		rec := c.do("GET", "/")
		sc := setCookie(rec, m.CookieName())
		is.True(sc != nil)
		for _, ch := range sc.Value {
			ok := 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_'
			is.True(ok) // nothing a header or a cookie parser could misread
		}
		is.Equal(rec.Code, http.StatusOK)
	})
}
