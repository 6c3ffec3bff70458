package backend

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by [Sealer.Open]. chisess treats each one as "no session"
// and starts a fresh one; they are exported so that logs and tests can tell
// them apart.
var (
	// ErrCookieMalformed is returned when a cookie value is not a sealed
	// chisess cookie at all: wrong length, wrong alphabet, unknown version.
	ErrCookieMalformed = errors.New("chisess: sealed cookie is malformed")
	// ErrCookieTampered is returned when a cookie fails authentication under
	// every configured secret: it was modified, sealed for another cookie
	// name, or sealed with a secret that has since been removed.
	ErrCookieTampered = errors.New("chisess: sealed cookie failed authentication")
	// ErrCookieExpired is returned when an authentic cookie is outside its
	// validity window: past its sealed expiry, or issued further in the
	// future than the allowed clock skew.
	ErrCookieExpired = errors.New("chisess: sealed cookie has expired")
	// ErrCookieTooLarge is returned by [Sealer.Seal] when the cookie would
	// pass the browser limit of [MaxCookieSize] bytes. Browsers drop such
	// cookies silently, so chisess fails the commit instead.
	ErrCookieTooLarge = errors.New("chisess: sealed cookie too large")
)

// MaxCookieSize is the largest cookie, name and value together, that every
// major browser stores (RFC 6265 section 6.1 asks for at least 4096 bytes).
const MaxCookieSize = 4096

// MinSecretLen is the shortest secret [NewSealer] accepts: 32 bytes.
const MinSecretLen = 32

// ClockSkew is how far in the future a cookie's issue time may lie before
// [Sealer.Open] rejects it, to allow for clocks that differ between servers.
const ClockSkew = time.Minute

const (
	sealVersion = 1
	// version byte + AES-GCM nonce + tag.
	sealOverhead = 1 + 12 + 16
	// base64url length of the smallest possible sealed value (an empty
	// payload still carries two time fields of at least one byte each).
	minSealedLen = (sealOverhead + 3 + 2) / 3 * 4
	maxSealedLen = MaxCookieSize
)

// sealEncoding is strict, so that no value has a second spelling that
// opens to the same cookie.
var sealEncoding = base64.RawURLEncoding.Strict()

// Sealer encrypts and authenticates session data for storage in a cookie,
// with AES-256-GCM and a fresh random nonce for every seal. It is the cookie
// backend: chisess uses one built from Config.Secret and
// Config.PreviousSecrets whenever Config.Backend is nil, so most
// applications never create one themselves.
//
// Keys are derived from the secrets with HKDF-SHA256. The first secret seals;
// every secret opens, so a secret can be rotated by putting the new one first
// and keeping the old one until the cookies it sealed have expired. The cookie
// name is bound into the authenticated data, so a value sealed for one cookie
// is rejected under another. The issue and expiry times are sealed with the
// data and checked by Open, so a stolen cookie cannot be replayed past its
// expiry by editing its attributes.
//
// A Sealer is safe for concurrent use.
type Sealer struct {
	aeads []cipher.AEAD
	ad    atomic.Pointer[namedAD] // the additional data of the last name used
}

// namedAD caches the additional data for one cookie name: an app seals
// under one name, so it is built once.
type namedAD struct {
	name string
	ad   []byte
}

// scratch holds the plaintext and ciphertext buffers of Seal between calls.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// NewSealer returns a [Sealer] for the given secrets, newest first. Each
// secret must be at least [MinSecretLen] bytes; use a random value such as
// the output of `openssl rand -base64 32`.
func NewSealer(secrets ...string) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("chisess: sealer needs at least one secret")
	}
	s := &Sealer{aeads: make([]cipher.AEAD, 0, len(secrets))}
	for i, secret := range secrets {
		if len(secret) < MinSecretLen {
			return nil, fmt.Errorf("chisess: secret %d is %d bytes, want at least %d", i, len(secret), MinSecretLen)
		}
		key, err := hkdf.Key(sha256.New, []byte(secret), nil, "chisess sealed cookie v1 aes-256-gcm", 32)
		if err != nil {
			return nil, fmt.Errorf("chisess: derive key from secret %d: %w", i, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("chisess: secret %d: %w", i, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("chisess: secret %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// SealedLen returns the length, name and "=" included, of the cookie that
// [Sealer.Seal] makes for a payload of payloadLen bytes, at most: callers
// use it to refuse a change that would not fit the cookie before they make
// it.
func (s *Sealer) SealedLen(name string, payloadLen int) int {
	plain := 2*binary.MaxVarintLen64 + payloadLen
	return len(name) + 1 + sealEncoding.EncodedLen(1+s.aeads[0].NonceSize()+plain+s.aeads[0].Overhead())
}

// Seal returns the cookie value that carries payload for the cookie called
// name, valid from issued until expires. It fails with an error wrapping
// [ErrCookieTooLarge] when name and value together would pass
// [MaxCookieSize].
func (s *Sealer) Seal(name string, payload []byte, issued, expires time.Time) (string, error) {
	var hdr [2 * binary.MaxVarintLen64]byte
	n := putTimes(hdr[:], issued, expires)

	plainLen := n + len(payload)
	sealedLen := 1 + s.aeads[0].NonceSize() + plainLen + s.aeads[0].Overhead()
	size := len(name) + 1 + sealEncoding.EncodedLen(sealedLen)
	if size > MaxCookieSize {
		return "", fmt.Errorf("%w: %d bytes for cookie %q, the limit is %d", ErrCookieTooLarge, size, name, MaxCookieSize)
	}

	b, err := s.AppendSeal(make([]byte, 0, sealEncoding.EncodedLen(sealedLen)), name, payload, issued, expires)
	return string(b), err
}

// AppendSeal is [Sealer.Seal] appending the cookie value to dst, for
// callers that build a header around it without another copy.
func (s *Sealer) AppendSeal(dst []byte, name string, payload []byte, issued, expires time.Time) ([]byte, error) {
	var hdr [2 * binary.MaxVarintLen64]byte
	n := putTimes(hdr[:], issued, expires)
	plainLen := n + len(payload)
	sealedLen := 1 + s.aeads[0].NonceSize() + plainLen + s.aeads[0].Overhead()
	if size := len(name) + 1 + sealEncoding.EncodedLen(sealedLen); size > MaxCookieSize {
		return dst, fmt.Errorf("%w: %d bytes for cookie %q, the limit is %d", ErrCookieTooLarge, size, name, MaxCookieSize)
	}

	bp := scratch.Get().(*[]byte)
	buf := slices.Grow((*bp)[:0], plainLen+sealedLen)
	plain := append(append(buf, hdr[:n]...), payload...)
	out := append(plain[plainLen:plainLen], sealVersion)
	out = s.aeads[0].Seal(out, nil, plain, s.additionalData(name))
	dst = sealEncoding.AppendEncode(dst, out)
	clear(buf[:cap(buf)]) // the plaintext must not linger in the pool
	*bp = buf[:0]
	scratch.Put(bp)
	return dst, nil
}

// Open checks and decrypts a cookie value made by [Sealer.Seal] for the
// cookie called name, at time now. It returns the payload and the index of
// the secret that opened it (0 is the current secret; more means the cookie
// should be re-sealed). Errors wrap [ErrCookieMalformed], [ErrCookieTampered]
// or [ErrCookieExpired]. Oversized values are rejected by length before any
// decoding.
func (s *Sealer) Open(name, value string, now time.Time) (payload []byte, secret int, err error) {
	if len(value) < minSealedLen || len(value) > maxSealedLen {
		return nil, 0, ErrCookieMalformed // no formatting: hostile sizes must cost nothing
	}
	raw, err := sealEncoding.DecodeString(value)
	// The decoder skips CR and LF, so the decoded length must be checked
	// again: a value of line breaks alone decodes to nothing.
	if err != nil || len(raw) < sealOverhead {
		return nil, 0, ErrCookieMalformed
	}
	if raw[0] != sealVersion {
		return nil, 0, fmt.Errorf("%w: version %d", ErrCookieMalformed, raw[0])
	}
	ad := s.additionalData(name)
	for i, aead := range s.aeads {
		// A failed Open clears its output, so only the last secret tried
		// decrypts in place, saving an allocation; the others decrypt into a
		// fresh buffer, as the next secret needs the ciphertext intact.
		var dst []byte
		if i == len(s.aeads)-1 {
			dst = raw[1:1]
		}
		plain, err := aead.Open(dst, nil, raw[1:], ad)
		if err != nil {
			continue
		}
		issued, n := binary.Uvarint(plain)
		if n <= 0 {
			return nil, 0, ErrCookieMalformed
		}
		expires, m := binary.Uvarint(plain[n:])
		if m <= 0 {
			return nil, 0, ErrCookieMalformed
		}
		unix := now.Unix()
		if int64(expires) <= unix || int64(issued) > unix+int64(ClockSkew/time.Second) {
			return nil, 0, ErrCookieExpired
		}
		return plain[n+m:], i, nil
	}
	return nil, 0, ErrCookieTampered
}

// putTimes writes the issue and expiry times of a sealed value into hdr,
// in whole seconds. The expiry is rounded up, so that Open never rejects a
// value before its expiry: a caller that needs more precision seals its
// own expiry in the payload (chisess does, to the millisecond).
func putTimes(hdr []byte, issued, expires time.Time) int {
	exp := expires.Unix()
	if expires.Nanosecond() > 0 {
		exp++
	}
	n := binary.PutUvarint(hdr, uint64(max(issued.Unix(), 0)))
	return n + binary.PutUvarint(hdr[n:], uint64(max(exp, 0)))
}

// additionalData binds a sealed value to its cookie name.
func (s *Sealer) additionalData(name string) []byte {
	if c := s.ad.Load(); c != nil && c.name == name {
		return c.ad
	}
	ad := make([]byte, 0, 16+len(name))
	ad = append(ad, "chisess/v1 "...)
	ad = append(ad, name...)
	s.ad.Store(&namedAD{name: name, ad: ad})
	return ad
}
