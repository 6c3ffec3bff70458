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
// [New] turns on client tracking in broadcasting mode for the prefix,
// with NOLOOP: the server pushes an invalidation for every change any
// other client makes to a key under the prefix, on the connection that
// carries this client's commands, and the Store drops that key from its
// cache. The Store's own writes come back as no invalidation: each write
// that succeeds puts what it wrote in the cache, so a read on this app
// server right after its own write sees it with no round trip. A read
// that misses sends GET and PTTL, and caches the value until its key's
// TTL ends.
//
// An invalidation that arrives while a read or a write of the same key
// is in flight wins: the call caches nothing. So does a second call of
// this Store on a key that already has one in flight. The whole cache
// goes when a connection to Redis is lost (an invalidation may have been
// missed meanwhile) or the server flushes its database. Entries also go
// after [Options.CacheFor], and least recently used first when the cache
// reaches [Options.CacheEntries] or [Options.CacheBytes]. [Store.Stats]
// counts hits, misses and the rest.
//
// Between a change on another app server and the arrival of its
// invalidation, a read here can still see the session as it was: the
// invalidation delay, measured in docs/backends.md. Writes are never
// stale: [Store.Swap], which chisess uses for every change, compares with
// the value stored on the server, not the cached one. So a stale read can
// never overwrite another request's change or bring back a destroyed
// session: the swap fails, the failure drops the cached entry, and the
// read chisess then makes asks the server.
//
// Every server that uses the prefix receives the invalidation of every
// write to a session: docs/backends.md says what that costs, and when
// redisbackend is the better choice.
//
// # Round trips
//
// A Read of a cached session, or of one this Store just wrote: none. A
// Read that misses: one (GET and PTTL, pipelined). [Store.Write]: SET …
// PX, one. [Store.Delete]: DEL, one. [Store.Swap]: one, with SET … IFEQ
// where every node has it (Redis 8.4 or later, Valkey 8.1 or later, found
// by [New] from INFO), else a transaction sent at once (WATCH, EVAL of a
// script that compares, MULTI, SET … XX PX or DEL, EXEC); a create is
// SET … NX PX. Each session is one key in one hash slot: no multi-key
// commands, safe on a cluster, and the Store never lists keys (no KEYS,
// no SCAN).
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
