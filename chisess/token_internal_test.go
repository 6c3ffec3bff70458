package chisess

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokensAreDistinct256Bit(t *testing.T) {
	const n = 100_000
	seen := make(map[string]struct{}, n)
	for range n {
		tok := newToken()
		if len(tok) != tokenLen {
			t.Fatalf("token %q has %d characters, want %d", tok, len(tok), tokenLen)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != tokenBytes {
			t.Fatalf("token %q decodes to %d bytes (%v), want %d", tok, len(raw), err, tokenBytes)
		}
		if _, ok := parseToken(tok); !ok {
			t.Fatalf("parseToken rejects a fresh token %q", tok)
		}
		if _, dup := seen[tok]; dup {
			t.Fatalf("token %q generated twice in %d", tok, n)
		}
		seen[tok] = struct{}{}
	}
}

func TestParseTokenRejects(t *testing.T) {
	good := newToken()
	tests := []struct {
		name, value string
	}{
		{"empty", ""},
		{"short", good[:42]},
		{"long", good + "A"},
		{"std alphabet", strings.Repeat("+", 43)},
		{"padding", good[:41] + "=="},
		{"stray low bits", good[:42] + strayLast(good)},
		{"NUL", good[:42] + "\x00"},
		{"non-ASCII", good[:41] + "é"},
		{"space", good[:42] + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := parseToken(tt.value); ok {
				t.Errorf("parseToken(%q) accepted a value that is not a token", tt.value)
			}
			if _, ok := testManager.storageKey(tt.value); ok {
				t.Errorf("storageKey(%q) made a key for a value that is not a token", tt.value)
			}
		})
	}
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// strayLast returns tok's last character with one of its two padding bits
// set: the same 32 bytes with a second spelling, which must be refused.
func strayLast(tok string) string {
	i := strings.IndexByte(b64url, tok[len(tok)-1])
	return string(b64url[i|1])
}

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// FuzzParseToken feeds hostile Cookie headers to the cookie scanner and the
// token parser: they must never panic, and a value they accept must be a
// canonical token that round-trips.
func FuzzParseToken(f *testing.F) {
	f.Add("session=" + newToken())
	f.Add(`session="` + newToken() + `"`)
	f.Add("a=b; session=" + newToken() + "; c=d")
	f.Add("session=; session=x")
	f.Add("session=" + strings.Repeat("A", 43))
	f.Add(";;;=;session")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Cookie"] = []string{header}
		var buf [maxPresented]string
		vs, _ := requestCookies(buf[:0], r, "session")
		if len(vs) == 0 {
			return
		}
		v := vs[0]
		raw, ok := parseToken(v)
		if !ok {
			return
		}
		if got := base64.RawURLEncoding.EncodeToString(raw[:]); got != v {
			t.Fatalf("parseToken accepted %q, which re-encodes as %q", v, got)
		}
		if _, ok := testManager.storageKey(v); !ok {
			t.Fatalf("storageKey rejects %q, which parseToken accepts", v)
		}
	})
}

// testManager makes storage keys for the internal tests.
var testManager = &Manager{keyPrefix: keyPrefix("session")}

// FuzzOpenForward: a forward record read from a backend must never panic
// the opener, whatever bytes it holds, and one it accepts leads to a token.
func FuzzOpenForward(f *testing.F) {
	old, next := newToken(), newToken()
	nextKey, _ := testManager.storageKey(next)
	now := testNow
	for _, loadable := range []bool{true, false} {
		rec, err := forwardRecord(old, next, nextKey, loadable, now, now.Add(30*time.Second))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Add([]byte{forwardVersion})
	f.Add([]byte{forwardVersion, 1, 'k', '\r', '\n'})
	f.Fuzz(func(t *testing.T, data []byte) {
		fwd, ok := decodeForward(data)
		if !ok {
			return
		}
		if fwd.next == "" {
			t.Fatalf("decodeForward accepted %q with no key", data)
		}
		if tok, ok := fwd.open(old, now); ok {
			if _, valid := parseToken(tok); !valid {
				t.Fatalf("open returned %q, not a token", tok)
			}
		}
	})
}
