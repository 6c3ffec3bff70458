package chisess_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// What bad input gets (DESIGN.md): an oversized, malformed, tampered,
// replayed, expired or unknown cookie gives a fresh session, no backend
// write for the bad token, no panic, and nothing of the old data.

var pureBase64URL = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// serveCookieHeader sends one GET to h with cookieHeader as the raw Cookie
// header line, so that values http.Request.AddCookie would sanitize (NUL,
// CR/LF, ';', quotes, non-ASCII) reach the server as a client sent them. It
// returns the panic value, if h panicked.
func serveCookieHeader(h http.Handler, cookieHeader string) (rec *httptest.ResponseRecorder, panicked any) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookieHeader != "" {
		req.Header["Cookie"] = []string{cookieHeader}
	}
	rec = httptest.NewRecorder()
	defer func() { panicked = recover() }()
	h.ServeHTTP(rec, req)
	return rec, nil
}

// issueCookie returns the value of a real session cookie made by a manager
// with cfg, for a session holding "secret" = "old data".
func issueCookie(t *testing.T, cfg chisess.Config) string {
	t.Helper()
	m := newManager(t, cfg)
	h := chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.Set("secret", "old data"); err != nil {
			t.Errorf("Set: %v", err)
		}
	}))
	c := setCookie(newClient(t, m, h).do(http.MethodGet, "/"), m.CookieName())
	if c == nil {
		t.Fatal("issuing a session set no cookie")
	}
	return c.Value
}

// flipCookieBit decodes a base64url cookie value, flips one bit of byte i
// (negative counts from the end) and re-encodes it.
func flipCookieBit(t *testing.T, value string, i int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		t.Fatalf("decode cookie value: %v", err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 0x04
	return base64.RawURLEncoding.EncodeToString(raw)
}

// unissuedToken has the exact form of a session token, but the server never
// made it.
func unissuedToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Sealed cookie layout, after base64url: version (1) | nonce (12) |
// ciphertext | tag (16).
const (
	sealedNonceAt  = 5  // a byte inside the nonce
	sealedCipherAt = 13 // the first ciphertext byte
	sealedTagAt    = -1 // the last tag byte
)

func hostileValue(v string) func(*testing.T, chisess.Config) string {
	return func(*testing.T, chisess.Config) string { return v }
}

var hostileCookies = []struct {
	name string
	// only limits the row to the modes with a server-side backend
	// ("server") or to the cookie mode ("cookie").
	only string
	// wellFormed marks a value with the exact form of a token, which costs
	// one backend read with a server-side backend; anything else must cost
	// none.
	wellFormed bool
	// value returns the cookie value, given the config of the server that
	// receives it (so a row can issue a real cookie first).
	value func(t *testing.T, cfg chisess.Config) string
}{
	{name: "empty value", value: hostileValue("")},
	{name: "5 KB", value: hostileValue(strings.Repeat("A", 5<<10))},
	{name: "1 MB", value: hostileValue(strings.Repeat("A", 1<<20))},
	{name: "malformed base64", value: hostileValue("Zm9v!!YmFy")},
	{name: "short valid base64", value: hostileValue("AAAA")},
	{name: "42 chars", value: hostileValue(strings.Repeat("A", 42))},
	{name: "44 chars", value: hostileValue(strings.Repeat("A", 44))},
	{name: "43 chars with +", value: hostileValue(strings.Repeat("A", 42) + "+")},
	{name: "43 chars with /", value: hostileValue(strings.Repeat("A", 42) + "/")},
	{name: "43 chars with =", value: hostileValue(strings.Repeat("A", 42) + "=")},
	{name: "43 chars with .", value: hostileValue(strings.Repeat("A", 42) + ".")},
	{name: "43 chars with stray low bits", value: hostileValue(strings.Repeat("A", 42) + "B")},
	{name: "43 asterisks", value: hostileValue(strings.Repeat("*", 43))},
	{name: "path traversal", value: hostileValue("../../../etc/passwd")},
	{name: "43-char path traversal", value: hostileValue(strings.Repeat("../", 14) + ".")},
	{name: "NUL", value: hostileValue("a\x00b")},
	{name: "NUL inside 43 chars", value: hostileValue(strings.Repeat("A", 21) + "\x00" + strings.Repeat("A", 21))},
	{name: "glob *", value: hostileValue("*")},
	{name: "glob ?", value: hostileValue("?")},
	{name: "glob [", value: hostileValue("[a-z]*")},
	{name: "redis key pattern", value: hostileValue("session:*")},
	{name: "SQL injection", value: hostileValue("'; DROP TABLE sessions; --")},
	{name: "SQL tautology", value: hostileValue("x'OR'1'='1")},
	{name: "non-ASCII", value: hostileValue("séssion-ü")},
	{name: "CR LF header injection", value: hostileValue("a\r\nSet-Cookie: admin=1")},
	{name: "semicolon", value: hostileValue("a;b")},
	{name: "quoted", value: hostileValue(`"quoted"`)},
	{name: "lone quote", value: hostileValue(`"`)},
	{name: "backslash", value: hostileValue(`a\b`)},
	{name: "well-formed but never issued", wellFormed: true, value: func(*testing.T, chisess.Config) string { return unissuedToken() }},
	{name: "issued, then expired", wellFormed: true, value: func(t *testing.T, cfg chisess.Config) string {
		v := issueCookie(t, cfg) // cfg.Lifetime is 1h
		time.Sleep(2 * time.Hour)
		return v
	}},
	{name: "issued, truncated by one character", value: func(t *testing.T, cfg chisess.Config) string {
		v := issueCookie(t, cfg)
		return v[:len(v)-1]
	}},
	{name: "issued, one character appended", value: func(t *testing.T, cfg chisess.Config) string {
		return issueCookie(t, cfg) + "A"
	}},
	{name: "issued token with one bit flipped", only: "server", wellFormed: true, value: func(t *testing.T, cfg chisess.Config) string {
		return flipCookieBit(t, issueCookie(t, cfg), 0)
	}},
	{name: "sealed, version bit flipped", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		return flipCookieBit(t, issueCookie(t, cfg), 0)
	}},
	{name: "sealed, nonce bit flipped", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		return flipCookieBit(t, issueCookie(t, cfg), sealedNonceAt)
	}},
	{name: "sealed, ciphertext bit flipped", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		return flipCookieBit(t, issueCookie(t, cfg), sealedCipherAt)
	}},
	{name: "sealed, tag bit flipped", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		return flipCookieBit(t, issueCookie(t, cfg), sealedTagAt)
	}},
	{name: "sealed, truncated to half", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		v := issueCookie(t, cfg)
		return v[:len(v)/2]
	}},
	{name: "sealed under a removed secret", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		cfg.Secret = "a-secret-that-was-since-removed-0123456789"
		return issueCookie(t, cfg)
	}},
	{name: "sealed for another cookie name", only: "cookie", value: func(t *testing.T, cfg chisess.Config) string {
		cfg.CookieName = "other"
		return issueCookie(t, cfg)
	}},
}

// TestHostileCookie sends every hostile cookie, in every mode, to a handler
// that only reads the session and to one that sets a value.
func TestHostileCookie(t *testing.T) {
	is := is.New(t)
	for _, tt := range hostileCookies {
		for _, set := range []bool{false, true} {
			variant := "read-only"
			if set {
				variant = "set"
			}
			t.Run(tt.name+"/"+variant, func(t *testing.T) {
				forEachMode(t, func(t *testing.T, tm mode) {
					if server := tm.b != nil; tt.only == "server" && !server || tt.only == "cookie" && server {
						t.Skipf("the row is about the %s mode", tt.only)
					}
					synctest.Test(t, func(t *testing.T) {
						is := is.New(t)
						cfg := tm.cfg
						cfg.Lifetime = time.Hour
						value := tt.value(t, cfg)
						reads, writes, deletes, total := tm.calls("read"), tm.writes(), tm.deletes(), tm.total()

						m := newManager(t, cfg)
						var ran, isNew bool
						var keys []string
						h := chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
							ran, isNew, keys = true, s.IsNew(), s.Keys()
							if set {
								if err := s.Set("k", "v"); err != nil {
									t.Errorf("Set: %v", err)
								}
							}
						}))
						rec, panicked := serveCookieHeader(h, m.CookieName()+"="+value)

						is.Equal(panicked, nil)           // a hostile cookie never panics
						is.Equal(rec.Code, http.StatusOK) // nor fails the request
						is.True(ran)                      // the handler runs
						is.True(isNew)                    // with a new session
						is.Equal(len(keys), 0)            // that holds nothing of any old session
						if tm.b != nil {
							wantReads := 0
							if tt.wellFormed {
								wantReads = 1
							}
							is.Equal(tm.calls("read")-reads, wantReads) // only a well-formed token costs a backend read
							is.Equal(tm.deletes()-deletes, 0)           // and nothing is deleted for it
						} else {
							is.Equal(tm.total()-total, 0) // the cookie mode never touches a backend
						}

						c := setCookie(rec, m.CookieName())
						if !set {
							is.Equal(tm.writes()-writes, 0)                      // a bad cookie is never written back
							is.True(len(rec.Header().Values("Set-Cookie")) <= 1) // at most the client is told to drop it
							for _, sc := range rec.Result().Cookies() {
								is.True(sc.MaxAge < 0 && sc.Value == "") // with an expired, empty cookie: never an echo, never a new session
							}
							return
						}
						if tm.b != nil {
							is.Equal(tm.writes()-writes, 1) // one write: the new session, under its own token
						}
						is.True(c != nil)                                   // the new session gets a cookie
						is.True(c.Value != value)                           // that is not the hostile value (no fixation)
						is.True(pureBase64URL.MatchString(c.Value))         // and is pure base64url
						is.Equal(len(rec.Header().Values("Set-Cookie")), 1) // and nothing else is set

						// The new cookie is a working session that holds only the new value.
						rec, panicked = serveCookieHeader(h, m.CookieName()+"="+c.Value)
						is.Equal(panicked, nil)                // the new cookie is safe to send back
						is.Equal(rec.Code, http.StatusOK)      // and works
						is.True(!isNew)                        // the new cookie loads
						is.Equal(strings.Join(keys, ","), "k") // with the value set, and no old data
					})
				})
			})
		}
	}
}

// TestHostileCookieOnlyNewlines: the session cookie is read by
// requestCookie (cookie.go), which passes the value on as sent, and base64
// decoding skips '\r' and '\n'. A quoted cookie of 44 or more line breaks
// thus passes the sealer's length check and decodes to nothing. Go's own
// HTTP servers refuse such header lines, but handlers called directly
// (tests, serverless adapters, in-process proxies) get them.
func TestHostileCookieOnlyNewlines(t *testing.T) {
	is := is.New(t)
	// requestCookie trims white space around the value, but not inside
	// the double quotes it removes.
	for _, tt := range []struct{ name, value string }{
		{"44 CR in quotes", `"` + strings.Repeat("\r", 44) + `"`},
		{"64 LF in quotes", `"` + strings.Repeat("\n", 64) + `"`},
		{"100 CRLF in quotes", `"` + strings.Repeat("\r\n", 100) + `"`},
		{"100 CRLF", strings.Repeat("\r\n", 100)},
	} {
		v := tt.value
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				var isNew bool
				h := chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					isNew = s.IsNew()
				}))
				rec, panicked := serveCookieHeader(h, m.CookieName()+"="+v)
				is.Equal(panicked, nil)           // line breaks never panic
				is.Equal(rec.Code, http.StatusOK) // nor fail the request
				is.True(isNew)                    // they give a new session
				is.Equal(tm.total(), 0)           // at no backend cost
			})
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that measuring
// allocations measures the session layer, not a recorder's buffers.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// allocsAndBytes returns the allocations and bytes that one call of f
// allocates, averaged over runs calls.
func allocsAndBytes(runs int, f func()) (allocs float64, bytes uint64) {
	allocs = testing.AllocsPerRun(runs, f) // also warms f up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return allocs, (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestHostileCookieSizeCostsNothing: loading a session from a 1 MB cookie
// must cost what loading a normal one does, not something proportional to
// the value, or a client can make every request expensive.
//
// Bound: one copy (or base64 decode) of the value would allocate at least
// 768 KB per request; we allow 1 KB over a short malformed cookie, which the
// same code rejects by length, so any work on the value shows up three
// orders of magnitude above the bound, while a few bytes of noise do not.
func TestHostileCookieSizeCostsNothing(t *testing.T) {
	is := is.New(t)
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		m := newManager(t, cfg)
		live := issueCookie(t, cfg)
		var isNew bool
		h := chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			isNew = s.IsNew()
		}))
		w := &discardWriter{h: http.Header{}}
		measure := func(value string) (float64, uint64) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header["Cookie"] = []string{m.CookieName() + "=" + value}
			return allocsAndBytes(50, func() {
				clear(w.h)
				h.ServeHTTP(w, req)
			})
		}

		liveAllocs, liveBytes := measure(live)
		is.True(!isNew) // (test check) the normal cookie is a live session
		shortAllocs, shortBytes := measure("abc")
		readsBefore := tm.calls("read")
		hugeAllocs, hugeBytes := measure(strings.Repeat("A", 1<<20))
		is.True(isNew) // a 1 MB cookie gives a new session
		t.Logf("per request: live session %v allocs / %d B; short malformed %v / %d B; 1 MB %v / %d B",
			liveAllocs, liveBytes, shortAllocs, shortBytes, hugeAllocs, hugeBytes)

		is.Equal(tm.calls("read"), readsBefore) // a 1 MB cookie costs no backend call
		// The count may differ from the short cookie's by a few: the
		// sealer's error boxes the length (Go boxes ints below 256 for
		// free), and under -race sync.Pool drops a random quarter of Puts.
		is.True(hugeAllocs <= shortAllocs+4)  // about as many allocations as any malformed cookie
		is.True(hugeAllocs <= liveAllocs)     // and no more than loading a normal session
		is.True(hugeBytes <= shortBytes+1024) // and no bytes in proportion to its size
		is.True(hugeBytes <= liveBytes+1024)  // about what a normal session costs
	})
}

// TestSealedCookieRotation: a cookie sealed with a secret that is now in
// PreviousSecrets still loads, is re-sealed with the current secret on that
// request, and the re-sealed cookie opens once the old secret is gone.
func TestSealedCookieRotation(t *testing.T) {
	is := is.New(t)
	const newSecret = "the-new-secret-after-rotation-0123456789"
	handler := func(m *chisess.Manager, got *string, isNew *bool) http.Handler {
		return chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			*isNew = s.IsNew()
			*got, _ = chisess.Get[string](s, "secret")
		}))
	}
	old := issueCookie(t, chisess.Config{Secret: testSecret})

	var got string
	var isNew bool
	rotating := newManager(t, chisess.Config{Secret: newSecret, PreviousSecrets: []string{testSecret}})
	rec, _ := serveCookieHeader(handler(rotating, &got, &isNew), "__Host-session="+old)
	is.Equal(rec.Code, http.StatusOK) // an old-secret cookie is no error
	is.True(!isNew)                   // a cookie sealed with a previous secret loads
	is.Equal(got, "old data")         // with its values
	c := setCookie(rec, "__Host-session")
	is.True(c != nil)       // a read-only request re-seals it with the current secret
	is.True(c.Value != old) // into a new value
	is.Equal(c.MaxAge, 0)   // keeping it a browser-session cookie

	rotated := newManager(t, chisess.Config{Secret: newSecret})
	got, isNew = "", true
	rec, _ = serveCookieHeader(handler(rotated, &got, &isNew), "__Host-session="+c.Value)
	is.True(!isNew)                                     // the re-sealed cookie opens under the new secret alone
	is.Equal(got, "old data")                           // values intact
	is.Equal(len(rec.Header().Values("Set-Cookie")), 0) // and needs no further re-seal

	got, isNew = "", false
	rec, _ = serveCookieHeader(handler(rotated, &got, &isNew), "__Host-session="+old)
	is.True(isNew)    // once the old secret is removed, its cookies start new sessions
	is.Equal(got, "") // with none of the old data
	sc := setCookie(rec, "__Host-session")
	is.True(sc != nil && sc.MaxAge < 0) // and the dead cookie is expired, not replaced by a new session
}

// expiryStep is one request of an expiry flow: wait, then GET path and
// expect the body ("v" while the session lives, "gone" after).
type expiryStep struct {
	wait time.Duration
	path string
	want string
}

func repeatExpirySteps(n int, s expiryStep) []expiryStep {
	out := make([]expiryStep, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func expiryFlow(parts ...[]expiryStep) []expiryStep {
	var out []expiryStep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// expiryHandler sets "k" on /set and answers with the value of "k", or
// "gone" when the session does not hold it.
func expiryHandler(t *testing.T, m *chisess.Manager) http.Handler {
	return chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if r.URL.Path == "/set" {
			if err := s.Set("k", "v"); err != nil {
				t.Errorf("Set: %v", err)
			}
		}
		v, err := chisess.Get[string](s, "k")
		if err != nil {
			v = "gone"
		}
		fmt.Fprint(w, v)
	}))
}

// newExpiryApp returns a manager in mode tm with the expiry settings of
// exp (its Lifetime, IdleTimeout and Rolling), and a client of
// expiryHandler on it.
func newExpiryApp(t *testing.T, tm mode, exp chisess.Config) (*chisess.Manager, *client) {
	t.Helper()
	cfg := tm.cfg
	cfg.Lifetime, cfg.IdleTimeout, cfg.Rolling = exp.Lifetime, exp.IdleTimeout, exp.Rolling
	m := newManager(t, cfg)
	return m, newClient(t, m, expiryHandler(t, m))
}

// TestSessionExpiry runs request sequences on a fake clock: each session
// lives exactly as long as its config says, in every mode, enforced on the
// server (the client here keeps every cookie regardless of its Max-Age).
func TestSessionExpiry(t *testing.T) {
	is := is.New(t)
	set := []expiryStep{{0, "/set", "v"}}
	tests := []struct {
		name  string
		cfg   chisess.Config
		steps []expiryStep
	}{
		{"absolute Lifetime, used and changed in between", chisess.Config{Lifetime: time.Hour}, expiryFlow(set,
			[]expiryStep{{20 * time.Minute, "/", "v"}, {20 * time.Minute, "/set", "v"}, {19 * time.Minute, "/", "v"}, {2 * time.Minute, "/", "gone"}})},
		{"absolute Lifetime, unused", chisess.Config{Lifetime: time.Hour}, expiryFlow(set,
			[]expiryStep{{time.Hour, "/", "gone"}})},
		{"IdleTimeout kept alive by use", chisess.Config{IdleTimeout: 30 * time.Minute}, expiryFlow(set,
			repeatExpirySteps(9, expiryStep{20 * time.Minute, "/", "v"}), []expiryStep{{31 * time.Minute, "/", "gone"}})},
		{"IdleTimeout idle", chisess.Config{IdleTimeout: 30 * time.Minute}, expiryFlow(set,
			[]expiryStep{{29 * time.Minute, "/", "v"}, {29 * time.Minute, "/", "v"}, {30 * time.Minute, "/", "gone"}})},
		// The last-use time moves only when the throttle window (here 1m) has
		// passed since it was last recorded: a use inside the window does not
		// count, one after it does.
		{"IdleTimeout ignores a use inside the throttle window", chisess.Config{IdleTimeout: 10 * time.Minute}, expiryFlow(set,
			[]expiryStep{{59 * time.Second, "/", "v"}, {9*time.Minute + 2*time.Second, "/", "gone"}})},
		{"IdleTimeout counts a use after the throttle window", chisess.Config{IdleTimeout: 10 * time.Minute}, expiryFlow(set,
			[]expiryStep{{61 * time.Second, "/", "v"}, {9*time.Minute + 2*time.Second, "/", "v"}})},
		{"IdleTimeout does not extend the absolute Lifetime", chisess.Config{Lifetime: time.Hour, IdleTimeout: 30 * time.Minute}, expiryFlow(set,
			repeatExpirySteps(2, expiryStep{20 * time.Minute, "/", "v"}), []expiryStep{{20 * time.Minute, "/", "gone"}})},
		{"Rolling used every 50 minutes for 5 hours", chisess.Config{Lifetime: time.Hour, Rolling: true}, expiryFlow(set,
			repeatExpirySteps(6, expiryStep{50 * time.Minute, "/", "v"}))},
		{"Rolling unused for 61 minutes", chisess.Config{Lifetime: time.Hour, Rolling: true}, expiryFlow(set,
			repeatExpirySteps(3, expiryStep{50 * time.Minute, "/", "v"}), []expiryStep{{61 * time.Minute, "/", "gone"}})},
		{"browser-session cookie capped on the server", chisess.Config{}, expiryFlow(set,
			[]expiryStep{{chisess.DefaultSessionCap - time.Minute, "/", "v"}, {time.Minute, "/", "gone"}})},
		{"browser-session cookie capped even when used", chisess.Config{}, expiryFlow(set,
			repeatExpirySteps(23, expiryStep{time.Hour, "/set", "v"}), []expiryStep{{time.Hour, "/", "gone"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				synctest.Test(t, func(t *testing.T) {
					is := is.New(t)
					_, c := newExpiryApp(t, tm, tt.cfg)
					var elapsed time.Duration
					for i, step := range tt.steps {
						time.Sleep(step.wait)
						elapsed += step.wait
						rec := c.do(http.MethodGet, step.path)
						is.Equal(rec.Code, http.StatusOK) // every step succeeds
						if got := rec.Body.String(); got != step.want {
							t.Fatalf("step %d (%s at %v): got %q, want %q", i, step.path, elapsed, got, step.want)
						}
					}
				})
			})
		})
	}
}

// TestExpiryReadOnlyWritesNothingUntilRefreshDue: reading an unchanged session writes
// nothing and sets no cookie when no last-use refresh is due.
func TestExpiryReadOnlyWritesNothingUntilRefreshDue(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		cfg  chisess.Config
		gap  time.Duration
	}{
		{"no expiry refresh configured", chisess.Config{}, 2 * time.Hour},
		{"absolute Lifetime", chisess.Config{Lifetime: time.Hour}, 30 * time.Minute},
		{"inside the IdleTimeout throttle window", chisess.Config{IdleTimeout: 30 * time.Minute}, time.Minute - time.Second},
		{"inside the Rolling throttle window", chisess.Config{Lifetime: time.Hour, Rolling: true}, time.Minute - time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				synctest.Test(t, func(t *testing.T) {
					is := is.New(t)
					_, c := newExpiryApp(t, tm, tt.cfg)
					c.do(http.MethodGet, "/set")
					writes := tm.writes()
					for range 3 {
						time.Sleep(tt.gap / 3)
						rec := c.do(http.MethodGet, "/")
						is.Equal(rec.Body.String(), "v")                        // the session is still there
						is.Equal(len(rec.Header().Values("Set-Cookie")), 0)     // a read sets no cookie
						is.True(hasHeaderValue(rec.Header(), "Vary", "Cookie")) // but says the response depends on it
					}
					is.Equal(tm.writes(), writes) // and writes nothing to the backend
					is.Equal(tm.deletes(), 0)     // nor deletes anything
				})
			})
		})
	}
}

// TestIdleRefreshIsThrottled: the last-use time is refreshed at most once
// per min(IdleTimeout/10, 1 minute), however many requests read the session.
func TestIdleRefreshIsThrottled(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name     string
		idle     time.Duration
		throttle time.Duration
	}{
		{"IdleTimeout 30m refreshes each minute", 30 * time.Minute, time.Minute},
		{"IdleTimeout 5m refreshes each 30s", 5 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				synctest.Test(t, func(t *testing.T) {
					is := is.New(t)
					m, c := newExpiryApp(t, tm, chisess.Config{IdleTimeout: tt.idle})
					c.do(http.MethodGet, "/set") // last use recorded at 0
					// stored reports whether the request stored the session:
					// a backend write (or, in the memory mode, a swap), or a
					// re-sealed cookie in the cookie mode.
					stored := func(rec *httptest.ResponseRecorder, writesBefore int) bool {
						if tm.b != nil {
							is.Equal(len(rec.Header().Values("Set-Cookie")), 0) // (a server-side refresh needs no new cookie)
							return tm.writes() > writesBefore
						}
						return setCookie(rec, m.CookieName()) != nil
					}
					steps := []struct {
						wait  time.Duration
						store bool
					}{
						{tt.throttle - time.Second, false}, // inside the window
						{2 * time.Second, true},            // window passed: refresh
						{tt.throttle / 3, false},           // two reads inside the new window
						{tt.throttle / 3, false},
						{tt.throttle / 3, true}, // window passed again
					}
					for i, step := range steps {
						time.Sleep(step.wait)
						w := tm.writes()
						rec := c.do(http.MethodGet, "/")
						is.Equal(rec.Body.String(), "v") // the session lives
						if got := stored(rec, w); got != step.store {
							t.Fatalf("step %d: stored = %v, want %v", i, got, step.store)
						}
						if tm.b != nil && step.store {
							is.Equal(tm.writes(), w+1) // a refresh is a single write (after a read on a base-only backend)
						}
					}
				})
			})
		})
	}
}
