package chisess

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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
	lifetime     time.Duration    // Config.Lifetime, or DefaultSessionCap
	now          func() time.Time // time.Now, or a test's clock (internal/testhook)
	// timeouts is false for the in-process memory backend, which never
	// blocks, so its calls skip the cost of a deadline context.
	timeouts    bool
	events      bool   // someone is told about events: OnEvent, the Observer
	eventKey    []byte // salts the session hashes of events; nil without OnEvent
	keyPrefix   []byte // binds storage keys to the namespace
	cookie      cookieSpec
	cookieLimit int // the largest sealed cookie, name and value
	// key is the context key under which Load keeps this manager's
	// request state, for Manager.From.
	key contextKey
}

// New validates cfg and returns a [Manager]. It returns an error wrapping
// [ErrInvalidConfig] that names the first invalid field: a cookie name that
// is not a token, SameSite=None or Partitioned without Secure, a "__Host-"
// cookie with a Domain or a Path other than "/", a negative duration, an
// IdleTimeout above the lifetime, a MaxCookieSize past the browsers' 4096
// bytes, or a secret shorter than 32 bytes.
//
// With Config.Backend nil, sessions are sealed into the cookie with
// Config.Secret; with a Backend, the cookie carries only a random 256-bit
// token and the data lives in the backend under a hash of that token.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, backend: cfg.Backend, now: time.Now, key: contextKey{"request state of " + cfg.CookieName}}
	if cfg.Observer != nil && cfg.Backend != nil {
		m.backend = observe(cfg.Backend, cfg.Observer, m)
	}
	m.events = cfg.OnEvent != nil || cfg.Observer != nil
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
	m.lifetime = cfg.lifetime()
	window := cfg.IdleTimeout
	if window == 0 && cfg.Rolling {
		window = m.lifetime
	}
	if window > 0 {
		m.refreshEvery = min(window/10, time.Minute)
	}
	m.keyPrefix = keyPrefix(m.cfg.Namespace)
	m.cookie = newCookieSpec(&m.cfg)
	m.cookieLimit = cfg.MaxCookieSize
	if m.sealer != nil {
		r := record{size: minCookieRoom}
		if l := m.sealer.SealedLen(cfg.CookieName, tokenBytes+r.encodedLen()); l > m.cookieLimit {
			return nil, invalid("MaxCookieSize", "(%d) leaves no room for a session under the %d-byte CookieName: one holding %d bytes of keys and values would take %d", m.cookieLimit, len(cfg.CookieName), minCookieRoom, l)
		}
	}
	return m, nil
}

func init() {
	testhook.SetClock = func(m any, now func() time.Time) { m.(*Manager).now = now }
}

// CookieName returns the name of the session cookie, after defaults.
func (m *Manager) CookieName() string { return m.cfg.CookieName }

// Backend returns the server-side backend, or nil when sessions are sealed
// in the cookie.
func (m *Manager) Backend() backend.Backend { return m.cfg.Backend }

// fail reports err through the configured ErrorHandler, or the default one.
// An ErrorHandler that reports another error of the same request (through
// [Error]) does not run again: that error is logged, so no error path can
// recurse. It reports whether a handler answered; when nested it did not
// (the outer ErrorHandler answers).
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) bool {
	st := m.state(r.Context())
	if h := m.cfg.ErrorHandler; h != nil && (st == nil || st.failing.CompareAndSwap(false, true)) {
		defer func() {
			if st != nil {
				st.failing.Store(false)
			}
		}()
		h(w, r, err)
		return true
	}
	m.cfg.Logger.ErrorContext(r.Context(), "chisess: session error", "method", r.Method, "path", r.URL.Path, "err", err)
	if m.cfg.ErrorHandler == nil && !errors.Is(err, ErrResponseStarted) {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return true
	}
	return false
}

func (m *Manager) warn(ctx context.Context, msg string, args ...any) {
	m.cfg.Logger.Log(ctx, slog.LevelWarn, msg, args...)
}
