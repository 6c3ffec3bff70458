// Package testkey makes the keys the repository's tests hand to backends.
package testkey

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns a random key of the shape chisess gives a backend: 32 bytes
// from crypto/rand in unpadded base64url, 43 characters, the length and
// alphabet of the SHA-256 hash chisess makes of a token.
func New() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
