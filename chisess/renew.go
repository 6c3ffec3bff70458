package chisess

import (
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// A forward record replaces the record of an ID that Config.RenewEvery
// renewed, for Config.RenewGrace. It holds the new token sealed under a key
// derived from the old one, so only a client that holds the old token can
// follow it, and a leaked store still yields no usable token.
const forwardVersion = 2

// forwardName is the authenticated name the new token is sealed under.
const forwardName = "chisess forward"

func isForward(data []byte) bool { return len(data) > 0 && data[0] == forwardVersion }

// forwardRecord returns the record that leads from oldToken to newToken
// until expires.
func forwardRecord(oldToken, newToken string, now, expires time.Time) ([]byte, error) {
	sealer, err := backend.NewSealer(oldToken)
	if err != nil {
		return nil, err
	}
	v, err := sealer.Seal(forwardName, []byte(newToken), now, expires)
	if err != nil {
		return nil, err
	}
	return append([]byte{forwardVersion}, v...), nil
}

// openForward returns the token a forward record leads to.
func openForward(oldToken string, data []byte, now time.Time) (string, bool) {
	sealer, err := backend.NewSealer(oldToken)
	if err != nil {
		return "", false
	}
	newToken, _, err := sealer.Open(forwardName, string(data[1:]), now)
	if err != nil {
		return "", false
	}
	if _, ok := parseToken(string(newToken)); !ok {
		return "", false
	}
	return string(newToken), true
}
