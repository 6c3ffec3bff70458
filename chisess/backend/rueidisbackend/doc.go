// Package rueidisbackend stores chisess sessions in Redis, Valkey or Redis
// Cluster through a rueidis client, and keeps the sessions it reads in a
// local cache that the server keeps coherent (server-assisted client-side
// caching, RESP3 CLIENT TRACKING): a request that reads a cached session
// sends nothing to Redis, and every write is one round trip.
//
// Use it when sessions live in Redis and their reads should cost what a
// map lookup costs. Use redisbackend instead when the app already holds a
// go-redis client and wants no second client, or when Redis is older than
// 6.0 (no RESP3); docs/backends.md compares the two.
//
// Wire it by handing [New] the rueidis options; the Store owns the client
// it makes and [Store.Close] closes it:
//
//	store, err := rueidisbackend.New(ctx, rueidis.ClientOption{
//		InitAddress: []string{os.Getenv("CHISESS_REDIS_ADDR")}, // "localhost:6379", or several cluster nodes
//	}, rueidisbackend.Options{})
//	if err != nil {
//		return err
//	}
//	defer store.Close() // after the HTTP server has stopped
//	sessions, err := chisess.New(chisess.Config{Backend: store})
//
// # How the cache stays right
//
// [Store.Read] sends GET with CLIENT CACHING YES the first time, and the
// server remembers that this connection holds the key. When any client
// changes or deletes the key, the server pushes an invalidation on that
// connection and rueidis drops the entry as it reads it. An entry also
// goes when its key's TTL on the server ends (rueidis reads the PTTL with
// the value), after [Options.CacheFor], when the cache is full
// (rueidis.ClientOption.CacheSizeEachConn, 128 MiB per connection by
// default, least recently used first out), and all at once when the
// connection is lost: a reconnected client starts empty, so an
// invalidation missed while it was away can never leave a stale entry.
//
// Between a change on another app server and the arrival of its
// invalidation, a read here can still see the session as it was: the
// invalidation delay, measured in docs/backends.md. Writes are never
// stale: [Store.Swap], which chisess uses for every change, compares with
// the value stored on the server, not the cached one. So a stale read can
// never overwrite another request's change or bring back a destroyed
// session: the swap fails, and the read chisess then makes finds the
// entry gone, because the invalidation travelled on the same connection,
// ahead of the swap's reply.
//
// Two rules make that ordering hold, and the Store keeps both. [New] sets
// PipelineMultiplex to -1, so rueidis sends every command for one server
// over one connection: the reads that filled the cache, the writes, and
// the invalidations share one ordered stream. And every write carries a
// fence: Redis 7 pushes the invalidation of a client's own change after
// the reply to that change, so each write is sent with a read that changes
// nothing (EXISTS) behind it in the same round trip; when its reply is in,
// the invalidation before it has been applied, and a Read on this app
// server right after its own write sees the write.
//
// # Round trips
//
// A Read of a cached session: none. A Read that misses: one (a MULTI of
// PTTL and GET). [Store.Write]: SET … PX, one. [Store.Delete]: DEL, one.
// [Store.Swap]: one, with SET … IFEQ where every node has it (Redis 8.4 or
// later, Valkey 8.1 or later, found by [New] from INFO), else an EVALSHA of
// a short Lua script that compares and writes; a create is SET … NX PX.
// The first script call on a server that has not cached the script costs a
// second round trip (NOSCRIPT, then EVAL). Each session is one key in one
// hash slot: no multi-key commands, safe on a cluster, and the Store never
// lists keys (no KEYS, no SCAN).
//
// # Owner index
//
// The Store is a backend.Indexer, as redisbackend's: each owner's
// sessions are one sorted set under the prefix, "owner:" and a hash of the
// owner, scored by the server-clock millisecond at which each entry ends.
// [Store.Index] and [Store.Owned] are one EVALSHA each, [Store.Unindex]
// one ZREM. The index is never cached. It needs Redis 6.2 or later, or
// Valkey.
//
// # Requirements
//
// Redis 6.0 or later, or Valkey, speaking RESP3 (rueidis.NewClient fails
// otherwise); the owner index needs 6.2. Every key carries a relative TTL
// (PX). As with any Redis store, read from primaries and give Redis
// enough memory: an evicted session logs its user out.
package rueidisbackend
