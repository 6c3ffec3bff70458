package chisess_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// TestNewConfig is the spec of chisess.New: every invalid field is an error
// from New that wraps ErrInvalidConfig and names the field, so nothing fails
// on the first request.
func TestNewConfig(t *testing.T) {
	is := is.New(t)
	mem := backend.NewMemoryWithCleanup(0)
	const shortSecret = "too-short-secret-xyz" // 20 bytes
	tests := []struct {
		name  string
		cfg   chisess.Config
		field string // "" for a valid config
	}{
		// Valid configs.
		{"zero config with Secret", chisess.Config{Secret: testSecret}, ""},
		{"Backend without Secret", chisess.Config{Backend: mem}, ""},
		{"__Host- cookie with defaults", chisess.Config{Secret: testSecret, CookieName: "__Host-session"}, ""},
		{"__Secure- cookie with defaults", chisess.Config{Secret: testSecret, CookieName: "__Secure-session"}, ""},
		{"token characters in name", chisess.Config{Secret: testSecret, CookieName: "a!#$%&'*+-.^_`|~9"}, ""},
		{"secret of exactly 32 bytes", chisess.Config{Secret: strings.Repeat("s", 32)}, ""},
		{"IdleTimeout equal to Lifetime", chisess.Config{Secret: testSecret, Lifetime: time.Hour, IdleTimeout: time.Hour}, ""},
		{"IdleTimeout equal to the default cap", chisess.Config{Secret: testSecret, IdleTimeout: chisess.DefaultSessionCap}, ""},
		{"SameSite=None with Secure", chisess.Config{Secret: testSecret, SameSite: http.SameSiteNoneMode}, ""},
		{"Domain with leading dot", chisess.Config{Secret: testSecret, Domain: ".example.com"}, ""},
		{"Path below root", chisess.Config{Secret: testSecret, Path: "/app/v1"}, ""},
		{"previous secrets", chisess.Config{Secret: testSecret, PreviousSecrets: []string{strings.Repeat("p", 32)}}, ""},
		{"MaxLifetime shorter than the default RememberFor", chisess.Config{Secret: testSecret, MaxLifetime: 72 * time.Hour}, ""},
		{"Lifetime longer than the default MaxLifetime", chisess.Config{Secret: testSecret, Lifetime: 90 * 24 * time.Hour}, ""},
		{"MaxKeys at the most a record holds", chisess.Config{Secret: testSecret, MaxKeys: 1 << 16}, ""},
		{"MaxValueSize equal to MaxSize", chisess.Config{Secret: testSecret, MaxSize: 4096, MaxValueSize: 4096}, ""},
		{"Namespace of its own", chisess.Config{Secret: testSecret, Namespace: "admin"}, ""},
		{"Partitioned with SameSite=None", chisess.Config{Secret: testSecret, Partitioned: true, SameSite: http.SameSiteNoneMode}, ""},
		{"Partitioned with a server-side backend", chisess.Config{Backend: mem, Partitioned: true}, ""},
		{"MaxCookieSize at the browsers' limit", chisess.Config{Secret: testSecret, MaxCookieSize: backend.MaxCookieSize}, ""},
		{"MaxCookieSize at the floor", chisess.Config{Secret: testSecret, MaxCookieSize: 512}, ""},
		{"MaxCookieSize with a server-side backend", chisess.Config{Backend: mem, MaxCookieSize: 1024}, ""},

		// Limits and the absolute lifetime.
		{"MaxLifetime shorter than Lifetime", chisess.Config{Secret: testSecret, Lifetime: 48 * time.Hour, MaxLifetime: 24 * time.Hour}, "MaxLifetime"},
		{"MaxLifetime shorter than RememberFor", chisess.Config{Secret: testSecret, RememberFor: 48 * time.Hour, MaxLifetime: 24 * time.Hour}, "MaxLifetime"},
		{"negative MaxLifetime", chisess.Config{Secret: testSecret, MaxLifetime: -time.Hour}, "MaxLifetime"},
		{"MaxKeys past what a record holds", chisess.Config{Secret: testSecret, MaxKeys: 1<<16 + 1}, "MaxKeys"},
		{"negative MaxKeys", chisess.Config{Secret: testSecret, MaxKeys: -1}, "MaxKeys"},
		{"negative MaxSize", chisess.Config{Secret: testSecret, MaxSize: -1}, "MaxSize"},
		{"MaxValueSize above MaxSize", chisess.Config{Secret: testSecret, MaxSize: 100, MaxValueSize: 101}, "MaxValueSize"},
		{"Namespace with a space", chisess.Config{Secret: testSecret, Namespace: "a b"}, "Namespace"},
		{"MaxCookieSize past the browsers' limit", chisess.Config{Secret: testSecret, MaxCookieSize: backend.MaxCookieSize + 1}, "MaxCookieSize"},
		{"MaxCookieSize below the floor", chisess.Config{Secret: testSecret, MaxCookieSize: 511}, "MaxCookieSize"},
		{"negative MaxCookieSize", chisess.Config{Secret: testSecret, MaxCookieSize: -1}, "MaxCookieSize"},
		{"MaxCookieSize past the limit with a server-side backend", chisess.Config{Backend: mem, MaxCookieSize: 8192}, "MaxCookieSize"},

		// CookieName.
		{"name with ;", chisess.Config{Secret: testSecret, CookieName: "a;b"}, "CookieName"},
		{"name with space", chisess.Config{Secret: testSecret, CookieName: "a b"}, "CookieName"},
		{"name with =", chisess.Config{Secret: testSecret, CookieName: "a=b"}, "CookieName"},
		{"name with comma", chisess.Config{Secret: testSecret, CookieName: "a,b"}, "CookieName"},
		{"name with NUL", chisess.Config{Secret: testSecret, CookieName: "a\x00b"}, "CookieName"},
		{"name with tab", chisess.Config{Secret: testSecret, CookieName: "a\tb"}, "CookieName"},
		{"name with DEL", chisess.Config{Secret: testSecret, CookieName: "a\x7fb"}, "CookieName"},
		{"name with CRLF", chisess.Config{Secret: testSecret, CookieName: "a\r\nb"}, "CookieName"},
		{"non-ASCII name", chisess.Config{Secret: testSecret, CookieName: "sessión"}, "CookieName"},
		{"quoted name", chisess.Config{Secret: testSecret, CookieName: `"session"`}, "CookieName"},
		{"name with parentheses", chisess.Config{Secret: testSecret, CookieName: "s(1)"}, "CookieName"},

		// Path.
		{"relative Path", chisess.Config{Secret: testSecret, Path: "app"}, "Path"},
		{"Path with ;", chisess.Config{Secret: testSecret, Path: "/a;b"}, "Path"},
		{"Path with space", chisess.Config{Secret: testSecret, Path: "/a b"}, "Path"},
		{"Path with =", chisess.Config{Secret: testSecret, Path: "/a=b"}, "Path"},
		{"Path with ?", chisess.Config{Secret: testSecret, Path: "/a?b"}, "Path"},
		{"Path with #", chisess.Config{Secret: testSecret, Path: "/a#b"}, "Path"},
		{"Path with NUL", chisess.Config{Secret: testSecret, Path: "/a\x00"}, "Path"},
		{"Path with CRLF", chisess.Config{Secret: testSecret, Path: "/a\r\nSet-Cookie: x=y"}, "Path"},
		{"Path with non-ASCII", chisess.Config{Secret: testSecret, Path: "/é"}, "Path"},
		// Browsers ignore a cookie attribute whose value passes 1024 bytes
		// (RFC 6265bis, section 5.6): the cookie would get the default
		// path of the response's URL instead. (It was accepted.)
		{"Path past 1024 bytes", chisess.Config{Secret: testSecret, Path: "/" + strings.Repeat("a", 1024)}, "Path"},
		{"Path of 1024 bytes", chisess.Config{Secret: testSecret, Path: "/" + strings.Repeat("a", 1023)}, ""},

		// Domain.
		{"Domain with ;", chisess.Config{Secret: testSecret, Domain: "example.com;x"}, "Domain"},
		{"Domain with space", chisess.Config{Secret: testSecret, Domain: "example .com"}, "Domain"},
		{"Domain with =", chisess.Config{Secret: testSecret, Domain: "a=b.com"}, "Domain"},
		{"Domain with control char", chisess.Config{Secret: testSecret, Domain: "example.com\x01"}, "Domain"},
		{"Domain with CRLF", chisess.Config{Secret: testSecret, Domain: "example.com\r\n"}, "Domain"},
		{"Domain with /", chisess.Config{Secret: testSecret, Domain: "example.com/app"}, "Domain"},
		{"Domain with port", chisess.Config{Secret: testSecret, Domain: "example.com:8080"}, "Domain"},
		{"Domain of a dot", chisess.Config{Secret: testSecret, Domain: "."}, "Domain"},

		// SameSite.
		{"SameSite=None with Insecure", chisess.Config{Secret: testSecret, SameSite: http.SameSiteNoneMode, Insecure: true}, "SameSite"},
		{"SameSite default mode", chisess.Config{Secret: testSecret, SameSite: http.SameSiteDefaultMode}, "SameSite"},
		{"SameSite out of range", chisess.Config{Secret: testSecret, SameSite: http.SameSite(42)}, "SameSite"},

		// Cookie prefixes.
		{"__Host- with Domain", chisess.Config{Secret: testSecret, CookieName: "__Host-x", Domain: "example.com"}, "Domain"},
		{"__Host- with Path /app", chisess.Config{Secret: testSecret, CookieName: "__Host-x", Path: "/app"}, "Path"},
		{"__Host- with Insecure", chisess.Config{Secret: testSecret, CookieName: "__Host-x", Insecure: true}, "CookieName"},
		{"__Secure- with Insecure", chisess.Config{Secret: testSecret, CookieName: "__Secure-x", Insecure: true}, "CookieName"},

		// Partitioned (CHIPS) cookies must be Secure.
		{"Partitioned with Insecure", chisess.Config{Secret: testSecret, Partitioned: true, Insecure: true}, "Partitioned"},
		{"Partitioned with Insecure on a server-side backend", chisess.Config{Backend: mem, Partitioned: true, Insecure: true}, "Partitioned"},

		// Durations.
		{"negative Lifetime", chisess.Config{Secret: testSecret, Lifetime: -time.Second}, "Lifetime"},
		{"negative IdleTimeout", chisess.Config{Secret: testSecret, IdleTimeout: -time.Second}, "IdleTimeout"},
		{"negative Timeout", chisess.Config{Secret: testSecret, Timeout: -time.Second}, "Timeout"},
		{"IdleTimeout above Lifetime", chisess.Config{Secret: testSecret, Lifetime: time.Hour, IdleTimeout: 2 * time.Hour}, "IdleTimeout"},
		{"IdleTimeout above the default cap", chisess.Config{Secret: testSecret, IdleTimeout: chisess.DefaultSessionCap + time.Second}, "IdleTimeout"},

		// Secrets.
		{"short Secret", chisess.Config{Secret: shortSecret}, "Secret"},
		{"31-byte Secret", chisess.Config{Secret: strings.Repeat("s", 31)}, "Secret"},
		{"short Secret with Backend", chisess.Config{Secret: shortSecret, Backend: mem}, "Secret"},
		{"no Secret and no Backend", chisess.Config{}, "Secret"},
		{"short PreviousSecrets entry", chisess.Config{Secret: testSecret, PreviousSecrets: []string{shortSecret}}, "PreviousSecrets[0]"},
		{"short second PreviousSecrets entry", chisess.Config{Secret: testSecret, PreviousSecrets: []string{testSecret + "2", shortSecret}}, "PreviousSecrets[1]"},
		{"empty PreviousSecrets entry", chisess.Config{Secret: testSecret, PreviousSecrets: []string{""}}, "PreviousSecrets[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			m, err := chisess.New(tt.cfg)
			if tt.field == "" {
				is.NoErr(err)     // a valid config is accepted
				is.True(m != nil) // and gives a manager
				return
			}
			is.Equal(m, nil)                                  // an invalid config gives no manager
			is.True(errors.Is(err, chisess.ErrInvalidConfig)) // and an error that wraps ErrInvalidConfig
			msg := err.Error()
			is.True(strings.Contains(msg, "Config."+tt.field+" ")) // that names the field
			is.True(strings.HasPrefix(msg, "chisess: "))           // starts with the package name
			is.True(!strings.HasSuffix(msg, "."))                  // and has no full stop
			is.True(!strings.Contains(msg, shortSecret))           // and never echoes a secret
			is.True(!strings.Contains(msg, testSecret))            // (the current one either)
		})
	}
}

// TestNewConfigCookieDomainRejectsEmptyLabels: a Domain the browser would
// refuse must fail at New, not silently drop every session cookie.
func TestNewConfigCookieDomainRejectsEmptyLabels(t *testing.T) {
	is := is.New(t)
	for _, d := range []string{"..", "a..b", ".a..b"} {
		_, err := chisess.New(chisess.Config{Secret: testSecret, Domain: d})
		is.True(errors.Is(err, chisess.ErrInvalidConfig)) // a Domain with an empty or bad label is invalid
	}
}

// cookieFor runs one request that stores a value under m and returns the
// raw Set-Cookie header values and the parsed session cookie.
func cookieFor(t *testing.T, m *chisess.Manager) ([]string, *http.Cookie) {
	t.Helper()
	h := chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.Set("user", "alice"); err != nil {
			t.Errorf("Set: %v", err)
		}
	}))
	rec := newClient(t, m, h).do(http.MethodGet, "/app/") // under every Path of the tables
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	return rec.Header().Values("Set-Cookie"), setCookie(rec, m.CookieName())
}

// TestNewConfigCookieAttributes checks the Set-Cookie header each config
// produces, both as a raw string and as net/http parses it. It runs in a
// synctest bubble so that no time passes during the request and Max-Age is
// exact. Its Partitioned rows are modelled on express-session's
// "cookie.partitioned" tests (test/session.js: none by default, none when
// false, the attribute when true) and gorilla/sessions' TestNewCookieFromOptions.
func TestNewConfigCookieAttributes(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name        string
		cfg         chisess.Config
		cookie      string        // the expected cookie name
		has         []string      // attributes the raw header must carry
		hasNot      []string      // substrings it must not carry
		maxAge      int           // parsed Max-Age
		domain      string        // parsed Domain
		path        string        // parsed Path
		secure      bool          // parsed Secure
		sameSite    http.SameSite // parsed SameSite
		partitioned bool          // parsed Partitioned
	}{
		{
			name:     "zero config is a secure, host-only browser-session cookie",
			cfg:      chisess.Config{Secret: testSecret},
			cookie:   "__Host-session",
			has:      []string{"; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"},
			hasNot:   []string{"Max-Age", "Expires", "Domain", "SameSite=None", "SameSite=Strict", "Partitioned"},
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "memory backend has the same defaults",
			cfg:      chisess.Config{Backend: backend.NewMemoryWithCleanup(0)},
			cookie:   "__Host-session",
			has:      []string{"; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"},
			hasNot:   []string{"Max-Age", "Expires", "Domain"},
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "Lifetime 1h gives Max-Age=3600 and the Expires of the same instant",
			cfg:      chisess.Config{Secret: testSecret, Lifetime: time.Hour},
			cookie:   "__Host-session",
			has:      []string{"; Max-Age=3600; Expires=Sat, 01 Jan 2000 01:00:00 GMT;", "; HttpOnly", "; Secure"},
			hasNot:   []string{"Domain"},
			maxAge:   3600,
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "Insecure drops Secure only",
			cfg:      chisess.Config{Secret: testSecret, Insecure: true},
			cookie:   "session",
			has:      []string{"; HttpOnly", "; SameSite=Lax", "; Path=/"},
			hasNot:   []string{"Secure"},
			path:     "/",
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "Domain is emitted",
			cfg:      chisess.Config{Secret: testSecret, Domain: "example.com"},
			cookie:   "session",
			has:      []string{"; Domain=example.com", "; Secure", "; HttpOnly"},
			domain:   "example.com",
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "leading dot of Domain is dropped",
			cfg:      chisess.Config{Secret: testSecret, Domain: ".example.com"},
			cookie:   "session",
			has:      []string{"; Domain=example.com;"},
			hasNot:   []string{"Domain=.example.com"},
			domain:   "example.com",
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "Path is emitted",
			cfg:      chisess.Config{Secret: testSecret, Path: "/app"},
			cookie:   "session",
			has:      []string{"; Path=/app;"},
			hasNot:   []string{"Path=/;"},
			path:     "/app",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "SameSite Strict",
			cfg:      chisess.Config{Secret: testSecret, SameSite: http.SameSiteStrictMode},
			cookie:   "__Host-session",
			has:      []string{"; SameSite=Strict", "; Secure"},
			hasNot:   []string{"SameSite=Lax"},
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteStrictMode,
		},
		{
			name:     "SameSite None",
			cfg:      chisess.Config{Secret: testSecret, SameSite: http.SameSiteNoneMode},
			cookie:   "__Host-session",
			has:      []string{"; SameSite=None", "; Secure"},
			hasNot:   []string{"SameSite=Lax"},
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteNoneMode,
		},
		{
			name:     "__Host- cookie",
			cfg:      chisess.Config{Secret: testSecret, CookieName: "__Host-session"},
			cookie:   "__Host-session",
			has:      []string{"; Path=/", "; Secure"},
			hasNot:   []string{"Domain"},
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteLaxMode,
		},
		{
			name:     "Partitioned false sends no Partitioned",
			cfg:      chisess.Config{Secret: testSecret, Partitioned: false, SameSite: http.SameSiteNoneMode},
			cookie:   "__Host-session",
			has:      []string{"; SameSite=None"},
			hasNot:   []string{"Partitioned"},
			path:     "/",
			secure:   true,
			sameSite: http.SameSiteNoneMode,
		},
		{
			name:        "Partitioned for an embedded app, with SameSite=None and the __Host- prefix",
			cfg:         chisess.Config{Secret: testSecret, Partitioned: true, SameSite: http.SameSiteNoneMode},
			cookie:      "__Host-session",
			has:         []string{"; Path=/", "; Secure", "; SameSite=None; Partitioned"},
			hasNot:      []string{"Domain"},
			path:        "/",
			secure:      true,
			sameSite:    http.SameSiteNoneMode,
			partitioned: true,
		},
		{
			name:        "Partitioned with a Path and a Domain on a server-side backend",
			cfg:         chisess.Config{Backend: backend.NewMemoryWithCleanup(0), Partitioned: true, Path: "/app", Domain: "example.com"},
			cookie:      "session",
			has:         []string{"; Path=/app", "; Domain=example.com", "; Secure", "; Partitioned"},
			domain:      "example.com",
			path:        "/app",
			secure:      true,
			sameSite:    http.SameSiteLaxMode,
			partitioned: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				m := newManager(t, tt.cfg)
				is.Equal(m.CookieName(), tt.cookie) // the cookie name after defaults
				raw, c := cookieFor(t, m)
				is.Equal(len(raw), 1)                             // one Set-Cookie header
				is.True(strings.HasPrefix(raw[0], tt.cookie+"=")) // named as configured
				for _, a := range tt.has {
					is.True(strings.Contains(raw[0], a)) // the raw header carries each configured attribute
				}
				for _, a := range tt.hasNot {
					is.True(!strings.Contains(raw[0], a)) // and nothing that was not configured
				}
				is.True(c != nil)             // net/http parses it
				is.Equal(c.Name, tt.cookie)   // with the configured name
				is.Equal(c.MaxAge, tt.maxAge) // Max-Age (0: none, a browser-session cookie)
				if tt.maxAge > 0 {
					// Expires beside it, for the clients that ignore
					// Max-Age: the same instant (no time passes here).
					is.Equal(c.Expires, time.Now().Add(time.Duration(tt.maxAge)*time.Second).UTC())
				} else {
					is.True(c.Expires.IsZero()) // a browser-session cookie has no Expires either
				}
				is.Equal(c.Domain, tt.domain)           // Domain
				is.Equal(c.Path, tt.path)               // Path
				is.Equal(c.Secure, tt.secure)           // Secure
				is.True(c.HttpOnly)                     // always HttpOnly: scripts never see the token
				is.Equal(c.SameSite, tt.sameSite)       // SameSite
				is.Equal(c.Partitioned, tt.partitioned) // Partitioned
				is.True(c.Valid() == nil)               // and the whole cookie is valid
			})
		})
	}
}

// TestCookieMaxAgeMatchesLifetime: a request that starts between two
// milliseconds, as almost every real one does, must still get
// Max-Age=Lifetime on a new session.
func TestCookieMaxAgeMatchesLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := newManager(t, chisess.Config{Secret: testSecret, Lifetime: time.Hour})
		time.Sleep(500 * time.Microsecond) // the clock is not on a whole millisecond
		_, c := cookieFor(t, m)
		is.Equal(c.MaxAge, 3600) // a fresh session lives the whole Lifetime
	})
}
