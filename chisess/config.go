package chisess

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// Config configures a [Manager]. The zero value of every field is the safe
// default, so a Config with only Secret set is a complete, secure setup:
// sessions sealed in a cookie called "__Host-session" that is Secure,
// HttpOnly, SameSite=Lax and Path=/, lasting until the browser closes and at
// most [DefaultSessionCap] on the server.
type Config struct {
	// Secret is the key material for the cookie backend, which seals the
	// session into the cookie with AES-256-GCM. It must be at least 32 bytes
	// of random data (for example `openssl rand -base64 32`). It is required
	// when Backend is nil. Keep it out of source code.
	Secret string

	// PreviousSecrets are older secrets that still open cookies but never
	// seal new ones. To rotate, make the new secret Secret, move the old one
	// here, and remove it once cookies it sealed have expired. Default: none.
	PreviousSecrets []string

	// Backend stores sessions on the server. Default (nil): the cookie
	// backend, which keeps the sealed session in the cookie itself and needs
	// no server. Use backend.NewMemory for one process, or redisbackend,
	// pgbackend or boltbackend when sessions must be shared or survive
	// restarts.
	Backend backend.Backend

	// CookieName is the name of the session cookie. Default:
	// "__Host-session" when the cookie is Secure with Path "/" and no
	// Domain (the default), else "session". The "__Host-" prefix makes the
	// browser refuse the cookie unless it is Secure, host-only and for the
	// whole site, so a sibling subdomain or an insecure page cannot plant
	// or overwrite it (cookie tossing); New checks those rules for any name
	// with the prefix.
	CookieName string

	// Namespace binds the storage keys (and the owner index) of this
	// Manager's sessions, so that Managers sharing one backend never open
	// each other's sessions, whichever token a client sends to which.
	// Default: CookieName. Give each Manager on a shared store its own
	// (distinct cookie names already are); it may use the characters of a
	// cookie name. Changing it ends every stored session.
	Namespace string

	// Domain is the cookie's Domain attribute. Default: empty, a host-only
	// cookie, which is the safest choice. Set it only to share the session
	// with subdomains.
	Domain string

	// Path is the cookie's Path attribute. Default: "/". A browser sends
	// the cookie only with requests whose path is Path or below it (RFC
	// 6265's path-match: "/admin" covers "/admin" and "/admin/users", not
	// "/administrator"), so a request outside it cannot see the session the
	// browser holds, and a cookie set there would replace that session
	// unseen. chisess therefore gives such a request a new, empty session
	// whatever cookies it carries, its changes return an error wrapping
	// [ErrOutsidePath], and its response neither sets nor clears the cookie.
	// The path compared is the one the client asked for (r.RequestURI), as
	// the browser compares it, even under http.StripPrefix; behind a proxy
	// that rewrites paths, Path must be the path the browser sees, and the
	// proxy must pass it on unchanged. Sessions carried by [TokenHeader] have
	// no path. New refuses a Path longer than 1024 bytes, which browsers
	// ignore.
	Path string

	// SameSite is the cookie's SameSite attribute. Default (zero):
	// http.SameSiteLaxMode. http.SameSiteNoneMode requires a Secure cookie.
	SameSite http.SameSite

	// Insecure drops the Secure attribute so the cookie is also sent over
	// plain HTTP. Default: false (Secure). Set it only for local development
	// over http://; browsers treat http://localhost as secure anyway.
	Insecure bool

	// Partitioned adds the Partitioned attribute (CHIPS, Cookies Having
	// Independent Partitioned State) to the cookie, for an app embedded in
	// other sites' pages (an iframe: a chat or support widget, a payment
	// form, an embedded editor): the browser keeps a separate cookie for
	// each top-level site the app is embedded in, and where third-party
	// cookies are blocked, a browser that supports CHIPS still keeps a
	// partitioned one. The session a visitor has inside an embed on one
	// site is not the one inside an embed on another, nor the one on your
	// own site. In a cross-site iframe the cookie is sent only with
	// SameSite http.SameSiteNoneMode, so set that too. It needs a Secure
	// cookie: New refuses it with Insecure. The default name's "__Host-"
	// prefix, which browsers recommend for partitioned cookies, stays.
	// Default: false, an unpartitioned cookie.
	Partitioned bool

	// Lifetime is how long a session lives after it is created, enforced on
	// the server; the cookie gets the matching Max-Age. Default (zero): the
	// cookie is a browser-session cookie with no Max-Age, dropped when the
	// browser closes, and the server ends the session after
	// [DefaultSessionCap] at the latest. [Session.SetLifetime] gives one
	// session a lifetime of its own instead.
	Lifetime time.Duration

	// IdleTimeout ends a session that has not been used for this long, even
	// if its Lifetime has not passed. It is enforced on the server; the
	// cookie keeps the Lifetime's Max-Age. Default: zero, no idle timeout.
	// The stored last-use time is refreshed at most once per
	// min(IdleTimeout/10, 1 minute), so a read-only request rarely writes.
	IdleTimeout time.Duration

	// Rolling makes the Lifetime count from the last use instead of from
	// creation: an active session never expires, an unused one expires
	// Lifetime after its last use. Default: false.
	Rolling bool

	// MaxLifetime is the absolute limit on a session's life, counted from
	// its creation: neither activity (Rolling, IdleTimeout refreshes) nor
	// RememberMe nor SetLifetime extends a session past it, so a stolen
	// session ends by then whatever the thief does (OWASP ASVS 5.0,
	// V7.3.2). Default (zero): the longest of [DefaultMaxLifetime] (30
	// days), Lifetime and RememberFor. New refuses a MaxLifetime shorter
	// than Lifetime or RememberFor.
	MaxLifetime time.Duration

	// RenewEvery gives a session a new token when its current one is older
	// than this, on the next request that uses it, so a token that leaks
	// stops working soon even while its session goes on. With a server-side
	// backend the old token still leads to the new session for RenewGrace,
	// so that requests already in flight with it (parallel fetches, a
	// second tab) do not fail; after that it is dead. Default: zero, tokens
	// change only on RenewToken and Destroy.
	RenewEvery time.Duration

	// RenewGrace is how long a token replaced by a renewal keeps a forward
	// record to its session: after RenewEvery, requests in flight with the
	// old token follow it; after any renewal, a logout by a request that
	// loaded the session under the old token follows it to end the session
	// where it lives now. Default (zero): [DefaultRenewGrace], 30 seconds.
	RenewGrace time.Duration

	// RememberFor is how long a session lives after [Session.RememberMe]
	// (true), unless [Session.SetLifetime] gave it a lifetime of its own:
	// its cookie persists for this long even when Lifetime is zero, and
	// IdleTimeout does not end it. Default (zero): [DefaultRememberFor],
	// 30 days, or MaxLifetime when that is set and shorter.
	RememberFor time.Duration

	// Codec encodes values that are not one of the built-in kinds (string,
	// bool, int, int64, float64, []byte, time.Time). Default: JSONCodec.
	Codec Codec

	// MaxKeys bounds how many keys a session holds; the owner, the
	// description and each queued flash message count as one each. A Set
	// past it returns an error wrapping [ErrTooLarge], and so does a commit
	// whose merge with concurrent requests' changes passes it. A session
	// stored before the limit was lowered can still shrink, and change
	// without growing. Default (zero): [DefaultMaxKeys]; at most 65,536.
	MaxKeys int

	// MaxSize bounds the encoded size of a session's keys and values, in
	// bytes, checked like MaxKeys. Default (zero): [DefaultMaxSize], 1 MiB.
	// With the cookie backend the sealed cookie must also fit
	// MaxCookieSize ([ErrCookieTooLarge]), which is checked at Set too.
	MaxSize int

	// MaxValueSize bounds one encoded value, in bytes. Default (zero):
	// MaxSize.
	MaxValueSize int

	// MaxCookieSize bounds the sealed cookie of the cookie backend, name and
	// value together, in bytes. A change that would take the cookie past it
	// fails at Set (an error wrapping [ErrTooLarge] and [ErrCookieTooLarge]),
	// and so does a commit as a last resort; a longer cookie is not read (a
	// new session starts, as for a malformed cookie), so lowering it ends the
	// sessions whose cookies are longer. Lower it when the session cookie
	// shares the request's Cookie header with other cookies under a proxy's
	// header limit. Default (zero), and the most: [backend.MaxCookieSize],
	// 4096 bytes, the most every browser keeps. New refuses a value above it
	// or below 512, and one that, after the CookieName, leaves no room for a
	// session holding 64 bytes of keys and values. With a server-side Backend the cookie carries only a
	// 43-character token, and the limit is not used.
	MaxCookieSize int

	// Timeout bounds each backend call made to load or commit a session.
	// The commit also runs detached from the request's context, so a client
	// that hangs up cannot stop a logout half-way. When a commit fails
	// after it stored something (the owner index could not be updated, a
	// renewal could not retire the old token), undoing it gets one more
	// Timeout of its own, so that a backend slow enough to spend the first
	// cannot leave a session out of its owner's index: such a failing
	// commit can take twice Timeout. Default: 5 seconds.
	Timeout time.Duration

	// KeepChangesOnServerError saves session changes even when the response
	// status is 5xx. Default: false, so a handler that fails half-way (or
	// panics into a recovering middleware) does not leave a half-changed
	// session behind.
	KeepChangesOnServerError bool

	// ErrorHandler writes the response when loading or saving a session
	// fails: a backend error, [ErrStaleSession], [ErrTooLarge]. It runs
	// before the response's headers are sent, so it can still choose the
	// status; w is the response writer beneath chisess's, so what it writes
	// goes out as is. Default: log the error with Logger and answer 500
	// Internal Server Error. Never send err.Error() to the client.
	//
	// It may read the session, and render a page with the site's layout,
	// when the session is loaded: after a failed load it is not, and
	// reading it panics as anywhere else, so check [Session.Loaded] first.
	// After a failed save the session can no longer change: AddFlash, Set,
	// Flashes (which takes the messages) and the other changes return an
	// error wrapping [ErrResponseStarted] and change nothing, and no
	// error is reported a second time, so an error page cannot loop. A call
	// to [Error] from inside it only logs its error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// OnEvent, when set, is called at each moment of a session's life:
	// created, loaded, committed, renewed, destroyed, a cookie rejected
	// (with the reason), an error. Events carry a salted hash of the
	// session ID, never the token. It runs synchronously on the request's
	// goroutine, so keep it fast. [LogEvents] is a ready log/slog hook.
	// Default: nil, no events.
	OnEvent func(ctx context.Context, e Event)

	// Observer, when set, is told about every load and commit of a
	// session and every call to the backend, with its duration and outcome,
	// and about every event: the hook for tracing and metrics (the
	// otelchisess module is one for OpenTelemetry). It sees no token, key
	// or value. Default: nil, which costs nothing: the backend is called
	// directly.
	Observer Observer

	// Logger receives chisess's own log records (errors, and warnings for
	// corrupt stored sessions). Tokens and secrets are never logged.
	// Default: slog.Default().
	Logger *slog.Logger
}

// DefaultSessionCap is the server-side limit on the life of a session whose
// Config.Lifetime is zero (a browser-session cookie): browsers that restore
// tabs keep such cookies for weeks, so the server ends them.
const DefaultSessionCap = 24 * time.Hour

// DefaultRememberFor is the RememberFor used when Config.RememberFor is
// zero.
const DefaultRememberFor = 30 * 24 * time.Hour

// DefaultMaxLifetime is the shortest MaxLifetime used when
// Config.MaxLifetime is zero.
const DefaultMaxLifetime = 30 * 24 * time.Hour

// DefaultMaxKeys is the MaxKeys used when Config.MaxKeys is zero.
const DefaultMaxKeys = 1000

// DefaultMaxSize is the MaxSize used when Config.MaxSize is zero.
const DefaultMaxSize = 1 << 20

// maxAttrLen is the longest cookie attribute value browsers heed (RFC
// 6265bis, section 5.6): they ignore a longer Path, and the cookie gets the
// default path of the URL that set it.
const maxAttrLen = 1024

// minCookieSize is the smallest Config.MaxCookieSize New accepts: below it
// a sealed session holds next to nothing.
const minCookieSize = 512

// minCookieRoom is how many bytes of keys and values a sealed cookie must
// have room for, under its name and at Config.MaxCookieSize, for New to
// accept the config.
const minCookieRoom = 64

// DefaultRenewGrace is the RenewGrace used when Config.RenewGrace is zero.
const DefaultRenewGrace = 30 * time.Second

// DefaultTimeout is the Timeout used when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: Config.%s %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// withDefaults validates cfg and fills in the defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.CookieName == "" {
		cfg.CookieName = "session"
		if !cfg.Insecure && cfg.Domain == "" && (cfg.Path == "" || cfg.Path == "/") {
			cfg.CookieName = "__Host-session"
		}
	}
	if !validCookieName(cfg.CookieName) {
		return cfg, invalid("CookieName", "%q: must be a non-empty token of letters, digits and !#$%%&'*+-.^_`|~", cfg.CookieName)
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if !strings.HasPrefix(cfg.Path, "/") || !validAttr(cfg.Path) || strings.ContainsAny(cfg.Path, "?#") {
		return cfg, invalid("Path", "%q: must start with / and contain no spaces, ';', '=', '?', '#' or control characters (no request path can hold a query or a fragment)", cfg.Path)
	}
	if len(cfg.Path) > maxAttrLen {
		return cfg, invalid("Path", "is %d bytes; browsers ignore a cookie attribute longer than %d bytes", len(cfg.Path), maxAttrLen)
	}
	if cfg.Domain != "" && !validDomain(cfg.Domain) {
		return cfg, invalid("Domain", "%q: must be a host name of letters, digits, '-' and '.'", cfg.Domain)
	}
	switch cfg.SameSite {
	case 0:
		cfg.SameSite = http.SameSiteLaxMode
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if cfg.Insecure {
			return cfg, invalid("SameSite", "is None, which browsers accept only on Secure cookies; drop Insecure or choose Lax")
		}
	default:
		return cfg, invalid("SameSite", "%d: use http.SameSiteLaxMode, http.SameSiteStrictMode or http.SameSiteNoneMode", cfg.SameSite)
	}
	if cfg.Partitioned && cfg.Insecure {
		return cfg, invalid("Partitioned", "needs a Secure cookie, which browsers require of partitioned cookies; drop Insecure")
	}
	if strings.HasPrefix(cfg.CookieName, "__Secure-") && cfg.Insecure {
		return cfg, invalid("CookieName", "%q: the __Secure- prefix needs a Secure cookie; drop Insecure", cfg.CookieName)
	}
	if strings.HasPrefix(cfg.CookieName, "__Host-") {
		switch {
		case cfg.Insecure:
			return cfg, invalid("CookieName", "%q: the __Host- prefix needs a Secure cookie; drop Insecure", cfg.CookieName)
		case cfg.Domain != "":
			return cfg, invalid("Domain", "must be empty for a __Host- cookie, got %q", cfg.Domain)
		case cfg.Path != "/":
			return cfg, invalid("Path", "must be / for a __Host- cookie, got %q", cfg.Path)
		}
	}
	if cfg.Namespace == "" {
		cfg.Namespace = cfg.CookieName
	}
	if !validCookieName(cfg.Namespace) {
		return cfg, invalid("Namespace", "%q: must be a non-empty token of letters, digits and !#$%%&'*+-.^_`|~", cfg.Namespace)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Lifetime", cfg.Lifetime}, {"IdleTimeout", cfg.IdleTimeout}, {"Timeout", cfg.Timeout}, {"RememberFor", cfg.RememberFor}, {"MaxLifetime", cfg.MaxLifetime}, {"RenewEvery", cfg.RenewEvery}, {"RenewGrace", cfg.RenewGrace}} {
		if d.v < 0 {
			return cfg, invalid(d.name, "is negative (%v)", d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"MaxKeys", cfg.MaxKeys}, {"MaxSize", cfg.MaxSize}, {"MaxValueSize", cfg.MaxValueSize}, {"MaxCookieSize", cfg.MaxCookieSize}} {
		if n.v < 0 {
			return cfg, invalid(n.name, "is negative (%d)", n.v)
		}
	}
	if cfg.IdleTimeout > cfg.lifetime() {
		return cfg, invalid("IdleTimeout", "(%v) is longer than the session lifetime (%v), so it would never apply", cfg.IdleTimeout, cfg.lifetime())
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RememberFor == 0 {
		cfg.RememberFor = DefaultRememberFor
		if cfg.MaxLifetime > 0 {
			cfg.RememberFor = min(cfg.RememberFor, cfg.MaxLifetime)
		}
	}
	if cfg.RenewGrace == 0 {
		cfg.RenewGrace = DefaultRenewGrace
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = max(DefaultMaxLifetime, cfg.Lifetime, cfg.RememberFor)
	}
	switch {
	case cfg.MaxLifetime < cfg.Lifetime:
		return cfg, invalid("MaxLifetime", "(%v) is shorter than Lifetime (%v)", cfg.MaxLifetime, cfg.Lifetime)
	case cfg.MaxLifetime < cfg.RememberFor:
		return cfg, invalid("MaxLifetime", "(%v) is shorter than RememberFor (%v)", cfg.MaxLifetime, cfg.RememberFor)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxKeys > maxEntries {
		return cfg, invalid("MaxKeys", "(%d) is above %d, the most a stored session can hold", cfg.MaxKeys, maxEntries)
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxValueSize == 0 {
		cfg.MaxValueSize = cfg.MaxSize
	}
	if cfg.MaxValueSize > cfg.MaxSize {
		return cfg, invalid("MaxValueSize", "(%d) is above MaxSize (%d), so no such value could be stored", cfg.MaxValueSize, cfg.MaxSize)
	}
	if cfg.MaxCookieSize == 0 {
		cfg.MaxCookieSize = backend.MaxCookieSize
	}
	switch {
	case cfg.MaxCookieSize > backend.MaxCookieSize:
		return cfg, invalid("MaxCookieSize", "(%d) is above %d bytes, the most every browser keeps", cfg.MaxCookieSize, backend.MaxCookieSize)
	case cfg.MaxCookieSize < minCookieSize:
		return cfg, invalid("MaxCookieSize", "(%d) is below %d bytes, too small for a sealed session", cfg.MaxCookieSize, minCookieSize)
	}
	if cfg.Secret != "" && len(cfg.Secret) < backend.MinSecretLen {
		return cfg, invalid("Secret", "is %d bytes; use at least %d random bytes", len(cfg.Secret), backend.MinSecretLen)
	}
	if cfg.Backend == nil && cfg.Secret == "" {
		return cfg, invalid("Secret", "is required for the cookie backend (Backend is nil); use at least %d random bytes", backend.MinSecretLen)
	}
	for i, s := range cfg.PreviousSecrets {
		if len(s) < backend.MinSecretLen {
			return cfg, invalid(fmt.Sprintf("PreviousSecrets[%d]", i), "is %d bytes; use at least %d", len(s), backend.MinSecretLen)
		}
	}
	if cfg.Codec == nil {
		cfg.Codec = JSONCodec
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// lifetime is the absolute (or, with Rolling, sliding) limit on a session.
func (cfg *Config) lifetime() time.Duration {
	if cfg.Lifetime == 0 {
		return DefaultSessionCap
	}
	return cfg.Lifetime
}

// validCookieName reports whether name is an RFC 7230 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validAttr reports whether a Path value is safe in a Set-Cookie header.
func validAttr(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == ';' || c == '=' || c == ',' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	d = strings.TrimPrefix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
