package redisbackend

import (
	"context"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/rediskit"
	"github.com/redis/go-redis/v9"
)

var _ backend.Indexer = (*Store)(nil)

// indexScript and ownedScript keep the owner index: see
// rediskit.IndexScript and rediskit.OwnedScript.
var (
	indexScript = redis.NewScript(rediskit.IndexScript)
	ownedScript = redis.NewScript(rediskit.OwnedScript)
)

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
		return rediskit.OpError(ctx, "index", err)
	}
	if ttl <= 0 {
		return nil
	}
	if err := indexScript.Run(ctx, s.client, []string{rediskit.OwnerKey(s.prefix, owner)}, key, rediskit.PxMillis(ttl)).Err(); err != nil {
		return rediskit.OpError(ctx, "index", err)
	}
	return nil
}

// Unindex implements [backend.Indexer] with one ZREM of key from owner's
// set. A missing entry is not an error. It leaves the set's TTL as it is:
// the set goes away at the latest end it ever held. Failures, the
// context's included, are wrapped as "chisess: redis unindex: …".
func (s *Store) Unindex(ctx context.Context, owner, key string) error {
	if err := s.client.ZRem(ctx, rediskit.OwnerKey(s.prefix, owner), key).Err(); err != nil {
		return rediskit.OpError(ctx, "unindex", err)
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
	keys, err := ownedScript.Run(ctx, s.client, []string{rediskit.OwnerKey(s.prefix, owner)}).StringSlice()
	if err != nil {
		return nil, rediskit.OpError(ctx, "owned", err)
	}
	return keys, nil
}
