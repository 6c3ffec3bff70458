package rueidisbackend

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/chisess/kit/chisess/internal/rediskit"
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

// run runs the script on the key k with args, in one round trip. A
// server that answers NOSCRIPT gets the whole script: that call costs two
// round trips, and every later one on that server one.
func (s *Store) run(ctx context.Context, sc script, k string, args ...string) rueidis.RedisResult {
	res := s.client.Do(ctx, sc.cmd(s.client, false, k, args...))
	if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
		res = s.client.Do(ctx, sc.cmd(s.client, true, k, args...))
	}
	return res
}

// checkScript makes the transaction that follows it fail: it returns 1
// when the key KEYS[1] holds exactly ARGV[1], and otherwise writes the
// value the key holds back to it, keeping its TTL, which changes nothing
// but makes the EXEC of a client that WATCHes the key return nil, and
// returns 0. A missing key is left missing (the transaction's SET … XX
// or DEL then does nothing). See [Store.Swap] for why the write is not in the
// script.
var checkScript = newScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	return 1
end
if v then
	redis.call('SET', KEYS[1], v, 'KEEPTTL')
end
return 0
`)

// Swap implements [backend.Swapper]: it replaces the record under key
// with data, expiring after ttl, only if the key holds exactly old on the
// server, and reports whether it did. It compares with what the server
// holds, never with the local cache, so a session read from a cache that
// an invalidation has not reached yet can never overwrite another
// request's change or bring back a session that was destroyed: the swap
// fails, the cache drops the key, and the read chisess then makes asks
// the server. A swap that succeeds leaves what it wrote in the cache, so
// the next request's read of the session costs no round trip.
//
// Every case is one round trip:
//
//   - old set, data set: SET key data IFEQ old PX ttl where the server
//     has it ([Store.NativeCompare]), else a transaction, sent at once:
//     WATCH key, EVAL of a Lua script that compares (and on a mismatch
//     rewrites the key as it is, which makes the EXEC fail), MULTI, SET
//     key data XX PX ttl, EXEC;
//   - old set, data nil or ttl zero or less: the same transaction with
//     DEL key in place of the SET;
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
	if old == nil && remove {
		n, err := s.client.Do(ctx, s.client.B().Exists().Key(k).Build()).AsInt64()
		if err != nil {
			return false, rediskit.OpError(ctx, "swap", err)
		}
		return n == 0, nil
	}
	now, sl := s.cache.now(), s.cache.begin(key)
	var res rueidis.RedisResult
	switch {
	case old == nil:
		res = s.client.Do(ctx, s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).Nx().PxMilliseconds(rediskit.PxMillis(ttl)).Build())
	case remove:
		res = s.watched(ctx, k, old, s.client.B().Del().Key(k).Build())
	case s.native:
		res = s.client.Do(ctx, s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).Ifeq(rueidis.BinaryString(old)).PxMilliseconds(rediskit.PxMillis(ttl)).Build())
	default:
		res = s.watched(ctx, k, old, s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).Xx().PxMilliseconds(rediskit.PxMillis(ttl)).Build())
	}
	ok, err := swapped(ctx, res)
	// A swap that failed means the cache, if it held the key, held
	// something the server no longer has: it keeps nothing.
	s.wrote(sl, ok && !remove, data, now, ttl)
	return ok, err
}

// watched runs cmd, a SET … XX or a DEL of the key k, if k holds old, in
// one round trip: WATCH k, the check script, MULTI, cmd, EXEC, whose reply
// it returns: nil when the check failed, an array with cmd's reply when it
// ran.
//
// The SET is outside the script because of client tracking: Redis (7.0
// at least) counts a script's writes as made by the script's own client,
// not by the caller, so NOLOOP does not stop the invalidation of this
// Store's own swap from coming back to it, after the reply, and removing
// from the cache the value the swap just put there: the next read would
// cost a round trip. A SET in MULTI is the caller's own. The script is
// sent whole (EVAL), never by its digest: a NOSCRIPT error would let the
// EXEC run a SET that nothing compared.
func (s *Store) watched(ctx context.Context, k string, old []byte, cmd rueidis.Completed) rueidis.RedisResult {
	res := s.client.DoMulti(ctx,
		s.client.B().Watch().Key(k).Build(),
		checkScript.cmd(s.client, true, k, rueidis.BinaryString(old)),
		s.client.B().Multi().Build(),
		cmd,
		s.client.B().Exec().Build())
	for _, r := range res[:4] {
		if err := r.Error(); err != nil {
			return r
		}
	}
	exec, err := res[4].ToArray()
	switch {
	case err != nil:
		return res[4] // nil (the check failed), or the error
	case len(exec) != 1:
		return rueidis.NewErrorResult(fmt.Errorf("EXEC returned %d replies, want 1", len(exec)))
	}
	if err := exec[0].Error(); err != nil {
		return rueidis.NewErrorResult(err) // rueidis.Nil when the SET found no key, so set nothing
	}
	if n, err := exec[0].AsInt64(); err == nil && n == 0 {
		return rueidis.NewErrorResult(rueidis.Nil) // the DEL found no key
	}
	return res[4]
}

// swapped turns the reply of a conditional SET (OK, or nil when it set
// nothing), of the swap script (1 or 0) or of a transaction (an array, or
// nil when it did nothing) into Swap's result.
func swapped(ctx context.Context, res rueidis.RedisResult) (bool, error) {
	if err := res.Error(); err != nil {
		if rueidis.IsRedisNil(err) {
			return false, nil
		}
		return false, rediskit.OpError(ctx, "swap", err)
	}
	if n, err := res.AsInt64(); err == nil {
		return n == 1, nil
	}
	return true, nil // OK
}
