// Package rediskit holds what chisess's two Redis backends share, whatever
// client they use: the rules for a key prefix, the owner index's key and
// scripts, TTL rounding and error wrapping. It uses the standard library
// only, so that each backend module keeps the one Redis client it needs.
package rediskit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultPrefix is the key prefix of both backends when their options
// leave it empty.
const DefaultPrefix = "chisess:session:"

// CheckPrefix returns why prefix cannot be a key prefix, or nil: it must
// be valid UTF-8 without spaces or control characters, and must not hold
// a Redis Cluster hash tag. Cluster hashes only the part between the first
// "{" and the next "}" when that part is non-empty; chisess keys are
// base64url and never hold braces, so the prefix alone decides whether a
// key has a tag, and a tag would put every session in one hash slot.
func CheckPrefix(prefix string) error {
	if !utf8.ValidString(prefix) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range prefix {
		switch {
		case r == ' ':
			return errors.New("contains a space")
		case unicode.IsSpace(r):
			return fmt.Errorf("contains the white-space character %U", r)
		case unicode.IsControl(r):
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	if i := strings.IndexByte(prefix, '{'); i >= 0 {
		if j := strings.IndexByte(prefix[i+1:], '}'); j > 0 {
			return errors.New("contains a Redis Cluster hash tag {…}, which would put every session in one hash slot")
		}
	}
	return nil
}

// PxMillis returns a positive ttl in whole milliseconds for PX, rounded
// up, so that a record never expires early.
func PxMillis(ttl time.Duration) int64 {
	ms := ttl.Milliseconds()
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// OpError wraps err, the failure of a Redis call made for op, as
// "chisess: redis op: …". When ctx is done but err does not say so, as
// when a client turns a context deadline into a network timeout, the
// error wraps ctx.Err() as well, so that errors.Is finds both.
func OpError(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		// The socket deadline, set from the context's, can fire a moment
		// before the context's own timer marks it done.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("chisess: redis %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("chisess: redis %s: %w", op, err)
}

// OwnerKey returns the Redis key of owner's index under prefix: the
// prefix, "owner:" and the unpadded base64url SHA-256 of the owner. A
// session key is the prefix and 43 base64url characters, which never hold
// ':', so the two never collide. The hash gives every owner a key of the
// same length, with no character that Redis treats specially: an owner
// such as "{x}" cannot form a Cluster hash tag, and owners spread evenly
// over the slots.
func OwnerKey(prefix, owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return prefix + "owner:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// IndexScript adds ARGV[1] to the sorted set KEYS[1] with its end, the
// server's time plus ARGV[2] milliseconds, as its score. ZADD GT keeps the
// later of the old and the new end and adds a member that is not there
// yet. It then drops the members whose end has passed, and sets the set's
// TTL to the latest end it holds, so the set goes away with its last live
// member. It returns the number of members left.
//
// The time is the server's (TIME), as for the TTL of a session key, so a
// skew between the app's clock and the server's moves nothing. Since Redis
// 5 a script's writes replicate as their effects, so TIME in a script that
// writes is allowed; ZADD GT needs Redis 6.2.
const IndexScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
	redis.call('PEXPIRE', KEYS[1], tonumber(last[2]) - now)
end
return redis.call('ZCARD', KEYS[1])
`

// OwnedScript returns the members of the sorted set KEYS[1] whose end, the
// score, is after the server's time. It only reads.
const OwnedScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`
