package redisbackend

import (
	"context"
	"errors"
	"time"

	"github.com/chisess/kit/chisess/internal/rediskit"
	"github.com/redis/go-redis/v9"
)

// swapScript replaces or deletes the key KEYS[1] only if it holds exactly
// ARGV[1]. ARGV[2] and ARGV[3], when present, are the new value and its
// TTL in milliseconds; without them a match deletes the key. It returns 1
// if it changed the key and 0 if not. GET gives false for a missing (or
// expired) key, which never equals a string, so a missing key is never
// created. Lua strings hold any bytes, so the comparison is byte for byte.
//
// The script touches one key, named in KEYS, so it runs on the node that
// owns the key's hash slot and is safe on a cluster. Redis runs a script
// atomically: no other command runs between its GET and its SET.
var swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if ARGV[2] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
	redis.call('DEL', KEYS[1])
end
return 1
`)

// Swap implements [backend.Swapper]: it replaces the record under key with
// data, expiring after ttl, only if the key holds exactly old, and reports
// whether it did. chisess uses it to merge the changes of concurrent
// requests on one session without losing any, and to keep a slow request
// from bringing back a session that another request destroyed or renewed.
//
// Every case is one round trip, atomic on the server:
//
//   - old set: a Lua script (EVALSHA) that compares the stored value with
//     old and, if they match, sets data with SET … PX ttl, or deletes the
//     key when data is nil or ttl is zero or less;
//   - old nil (create only if absent): SET key data PX ttl NX;
//   - old nil, data nil or ttl zero or less: nothing to create, so an
//     EXISTS reports whether the key is free.
//
// The script is sent by its SHA-1 digest. A server that has not seen it
// yet (the first Swap after it starts, after a failover, or after SCRIPT
// FLUSH; on a cluster, once per node) answers NOSCRIPT, and go-redis sends
// the whole script with EVAL, which caches it: that one Swap costs two round
// trips, every later one costs one. The TTL is relative and rounded up to a
// whole millisecond, as for [Store.Write].
//
// Swap returns false and a nil error when the key holds something else, is
// absent or has expired, and never creates, changes or deletes such a key.
// Failures, the context's included, are wrapped as "chisess: redis swap:
// …". As with Write, an error does not prove that nothing changed: the
// server may have run a command whose reply was lost. If go-redis retries
// such a command (Options.MaxRetries), the retry finds the new value, not
// old, and Swap reports false: the caller reads the record again, as after
// any lost race, and finds its own change there.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	k := s.prefix + key
	remove := data == nil || ttl <= 0
	switch {
	case old == nil && remove:
		n, err := s.client.Exists(ctx, k).Result()
		if err != nil {
			return false, rediskit.OpError(ctx, "swap", err)
		}
		return n == 0, nil
	case old == nil:
		cmd := redis.NewStatusCmd(ctx, "set", k, data, "px", rediskit.PxMillis(ttl), "nx")
		if err := s.client.Process(ctx, cmd); err != nil {
			if errors.Is(err, redis.Nil) {
				return false, nil // NX: the key exists
			}
			return false, rediskit.OpError(ctx, "swap", err)
		}
		return true, nil
	}
	var cmd *redis.Cmd
	if remove {
		cmd = swapScript.Run(ctx, s.client, []string{k}, old)
	} else {
		cmd = swapScript.Run(ctx, s.client, []string{k}, old, data, rediskit.PxMillis(ttl))
	}
	n, err := cmd.Int64()
	if err != nil {
		return false, rediskit.OpError(ctx, "swap", err)
	}
	return n == 1, nil
}
