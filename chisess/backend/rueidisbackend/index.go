package rueidisbackend

import (
	"context"
	"strconv"
	"time"

	"github.com/chisess/kit/chisess/internal/rediskit"
)

// indexScript and ownedScript keep the owner index: see
// rediskit.IndexScript and rediskit.OwnedScript.
var (
	indexScript = newScript(rediskit.IndexScript)
	ownedScript = newScript(rediskit.OwnedScript)
)

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
		return rediskit.OpError(ctx, "index", err)
	}
	if ttl <= 0 {
		return nil
	}
	if err := s.run(ctx, indexScript, rediskit.OwnerKey(s.prefix, owner), key, strconv.FormatInt(rediskit.PxMillis(ttl), 10)).Error(); err != nil {
		return rediskit.OpError(ctx, "index", err)
	}
	return nil
}

// Unindex implements [backend.Indexer] with one ZREM of key from owner's
// set. A missing entry is not an error. Failures are wrapped as
// "chisess: redis unindex: …".
func (s *Store) Unindex(ctx context.Context, owner, key string) error {
	if err := s.client.Do(ctx, s.client.B().Zrem().Key(rediskit.OwnerKey(s.prefix, owner)).Member(key).Build()).Error(); err != nil {
		return rediskit.OpError(ctx, "unindex", err)
	}
	return nil
}

// Owned implements [backend.Indexer] with one round trip (EVALSHA of a
// read-only script) that returns the members of owner's set whose end is
// after the server's time. It never lists keys (no KEYS, no SCAN).
// Failures are wrapped as "chisess: redis owned: …".
func (s *Store) Owned(ctx context.Context, owner string) ([]string, error) {
	keys, err := s.run(ctx, ownedScript, rediskit.OwnerKey(s.prefix, owner)).AsStrSlice()
	if err != nil {
		return nil, rediskit.OpError(ctx, "owned", err)
	}
	return keys, nil
}
