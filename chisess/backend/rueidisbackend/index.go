package rueidisbackend

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// ownerKey returns the Redis key of owner's index: the prefix, "owner:"
// and the unpadded base64url SHA-256 of the owner, so that any owner
// string works, none forms a Cluster hash tag, and owners spread over the
// slots. A session key is the prefix and 43 base64url characters, which
// never hold ':', so the two never collide.
func (s *Store) ownerKey(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return s.prefix + "owner:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// indexScript adds ARGV[1] to the sorted set KEYS[1] with its end, the
// server's time plus ARGV[2] milliseconds, as its score (ZADD GT keeps the
// later end), drops the members whose end has passed, and sets the set's
// TTL to the latest end it holds. The time is the server's, as for the TTL
// of a session key. ZADD GT needs Redis 6.2.
var indexScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
	redis.call('PEXPIRE', KEYS[1], tonumber(last[2]) - now)
end
return redis.call('ZCARD', KEYS[1])
`)

// ownedScript returns the members of the sorted set KEYS[1] whose end, the
// score, is after the server's time. It only reads.
var ownedScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`)

// Index implements [backend.Indexer]: it records that the session under
// key belongs to owner for ttl, or keeps the entry's later end if it has
// one. An owner's index is one sorted set of session keys scored by the
// Unix millisecond at which each entry ends, on the server's clock. Index
// is one round trip (EVALSHA of a short script: ZADD … GT,
// ZREMRANGEBYSCORE of ended entries, PEXPIRE to the latest end); a ttl of
// zero or less records nothing and sends nothing. The index is never
// cached. It needs Redis 6.2 or later, or Valkey. Failures, the context's
// included, are wrapped as "chisess: redis index: …".
func (s *Store) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return opError(ctx, "index", err)
	}
	if ttl <= 0 {
		return nil
	}
	if err := s.run(ctx, indexScript, s.ownerKey(owner), key, strconv.FormatInt(pxMillis(ttl), 10)).Error(); err != nil {
		return opError(ctx, "index", err)
	}
	return nil
}

// Unindex implements [backend.Indexer] with one ZREM of key from owner's
// set. A missing entry is not an error. Failures are wrapped as
// "chisess: redis unindex: …".
func (s *Store) Unindex(ctx context.Context, owner, key string) error {
	if err := s.client.Do(ctx, s.client.B().Zrem().Key(s.ownerKey(owner)).Member(key).Build()).Error(); err != nil {
		return opError(ctx, "unindex", err)
	}
	return nil
}

// Owned implements [backend.Indexer] with one round trip (EVALSHA of a
// read-only script) that returns the members of owner's set whose end is
// after the server's time. It never lists keys (no KEYS, no SCAN).
// Failures are wrapped as "chisess: redis owned: …".
func (s *Store) Owned(ctx context.Context, owner string) ([]string, error) {
	keys, err := s.run(ctx, ownedScript, s.ownerKey(owner)).AsStrSlice()
	if err != nil {
		return nil, opError(ctx, "owned", err)
	}
	return keys, nil
}
