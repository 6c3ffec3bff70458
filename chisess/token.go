package chisess

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// tokenBytes is the size of a session token: 256 bits from crypto/rand.
const tokenBytes = 32

// tokenLen is the length of a token in unpadded base64url.
const tokenLen = 43

var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken returns a fresh session token: 32 bytes from crypto/rand in
// unpadded base64url (43 characters).
func newToken() string {
	var b [tokenBytes]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	var s [tokenLen]byte
	base64.RawURLEncoding.Encode(s[:], b[:])
	return string(s[:])
}

// parseToken decodes s if it has the exact form of a token made by
// newToken: 43 base64url characters that decode to 32 bytes with no stray
// bits. It looks at nothing longer than a token, so hostile input costs at
// most a length check.
func parseToken(s string) (raw [tokenBytes]byte, ok bool) {
	if len(s) != tokenLen {
		return raw, false
	}
	var src [tokenLen]byte
	copy(src[:], s) // a copy on the stack rather than a []byte conversion on the heap
	var dst [tokenBytes + 1]byte
	n, err := tokenEncoding.Decode(dst[:], src[:])
	if err != nil || n != tokenBytes {
		return raw, false
	}
	copy(raw[:], dst[:tokenBytes])
	return raw, true
}

// storageKey turns a token into the key a server-side backend stores the
// session under: the base64url SHA-256 of the token's 32 bytes. A backend,
// or a leaked copy of it, never holds a usable token. It reports false for a
// string that is not a token.
func storageKey(token string) (string, bool) {
	raw, ok := parseToken(token)
	if !ok {
		return "", false
	}
	sum := sha256.Sum256(raw[:])
	var key [tokenLen]byte
	base64.RawURLEncoding.Encode(key[:], sum[:])
	return string(key[:]), true
}
