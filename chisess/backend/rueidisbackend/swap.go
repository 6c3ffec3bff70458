package rueidisbackend

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// script is a Lua script sent by its SHA-1 digest (EVALSHA), and whole
// (EVAL) to a server that has not cached it yet.
type script struct {
	src, sha string
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// cmd returns the EVALSHA of the script on the key k with args, or its
// EVAL when whole is set.
func (sc script) cmd(c rueidis.Client, whole bool, k string, args ...string) rueidis.Completed {
	if whole {
		return c.B().Eval().Script(sc.src).Numkeys(1).Key(k).Arg(args...).Build()
	}
	return c.B().Evalsha().Sha1(sc.sha).Numkeys(1).Key(k).Arg(args...).Build()
}

// run runs the script on the key k, which it may change, with args, in
// one round trip behind which a fence is sent (see [Store.fenced]). A
// server that answers NOSCRIPT gets the whole script: that call costs two
// round trips, and every later one on that server one.
func (s *Store) run(ctx context.Context, sc script, k string, args ...string) rueidis.RedisResult {
	res := s.fenced(ctx, k, sc.cmd(s.client, false, k, args...))
	if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
		res = s.fenced(ctx, k, sc.cmd(s.client, true, k, args...))
	}
	return res
}

// swapScript replaces or deletes the key KEYS[1] only if it holds exactly
// ARGV[1]. ARGV[2] and ARGV[3], when present, are the new value and its
// TTL in milliseconds; without them a match deletes the key. It returns 1
// if it changed the key and 0 if not. GET gives false for a missing (or
// expired) key, which never equals a string, so a missing key is never
// created. The script touches one key, so it is safe on a cluster, and
// Redis runs it atomically.
var swapScript = newScript(`
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

// Swap implements [backend.Swapper]: it replaces the record under key
// with data, expiring after ttl, only if the key holds exactly old on the
// server, and reports whether it did. It compares with what the server
// holds, never with the local cache, so a session read from a cache that
// an invalidation has not reached yet can never overwrite another
// request's change or bring back a session that was destroyed: the swap
// fails, chisess reads again, and by then the invalidation has been
// applied (it travels on the same connection, ahead of the reply).
//
// Every case is one round trip:
//
//   - old set, data set: SET key data IFEQ old PX ttl where the server
//     has it ([Store.NativeCompare]), else an EVALSHA of a Lua script
//     that compares and sets;
//   - old set, data nil or ttl zero or less: the script, which compares
//     and deletes;
//   - old nil: SET key data PX ttl NX (a create);
//   - old nil and nothing to create: EXISTS.
//
// The first script call on a server that has not cached the script costs
// a second round trip (NOSCRIPT, then EVAL). Swap returns false and a nil
// error when the key holds something else, is absent or has expired, and
// never creates, changes or deletes such a key. Failures, the context's
// included, are wrapped as "chisess: redis swap: …".
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	k := s.prefix + key
	remove := data == nil || ttl <= 0
	var res rueidis.RedisResult
	switch {
	case old == nil && remove:
		n, err := s.client.Do(ctx, s.client.B().Exists().Key(k).Build()).AsInt64()
		if err != nil {
			return false, opError(ctx, "swap", err)
		}
		return n == 0, nil
	case old == nil:
		res = s.fenced(ctx, k, s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).Nx().PxMilliseconds(pxMillis(ttl)).Build())
	case remove:
		res = s.run(ctx, swapScript, k, rueidis.BinaryString(old))
	case s.native:
		res = s.fenced(ctx, k, s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).Ifeq(rueidis.BinaryString(old)).PxMilliseconds(pxMillis(ttl)).Build())
	default:
		res = s.run(ctx, swapScript, k, rueidis.BinaryString(old), rueidis.BinaryString(data), strconv.FormatInt(pxMillis(ttl), 10))
	}
	return swapped(ctx, res)
}

// swapped turns the reply of a conditional SET (OK, or nil when it set
// nothing) or of the swap script (1 or 0) into Swap's result.
func swapped(ctx context.Context, res rueidis.RedisResult) (bool, error) {
	if err := res.Error(); err != nil {
		if rueidis.IsRedisNil(err) {
			return false, nil
		}
		return false, opError(ctx, "swap", err)
	}
	if n, err := res.AsInt64(); err == nil {
		return n == 1, nil
	}
	return true, nil // OK
}
