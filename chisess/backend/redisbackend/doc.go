// Package redisbackend stores chisess sessions in Redis, Valkey, Redis
// Sentinel or Redis Cluster through a go-redis v9 [redis.UniversalClient].
//
// Use it when more than one app process must share sessions and a Redis (or
// Valkey) server is at hand. Each session is one string key, the prefix
// ("chisess:session:" by default, see [Options.Prefix]) followed by the
// hash chisess makes of the session token, so the database never holds a
// usable cookie.
//
// Wire it by handing [New] a client the app owns; chisess does the rest:
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  os.Getenv("CHISESS_REDIS_ADDR"), // "localhost:6379"
//		ContextTimeoutEnabled: true,                            // let request deadlines bound Redis calls
//	})
//	defer rdb.Close() // the Store does not close the client
//	store, err := redisbackend.New(rdb, redisbackend.Options{})
//	if err != nil {
//		return err
//	}
//	sessions, err := chisess.New(chisess.Config{Backend: store})
//	if err != nil {
//		return err
//	}
//
// The same works with redis.NewFailoverClient (Sentinel),
// redis.NewClusterClient, or redis.NewUniversalClient, which picks one of
// them from its options.
//
// # Round trips and cluster layout
//
// Read is one GET, Write is one SET key value PX ttl, and Delete is one
// DEL. Because a session is a single key, it lives in a single hash slot:
// there are no multi-key commands and no CROSSSLOT errors on a cluster, and
// sessions spread over all of its nodes. The Store never lists keys: it sends
// no KEYS and no SCAN.
//
// The Store is also a backend.Swapper, which chisess uses to commit a
// session only if no other request changed or destroyed it meanwhile (no
// lost updates, no resurrection). A create is one SET … PX ttl NX; a swap
// or a delete of what the caller read is one EVALSHA of a short Lua script
// that compares and writes atomically on the server, never WATCH/MULTI.
// The first such Swap on a server that has not cached the script (after a
// restart, a failover or SCRIPT FLUSH; on a cluster, once per node) costs
// two round trips, EVALSHA answering NOSCRIPT and then EVAL; every later one
// costs one. The script touches only the session's key, so it is safe on a
// cluster.
//
// # Owner index
//
// The Store is also a backend.Indexer, so chisess can list a user's
// sessions (Manager.Sessions) and end them all (Manager.DestroyOwner)
// without a KEYS or SCAN. Each owner's index is one sorted set, under the
// prefix, "owner:" and the unpadded base64url SHA-256 of the owner: any
// owner string works, an owner such as "{team}" forms no hash tag, and
// owners spread over a cluster's slots. Its members are the owner's session
// keys and its scores the Unix milliseconds at which each entry ends.
// [Store.Index] is one EVALSHA of a Lua script on that one key (ZADD … GT
// with the end taken from the server's TIME, ZREMRANGEBYSCORE of the
// entries that have ended, PEXPIRE of the set to its latest end),
// [Store.Owned] one EVALSHA of a read-only script (ZRANGEBYSCORE from the
// server's TIME), and [Store.Unindex] one ZREM. Every one touches a single
// key, so all are safe on a cluster, and the ends come from the server's
// clock, as the TTLs of session keys do. The owner index needs Redis 6.2
// or later (ZADD GT), or Valkey.
//
// # Expiry
//
// Every key carries a TTL. It is relative (PX, never EXPIREAT or PXAT), so
// Redis counts it on its own clock and a skew between app servers and the
// Redis server does not move it. chisess enforces its own lifetimes from
// metadata inside the session as well; the Redis TTL only makes sure
// abandoned sessions go away.
//
// # Things to set on the client
//
//   - ContextTimeoutEnabled: true. Without it go-redis uses its own
//     ReadTimeout and WriteTimeout (5 s by default) instead of the context's
//     deadline once a command is on the wire, so a slow server can hold a
//     request longer than its deadline. A context that is already done is
//     honoured either way.
//   - Read from the primary. A cluster client with ReadOnly, RouteByLatency
//     or RouteRandomly may read from a replica that has not yet seen a
//     write, which looks like a missing session: the user is logged out.
//   - Enough memory. Every session key has a TTL, so under maxmemory both
//     the allkeys-* and the volatile-* eviction policies may drop a live
//     session, which logs its user out. With noeviction Redis refuses the
//     write instead, and chisess reports the failed commit.
//
// # Closing
//
// The Store does not own the client and has no Close method. Close the
// client when the app shuts down, after the HTTP server has stopped.
package redisbackend
