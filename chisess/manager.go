package chisess

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testhook"
)

// Manager holds a validated [Config] and the store it selects. Make one with
// [New] at start-up, mount [Load] with it, and share it between goroutines
// freely: a Manager is safe for concurrent use and is never changed after
// New returns.
type Manager struct {
	cfg     Config
	backend backend.Backend // nil in cookie mode
	sealer  *backend.Sealer // non-nil in cookie mode

	refreshEvery time.Duration    // 0: no idle/rolling refresh
	now          func() time.Time // time.Now, or a test's clock (internal/testhook)
	// timeouts is false for the in-process memory backend, which never
	// blocks, so its calls skip the cost of a deadline context.
	timeouts     bool
	eventKey     []byte // salts the session hashes of events
	cookieAttrs  string // "; Path=/; HttpOnly; Secure; SameSite=Lax"
	expireCookie string // the whole Set-Cookie value that deletes the cookie
}

// New validates cfg and returns a [Manager]. It returns an error wrapping
// [ErrInvalidConfig] that names the first invalid field: a cookie name that
// is not a token, SameSite=None without Secure, a "__Host-" cookie with a
// Domain or a Path other than "/", a negative duration, an IdleTimeout above
// the lifetime, or a secret shorter than 32 bytes.
//
// With Config.Backend nil, sessions are sealed into the cookie with
// Config.Secret; with a Backend, the cookie carries only a random 256-bit
// token and the data lives in the backend under a hash of that token.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, backend: cfg.Backend, now: time.Now}
	if cfg.OnEvent != nil {
		m.eventKey = newEventKey(cfg.Secret)
	}
	_, inProcess := cfg.Backend.(*backend.Memory)
	m.timeouts = !inProcess
	if cfg.Backend == nil {
		secrets := append([]string{cfg.Secret}, cfg.PreviousSecrets...)
		if m.sealer, err = backend.NewSealer(secrets...); err != nil {
			return nil, err
		}
	}
	window := cfg.IdleTimeout
	if window == 0 && cfg.Rolling {
		window = cfg.lifetime()
	}
	if window > 0 {
		m.refreshEvery = min(window/10, time.Minute)
	}

	var b strings.Builder
	b.WriteString("; Path=")
	b.WriteString(cfg.Path)
	if cfg.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(strings.TrimPrefix(cfg.Domain, "."))
	}
	b.WriteString("; HttpOnly")
	if !cfg.Insecure {
		b.WriteString("; Secure")
	}
	switch cfg.SameSite {
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	default:
		b.WriteString("; SameSite=Lax")
	}
	m.cookieAttrs = b.String()
	m.expireCookie = cfg.CookieName + "=; Max-Age=0" + m.cookieAttrs
	return m, nil
}

func init() {
	testhook.SetClock = func(m any, now func() time.Time) { m.(*Manager).now = now }
}

// CookieName returns the name of the session cookie, after defaults.
func (m *Manager) CookieName() string { return m.cfg.CookieName }

// Backend returns the server-side backend, or nil when sessions are sealed
// in the cookie.
func (m *Manager) Backend() backend.Backend { return m.backend }

// expiresAt is when a session with metadata md ends under m's config: the
// Lifetime (or the session cap) from creation, or from the last use with
// Rolling, and no later than IdleTimeout after the last use.
func (m *Manager) expiresAt(md meta) time.Time {
	exp := m.lifetimeEnd(md)
	if m.cfg.IdleTimeout > 0 && md.flags&flagRemember == 0 {
		if idle := time.UnixMilli(md.seen).Add(m.cfg.IdleTimeout); idle.Before(exp) {
			exp = idle
		}
	}
	return exp
}

// lifetimeEnd is when the session ends by its lifetime alone, idle time
// aside: the end of a persistent cookie. The idle timeout is enforced on the
// server only, so a cookie does not expire under a reader whose requests
// write nothing.
func (m *Manager) lifetimeEnd(md meta) time.Time {
	base := md.created
	if m.cfg.Rolling {
		base = md.seen
	}
	lifetime := m.cfg.lifetime()
	if md.flags&flagRemember != 0 {
		lifetime = m.cfg.RememberFor
	}
	return time.UnixMilli(base).Add(lifetime)
}

// setCookie returns the Set-Cookie header value that stores value until
// expires, or for the browser session when persist is false.
func (m *Manager) setCookie(value string, persist bool, expires, now time.Time) string {
	var buf [256]byte // enough for a token cookie: no allocation but the string
	b := append(append(append(buf[:0], m.cfg.CookieName...), '='), value...)
	return string(m.appendCookieAttrs(b, persist, expires, now))
}

// appendCookieAttrs appends the attributes of the session cookie: Max-Age
// for a persistent cookie, then Path, Domain, HttpOnly, Secure, SameSite.
func (m *Manager) appendCookieAttrs(b []byte, persist bool, expires, now time.Time) []byte {
	if persist {
		secs := int64(expires.Sub(now).Round(time.Second) / time.Second)
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, max(secs, 1), 10)
	}
	return append(b, m.cookieAttrs...)
}

// backendCtx gives one backend call its own deadline. Commits pass a context
// already detached from the request's cancellation.
func (m *Manager) backendCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if !m.timeouts {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.cfg.Timeout)
}

// fail reports err through the configured ErrorHandler, or the default one.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h := m.cfg.ErrorHandler; h != nil {
		h(w, r, err)
		return
	}
	m.cfg.Logger.ErrorContext(r.Context(), "chisess: session error", "method", r.Method, "path", r.URL.Path, "err", err)
	if errors.Is(err, ErrCommitted) {
		return // the response has already started; the log is all we can do
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

func (m *Manager) warn(ctx context.Context, msg string, args ...any) {
	m.cfg.Logger.Log(ctx, slog.LevelWarn, msg, args...)
}
