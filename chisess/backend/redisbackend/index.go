package redisbackend

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/redis/go-redis/v9"
)

var _ backend.Indexer = (*Store)(nil)

// ownerKey returns the Redis key of owner's index: the prefix, "owner:"
// and the unpadded base64url SHA-256 of the owner. A session key is the
// prefix and 43 base64url characters, which never hold ':', so the two
// never collide. The hash gives every owner a key of the same length, with
// no character that Redis treats specially: an owner such as "{x}" cannot
// form a Cluster hash tag, and owners spread evenly over the slots.
func (s *Store) ownerKey(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return s.prefix + "owner:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// indexScript adds ARGV[1] to the sorted set KEYS[1] with its end, the
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
var indexScript = redis.NewScript(`
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
var ownedScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`)

// Index implements [backend.Indexer]: it records that the session under key
// belongs to owner for ttl, or keeps the entry's later end if it has one.
//
// An owner's index is one sorted set, under the prefix, "owner:" and a hash
// of the owner (so any owner string works), whose members are the owner's
// session keys and whose scores are the Unix milliseconds at which each
// entry ends. Index is one EVALSHA of a short Lua script that touches only
// that set: ZADD … GT with the end computed from the server's clock (TIME),
// ZREMRANGEBYSCORE of the entries that have ended, and PEXPIRE of the set
// to its latest end, so an owner whose sessions have all ended leaves
// nothing behind. As for [Store.Swap], the first call on a server that has
// not cached the script costs a second round trip (EVAL). The ttl is
// rounded up to a whole millisecond; a ttl of zero or less records nothing
// and sends nothing.
//
// It needs Redis 6.2 or later (ZADD GT), or Valkey. Failures, the
// context's included, are wrapped as "chisess: redis index: …".
func (s *Store) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return opError(ctx, "index", err)
	}
	if ttl <= 0 {
		return nil
	}
	if err := indexScript.Run(ctx, s.client, []string{s.ownerKey(owner)}, key, pxMillis(ttl)).Err(); err != nil {
		return opError(ctx, "index", err)
	}
	return nil
}

// Unindex implements [backend.Indexer] with one ZREM of key from owner's
// set. A missing entry is not an error. It leaves the set's TTL as it is:
// the set goes away at the latest end it ever held. Failures, the
// context's included, are wrapped as "chisess: redis unindex: …".
func (s *Store) Unindex(ctx context.Context, owner, key string) error {
	if err := s.client.ZRem(ctx, s.ownerKey(owner), key).Err(); err != nil {
		return opError(ctx, "unindex", err)
	}
	return nil
}

// Owned implements [backend.Indexer] with one EVALSHA of a read-only Lua
// script that returns the members of owner's set whose end is after the
// server's time (ZRANGEBYSCORE), so an entry drops out of the listing the
// moment it ends by the same clock that set it. It reads one key, never
// lists keys (no KEYS, no SCAN), and costs what the owner's own sessions
// cost. Entries that have ended are deleted by the next Index of the same
// owner, or with the whole set by its TTL. Failures, the context's
// included, are wrapped as "chisess: redis owned: …".
func (s *Store) Owned(ctx context.Context, owner string) ([]string, error) {
	keys, err := ownedScript.Run(ctx, s.client, []string{s.ownerKey(owner)}).StringSlice()
	if err != nil {
		return nil, opError(ctx, "owned", err)
	}
	return keys, nil
}
