package chisess

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the one place that reads the session cookie from a request
// and writes it (or the token header of TokenHeader) into a response.

// cookieSpec is the session cookie as a Manager writes it.
type cookieSpec struct {
	name    string
	attrs   string // "; Path=/; HttpOnly; Secure; SameSite=Lax"
	expire  string // the whole Set-Cookie value that deletes the cookie
	anyPath bool   // Path is "/": every request is on it
	cfg     *Config
}

func newCookieSpec(cfg *Config) cookieSpec {
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
	if cfg.Partitioned {
		b.WriteString("; Partitioned")
	}
	c := cookieSpec{name: cfg.CookieName, attrs: b.String(), anyPath: cfg.Path == "/", cfg: cfg}
	// Expires beside Max-Age, for the clients that know only Expires:
	// the Unix epoch, as net/http writes it.
	c.expire = cfg.CookieName + "=; Max-Age=0; Expires=" + time.Unix(0, 0).UTC().Format(http.TimeFormat) + c.attrs
	return c
}

// cookieLife is how long a session cookie lasts: Max-Age in seconds, zero
// for a browser-session cookie, and the Expires of the same instant, for
// the clients that know only Expires.
type cookieLife struct {
	age     int64
	expires time.Time
}

// lifeUntil is the life of a cookie sent at now for a session that ends at
// end, when persist says it outlives the browser. Both are whole seconds
// rounded up, so the cookie never ends before the session does; Expires
// depends on end alone, so every response for the session names the same
// instant, and Max-Age counts down to it.
func lifeUntil(persist bool, end, now time.Time) cookieLife {
	if !persist {
		return cookieLife{}
	}
	left := end.Sub(now) // saturates, for the longest lifetimes
	age := int64(left / time.Second)
	if left%time.Second > 0 {
		age++
	}
	ms := end.UnixMilli()
	secs := ms / 1000
	if ms%1000 > 0 {
		secs++
	}
	return cookieLife{age: max(age, 1), expires: time.Unix(secs, 0).UTC()}
}

// appendAttrs appends the attributes of the session cookie to a Set-Cookie
// value: for a persistent cookie, Max-Age and Expires, then Path, Domain,
// HttpOnly, Secure, SameSite and Partitioned.
func (c *cookieSpec) appendAttrs(b []byte, life cookieLife) []byte {
	if life.age > 0 {
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, life.age, 10)
		b = append(b, "; Expires="...)
		b = life.expires.AppendFormat(b, http.TimeFormat)
	}
	return append(b, c.attrs...)
}

// httpCookie is the cookie carrying value, for callers that want an
// *http.Cookie rather than a header ([Manager.Issue]). It has the
// attributes appendAttrs writes.
func (c *cookieSpec) httpCookie(value string, life cookieLife) *http.Cookie {
	hc := &http.Cookie{
		Name:        c.name,
		Value:       value,
		Path:        c.cfg.Path,
		Domain:      c.cfg.Domain,
		MaxAge:      int(life.age),
		Secure:      !c.cfg.Insecure,
		HttpOnly:    true,
		SameSite:    c.cfg.SameSite,
		Partitioned: c.cfg.Partitioned,
	}
	if life.age > 0 {
		hc.Expires = life.expires
	}
	return hc
}

// sentWith reports whether a browser sends the cookie with r: whether the
// path r asked for path-matches the cookie's Path (RFC 6265, section
// 5.1.4). The path is the one in the request line, before any
// http.StripPrefix, as the browser saw it.
func (c *cookieSpec) sentWith(r *http.Request) bool {
	if c.anyPath {
		return true
	}
	p := r.RequestURI
	if !strings.HasPrefix(p, "/") {
		p = r.URL.EscapedPath() // absolute-form, "*", or a request made in code
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	cp := c.cfg.Path
	return strings.HasPrefix(p, cp) && (len(p) == len(cp) || cp[len(cp)-1] == '/' || p[len(cp)] == '/')
}

// requestCookies appends to dst the values of the cookies called name in
// r's Cookie headers, up to cap(dst), and reports whether there were more.
// Unlike r.Cookie it allocates nothing: it runs on every request that loads
// a session. Surrounding double quotes are removed as RFC 6265 allows;
// values are otherwise returned as sent, and every caller validates them
// before use.
func requestCookies(dst []string, r *http.Request, name string) ([]string, bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(dst) == cap(dst) {
				return dst, true
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			dst = append(dst, v)
		}
	}
	return dst, false
}

// respond hands the client its session's token (or sealed session), or
// tells it to drop the one it holds, as the plan says and its outcome
// allows: a session that was not kept, or is no longer live, gets no
// cookie.
func (s *Session) respond(h http.Header, p plan, out outcome, now time.Time) error {
	switch {
	case p.token == tokenDrop, p.token == tokenSend && !out.kept:
		s.dropToken(h)
	case p.token == tokenSend, p.token == tokenRefresh && out.alive:
		return s.sendToken(h, now)
	}
	return nil
}

// sendToken hands the client the value that carries its session: a
// Set-Cookie, or the response header of [TokenHeader]. With the cookie
// backend that value is the sealed session.
func (s *Session) sendToken(h http.Header, now time.Time) error {
	m := s.m
	if s.st.header != "" {
		if m.sealer == nil && s.token == s.src.token && s.src.origin == originLoaded {
			return nil // the client already holds this token
		}
		value := s.token
		if m.sealer != nil {
			b, err := s.seal(nil, now)
			if err != nil {
				return err
			}
			value = string(b)
		}
		if s.st.bearer {
			value = "Bearer " + value
		}
		h.Set(s.st.header, value)
		noStore(h)
		return nil
	}
	// The Set-Cookie header is built in one buffer around the value.
	bp := bufPool.Get().(*[]byte)
	b := append(append((*bp)[:0], m.cookie.name...), '=')
	var err error
	if m.sealer != nil {
		b, err = s.seal(b, now)
	} else {
		b = append(b, s.token...)
	}
	if err == nil {
		b = m.cookie.appendAttrs(b, lifeUntil(s.persistent(), m.lifetimeEnd(s.rec.meta), now))
		h.Add("Set-Cookie", string(b))
		noStore(h)
	}
	*bp = b[:0]
	bufPool.Put(bp)
	return err
}

// dropToken tells a client that sent a session token to forget it: an
// expired cookie, or an empty token header.
func (s *Session) dropToken(h http.Header) {
	if s.src.origin == originNone {
		return
	}
	if s.st.header != "" {
		h.Set(s.st.header, "")
	} else {
		h.Add("Set-Cookie", s.m.cookie.expire)
	}
	noStore(h)
}

// noStore marks a response that sets the session cookie as not cacheable:
// session identifiers must never be cached (OWASP).
func noStore(h http.Header) { h.Set("Cache-Control", "no-store") }

// seal appends the sealed session, for a cookie or token header, to dst.
func (s *Session) seal(dst []byte, now time.Time) ([]byte, error) {
	return s.m.seal(dst, s.ensureToken(), &s.rec, now)
}

// seal appends the cookie value that carries the session rec under token.
func (m *Manager) seal(dst []byte, token string, rec *record, now time.Time) ([]byte, error) {
	raw, _ := parseToken(token) // our own tokens always parse
	bp := bufPool.Get().(*[]byte)
	payload := rec.appendTo(append((*bp)[:0], raw[:]...))
	start := len(dst)
	dst, err := m.sealer.AppendSeal(dst, m.cfg.CookieName, payload, now, m.expiresAt(rec.meta))
	clear(payload) // the session's data must not linger in the pool
	*bp = payload[:0]
	bufPool.Put(bp)
	if err != nil {
		return dst, wrapBackend("save session", err)
	}
	if l := len(m.cfg.CookieName) + 1 + len(dst) - start; l > m.cookieLimit {
		return dst, m.cookieTooLarge(l)
	}
	return dst, nil
}

// bufPool recycles the scratch buffers of sealing and of Set-Cookie headers.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// transportName is what the response varies on: the Cookie header, or the
// token header.
func (st *requestState) transportName() string {
	if st.header != "" {
		return st.header
	}
	return "Cookie"
}

// presented appends to dst the values that may carry the request's session:
// the cookies of the session's name (a browser may send several, for
// different paths or domains), or the one token of the token header. It
// reports whether the request carried more than dst can hold.
func (st *requestState) presented(dst []string) ([]string, bool) {
	if st.header == "" {
		return requestCookies(dst, st.r, st.m.cfg.CookieName)
	}
	v := st.r.Header.Get(st.header)
	if v == "" {
		return dst, false
	}
	if st.bearer {
		scheme, token, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return dst, false // another scheme: not ours
		}
		v = strings.TrimSpace(token)
	}
	return append(dst, v), false
}
