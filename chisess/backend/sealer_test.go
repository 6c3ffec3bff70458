package backend_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess/backend"
)

const (
	secretA = "sealer-test-secret-A-0123456789abcdef"
	secretB = "sealer-test-secret-B-0123456789abcdef"
)

// sealNow is a fixed clock: the Sealer takes time as an argument, so no
// test here needs a real or fake clock.
var sealNow = time.Unix(1_700_000_000, 0)

func mustSealer(t testing.TB, secrets ...string) *backend.Sealer {
	t.Helper()
	s, err := backend.NewSealer(secrets...)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	return s
}

func mustSeal(t testing.TB, s *backend.Sealer, name string, payload []byte) string {
	t.Helper()
	v, err := s.Seal(name, payload, sealNow, sealNow.Add(time.Hour))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return v
}

var b64 = base64.RawURLEncoding

// flipBit decodes a sealed value, flips one bit of byte i (negative counts
// from the end) and re-encodes it.
func flipBit(t testing.TB, value string, i int) string {
	t.Helper()
	raw, err := b64.DecodeString(value)
	if err != nil {
		t.Fatalf("decode sealed value: %v", err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 0x10
	return b64.EncodeToString(raw)
}

func truncateRaw(t testing.TB, value string, n int) string {
	t.Helper()
	raw, err := b64.DecodeString(value)
	if err != nil {
		t.Fatalf("decode sealed value: %v", err)
	}
	return b64.EncodeToString(raw[:n])
}

func TestSealerRoundTrip(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"short", []byte("hello")},
		{"binary", []byte{0, 0xff, 0x80, '\n'}},
		{"2 KB", bytes.Repeat([]byte("x"), 2048)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			v := mustSeal(t, s, "session", tt.payload)
			is.True(base64URL.MatchString(v)) // a sealed value is unpadded base64url, safe in a cookie
			got, idx, err := s.Open("session", v, sealNow)
			is.NoErr(err)                         // a fresh seal opens
			is.Equal(idx, 0)                      // with the current secret
			is.True(bytes.Equal(got, tt.payload)) // and gives back the payload
		})
	}
}

var base64URL = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestSealerSealsDifferEachTime(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	a := mustSeal(t, s, "session", []byte("same"))
	b := mustSeal(t, s, "session", []byte("same"))
	is.True(a != b) // a fresh random nonce per seal: equal sessions do not give equal cookies
	rawA, _ := b64.DecodeString(a)
	rawB, _ := b64.DecodeString(b)
	is.True(!bytes.Equal(rawA[1:13], rawB[1:13])) // the nonces differ
}

func TestSealerOpenRejects(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	good := mustSeal(t, s, "session", []byte("payload of some length"))
	raw, _ := b64.DecodeString(good)
	// Layout: version (1) | nonce (12) | ciphertext | tag (16).
	tests := []struct {
		name  string
		value string
		want  []error // any of these
	}{
		{"version bit flipped", flipBit(t, good, 0), []error{backend.ErrCookieMalformed}},
		{"nonce bit flipped", flipBit(t, good, 5), []error{backend.ErrCookieTampered}},
		{"first ciphertext bit flipped", flipBit(t, good, 13), []error{backend.ErrCookieTampered}},
		{"last ciphertext bit flipped", flipBit(t, good, len(raw)-17), []error{backend.ErrCookieTampered}},
		{"tag bit flipped", flipBit(t, good, -1), []error{backend.ErrCookieTampered}},
		{"first tag byte flipped", flipBit(t, good, -16), []error{backend.ErrCookieTampered}},
		{"empty", "", []error{backend.ErrCookieMalformed}},
		{"truncated to 0 bytes", truncateRaw(t, good, 0), []error{backend.ErrCookieMalformed}},
		{"truncated to 1 byte", truncateRaw(t, good, 1), []error{backend.ErrCookieMalformed}},
		{"truncated to 27 bytes", truncateRaw(t, good, 27), []error{backend.ErrCookieMalformed}},
		{"truncated to nonce and tag", truncateRaw(t, good, 29), []error{backend.ErrCookieMalformed, backend.ErrCookieTampered}},
		{"truncated by one byte", truncateRaw(t, good, len(raw)-1), []error{backend.ErrCookieTampered}},
		{"truncated by one character", good[:len(good)-1], []error{backend.ErrCookieMalformed, backend.ErrCookieTampered}},
		{"extended by one byte", b64.EncodeToString(append(bytes.Clone(raw), 0)), []error{backend.ErrCookieTampered}},
		{"standard alphabet", base64.StdEncoding.WithPadding(base64.NoPadding).EncodeToString(withStdChars(t, raw)), []error{backend.ErrCookieMalformed}},
		{"padded", base64.URLEncoding.EncodeToString(rawNeedingPadding(raw)), []error{backend.ErrCookieMalformed}},
		{"trailing =", good + "=", []error{backend.ErrCookieMalformed}},
		{"space inside", good[:10] + " " + good[11:], []error{backend.ErrCookieMalformed}},
		{"NUL inside", good[:10] + "\x00" + good[11:], []error{backend.ErrCookieMalformed}},
		{"sealed for another name", mustSeal(t, s, "other", []byte("payload of some length")), []error{backend.ErrCookieTampered}},
		{"sealed under a removed secret", mustSeal(t, mustSealer(t, secretB), "session", []byte("x")), []error{backend.ErrCookieTampered}},
		{"over MaxCookieSize", strings.Repeat("A", backend.MaxCookieSize+1), []error{backend.ErrCookieMalformed}},
		{"all zero bytes of a plausible length", b64.EncodeToString(make([]byte, len(raw))), []error{backend.ErrCookieMalformed}},
		{"version only then zeros", b64.EncodeToString(append([]byte{1}, make([]byte, len(raw)-1)...)), []error{backend.ErrCookieTampered}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			got, idx, err := s.Open("session", tt.value, sealNow)
			matched := false
			for _, want := range tt.want {
				matched = matched || errors.Is(err, want)
			}
			is.True(matched)                                     // a bad value fails with the documented error
			is.True(strings.HasPrefix(err.Error(), "chisess: ")) // and says where it comes from
			is.Equal(got, nil)                                   // and yields no payload
			is.Equal(idx, 0)                                     // nor a secret index
		})
	}
}

// withStdChars returns raw altered (if needed) so that its standard
// base64 encoding contains '+' or '/', which base64url never does.
func withStdChars(t testing.TB, raw []byte) []byte {
	t.Helper()
	out := bytes.Clone(raw)
	// Bytes 1 and 2 all ones make the third character 63: '/' in the
	// standard alphabet, '_' in base64url, whatever the random bytes hold.
	out[1], out[2] = 0xff, 0xff
	if !strings.ContainsAny(base64.StdEncoding.EncodeToString(out), "+/") {
		t.Fatal("test value has no standard-only character")
	}
	return out
}

// rawNeedingPadding trims raw so that its padded encoding ends in '='.
func rawNeedingPadding(raw []byte) []byte {
	if len(raw)%3 == 0 {
		return raw[:len(raw)-1]
	}
	return raw
}

func TestSealerRotation(t *testing.T) {
	is := is.New(t)
	old := mustSealer(t, secretA)
	rotated := mustSealer(t, secretB, secretA)
	fresh := mustSealer(t, secretB)

	v := mustSeal(t, old, "session", []byte("data"))
	got, idx, err := rotated.Open("session", v, sealNow)
	is.NoErr(err)                             // a cookie sealed with a previous secret still opens
	is.Equal(idx, 1)                          // and says which secret opened it, so chisess re-seals
	is.True(bytes.Equal(got, []byte("data"))) // with its payload intact

	resealed := mustSeal(t, rotated, "session", got)
	got, idx, err = fresh.Open("session", resealed, sealNow)
	is.NoErr(err)                             // the rotated sealer seals with the new secret only
	is.Equal(idx, 0)                          // which is the current one for a sealer without the old secret
	is.True(bytes.Equal(got, []byte("data"))) // payload intact
	_, _, err = old.Open("session", resealed, sealNow)
	is.True(errors.Is(err, backend.ErrCookieTampered)) // and not with the old one

	_, _, err = fresh.Open("session", v, sealNow)
	is.True(errors.Is(err, backend.ErrCookieTampered)) // once the old secret is removed, its cookies fail
}

func TestSealerExpiry(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	tests := []struct {
		name            string
		issued, expires time.Time
		now             time.Time
		wantErr         error
	}{
		{"valid", sealNow, sealNow.Add(time.Hour), sealNow.Add(30 * time.Minute), nil},
		{"one second before expiry", sealNow, sealNow.Add(time.Hour), sealNow.Add(time.Hour - time.Second), nil},
		{"at expiry", sealNow, sealNow.Add(time.Hour), sealNow.Add(time.Hour), backend.ErrCookieExpired},
		{"after expiry", sealNow, sealNow.Add(time.Hour), sealNow.Add(2 * time.Hour), backend.ErrCookieExpired},
		{"issued within clock skew", sealNow.Add(backend.ClockSkew / 2), sealNow.Add(time.Hour), sealNow, nil},
		{"issued at the skew limit", sealNow.Add(backend.ClockSkew), sealNow.Add(time.Hour), sealNow, nil},
		{"issued beyond clock skew", sealNow.Add(backend.ClockSkew + time.Second), sealNow.Add(time.Hour), sealNow, backend.ErrCookieExpired},
		{"issued far in the future", sealNow.Add(24 * time.Hour), sealNow.Add(25 * time.Hour), sealNow, backend.ErrCookieExpired},
		{"expires before 1970", sealNow, time.Unix(-10, 0), sealNow, backend.ErrCookieExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			v, err := s.Seal("session", []byte("p"), tt.issued, tt.expires)
			is.NoErr(err) // sealing never checks the window
			got, _, err := s.Open("session", v, tt.now)
			if tt.wantErr == nil {
				is.NoErr(err)                          // inside the window the cookie opens
				is.True(bytes.Equal(got, []byte("p"))) // with its payload
				return
			}
			is.True(errors.Is(err, tt.wantErr)) // outside the window it is expired
			is.Equal(got, nil)                  // and yields nothing
		})
	}
}

// sealedSize is what Seal computes for the cookie's size at sealNow with a
// one-hour expiry: both times are 5-byte uvarints.
func sealedSize(name string, payload int) int {
	return len(name) + 1 + b64.EncodedLen(1+12+5+5+payload+16)
}

func TestSealerTooLarge(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	// The largest payload that fits, found from the documented limit.
	fits := 0
	for sealedSize("session", fits+1) <= backend.MaxCookieSize {
		fits++
	}
	v := mustSeal(t, s, "session", make([]byte, fits))
	is.True(len("session=")+len(v) <= backend.MaxCookieSize) // the largest payload that fits makes a cookie within the limit
	_, _, err := s.Open("session", v, sealNow)
	is.NoErr(err) // and Open accepts everything Seal makes

	v, err = s.Seal("session", make([]byte, fits+1), sealNow, sealNow.Add(time.Hour))
	is.True(errors.Is(err, backend.ErrCookieTooLarge)) // one byte more is too large
	is.Equal(v, "")                                    // and gives no value
	size := sealedSize("session", fits+1)
	is.True(size > backend.MaxCookieSize)                               // (test check)
	is.True(strings.Contains(err.Error(), strconv.Itoa(size)+" bytes")) // the message says how large it would be
	is.True(strings.Contains(err.Error(), "4096"))                      // and what the limit is

	_, err = s.Seal(strings.Repeat("n", backend.MaxCookieSize), nil, sealNow, sealNow.Add(time.Hour))
	is.True(errors.Is(err, backend.ErrCookieTooLarge)) // the name counts towards the limit
}

func TestNewSealerRejectsBadSecrets(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name    string
		secrets []string
		want    string
	}{
		{"no secret", nil, "at least one secret"},
		{"empty secret", []string{""}, "secret 0 is 0 bytes"},
		{"31 bytes", []string{strings.Repeat("s", backend.MinSecretLen-1)}, "secret 0 is 31 bytes"},
		{"short previous secret", []string{secretA, "short"}, "secret 1 is 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s, err := backend.NewSealer(tt.secrets...)
			is.True(err != nil)                             // a weak or missing secret is refused
			is.Equal(s, nil)                                // with no sealer
			is.True(strings.Contains(err.Error(), tt.want)) // and the message says which secret and why
			for _, secret := range tt.secrets {
				if len(secret) > 3 {
					is.True(!strings.Contains(err.Error(), secret)) // never the secret itself
				}
			}
		})
	}
	_, err := backend.NewSealer(strings.Repeat("s", backend.MinSecretLen))
	is.NoErr(err) // exactly MinSecretLen bytes is enough
}

// TestSealerOpenRejectsOversizedBeforeDecoding: a hostile 1 MB cookie must
// cost a length check, not a base64 decode of 750 KB.
func TestSealerOpenRejectsOversizedBeforeDecoding(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	huge := strings.Repeat("A", 1<<20) // valid base64url, so only a length check stops it
	_, _, err := s.Open("session", huge, sealNow)
	is.True(errors.Is(err, backend.ErrCookieMalformed)) // too long to be a cookie is malformed

	open := func() { _, _, _ = s.Open("session", huge, sealNow) }
	open()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 20
	for range runs {
		open()
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	// Decoding would allocate 768 KB per run; the error value is under 100 bytes.
	t.Logf("Open of a 1 MB value allocates %d bytes", perRun)
	is.True(perRun < 1024) // Open rejects by length before decoding anything
}

// TestSealerOpenRejectsNonCanonicalBase64: a cookie value is either the one
// Seal produced or rejected; the unused low bits of the last base64
// character must be zero, as they are for session tokens (token.go uses
// Strict decoding).
func TestSealerOpenRejectsNonCanonicalBase64(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	var v string
	for payload := 0; ; payload++ { // find a value whose last character has spare bits
		v = mustSeal(t, s, "session", make([]byte, payload))
		if len(v)%4 != 0 {
			break
		}
	}
	last := strings.IndexByte(b64AlphabetURL, v[len(v)-1])
	alt := v[:len(v)-1] + string(b64AlphabetURL[last|1])
	is.True(alt != v) // (test check) the last character has a spare low bit
	_, _, err := s.Open("session", v, sealNow)
	is.NoErr(err) // the issued value opens
	_, _, err = s.Open("session", alt, sealNow)
	is.True(errors.Is(err, backend.ErrCookieMalformed)) // a second spelling of the same bytes is malformed
}

const b64AlphabetURL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestSealerOpenNewlinesOnly: base64 decoding skips '\r' and '\n', so a
// value of 44 or more of them passes the length check and decodes to zero
// bytes; Open must call that malformed, not index raw[0]. Found by
// FuzzSealerOpen (testdata/fuzz/FuzzSealerOpen/a9de34a7349e9829).
func TestSealerOpenNewlinesOnly(t *testing.T) {
	is := is.New(t)
	s := mustSealer(t, secretA)
	for _, v := range []string{strings.Repeat("\r", 44), strings.Repeat("\n", 100), strings.Repeat("\r\n", 2000)} {
		_, _, err := s.Open("session", v, sealNow)
		is.True(errors.Is(err, backend.ErrCookieMalformed)) // only line breaks is malformed, and no panic
	}
}

// FuzzSealerOpen: no input makes Open panic, every failure wraps one of the
// documented errors, and nothing but the sealed original opens.
func FuzzSealerOpen(f *testing.F) {
	s := mustSealer(f, secretA, secretB)
	payload := []byte("fuzz payload \x00\xff")
	good := mustSeal(f, s, "session", payload)
	raw, _ := b64.DecodeString(good)
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-1])
	f.Add(good + "A")
	f.Add(flipBit(f, good, 0))
	f.Add(flipBit(f, good, 5))
	f.Add(flipBit(f, good, 20))
	f.Add(flipBit(f, good, -1))
	f.Add(truncateRaw(f, good, 29))
	f.Add(b64.EncodeToString(raw[:len(raw)/2]))
	f.Add(strings.Repeat("A", 44))
	f.Add(strings.Repeat("_", backend.MaxCookieSize))
	f.Add(mustSeal(f, mustSealer(f, secretB), "session", payload)) // opens with the previous secret
	f.Fuzz(func(t *testing.T, value string) {
		// A value of line breaks alone once panicked here (found by this
		// target: testdata/fuzz/FuzzSealerOpen/a9de34a7349e9829).
		got, idx, err := s.Open("session", value, sealNow)
		if err != nil {
			if !errors.Is(err, backend.ErrCookieMalformed) && !errors.Is(err, backend.ErrCookieTampered) && !errors.Is(err, backend.ErrCookieExpired) {
				t.Fatalf("Open error %v wraps none of the documented errors", err)
			}
			if got != nil || idx != 0 {
				t.Fatalf("a failed Open returned payload %q, index %d", got, idx)
			}
			return
		}
		// Forging AES-GCM is not something a fuzzer does: only a value this
		// test sealed may open. (Fuzz workers each seal their own seeds, so
		// compare payloads, not values.)
		if idx > 1 || !bytes.Equal(got, payload) {
			t.Fatalf("Open accepted %q: payload %q, index %d", value, got, idx)
		}
	})
}
