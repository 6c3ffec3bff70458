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
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validToken reports whether s has the exact form of a token made by
// newToken: 43 base64url characters that decode to 32 bytes with no stray
// bits. It decodes nothing longer than a token, so hostile input costs at most
// a length check.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	var b [tokenBytes + 1]byte
	n, err := tokenEncoding.Decode(b[:], []byte(s))
	return err == nil && n == tokenBytes
}

// storageKey turns a token into the key a server-side backend stores the
// session under: the base64url SHA-256 of the token. A backend, or a leaked
// copy of it, never holds a usable token.
func storageKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
