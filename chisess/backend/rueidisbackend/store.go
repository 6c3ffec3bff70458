package rueidisbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/rediskit"
	"github.com/redis/rueidis"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty. A
// session whose chisess key is k is stored under the Redis key
// "chisess:session:" + k.
const DefaultPrefix = "chisess:session:"

// DefaultCacheFor is the longest a session read stays in the local cache
// when [Options.CacheFor] is zero.
const DefaultCacheFor = 5 * time.Minute

// DefaultCacheEntries and DefaultCacheBytes bound the local cache when
// [Options.CacheEntries] and [Options.CacheBytes] are zero: 100,000
// sessions and 64 MiB.
const (
	DefaultCacheEntries = 100_000
	DefaultCacheBytes   = 64 << 20
)

// ErrInvalidOptions is returned by [New] when a field of [Options] or of
// the rueidis.ClientOption is invalid. The wrapping error names the field,
// for example `chisess: invalid rueidis options: ClientOption.DisableCache
// is true; ...`.
var ErrInvalidOptions = errors.New("chisess: invalid rueidis options")

// Options configures [New]. The zero value is a working configuration:
// keys under [DefaultPrefix], reads cached for at most [DefaultCacheFor],
// and the server's native compare-and-set when it has one.
type Options struct {
	// Prefix is put in front of every key chisess hands to the store, so
	// that sessions can share a Redis database with other data and be told
	// apart from it. The default, "", means [DefaultPrefix],
	// "chisess:session:". Change it to keep several apps, or test runs,
	// apart in one database.
	//
	// It must be valid UTF-8 without spaces or control characters, and
	// must not hold a Redis Cluster hash tag (a "{" followed later by "}"
	// with something in between), which would put every session in one
	// hash slot.
	Prefix string

	// CacheFor is the longest a session stays in the local cache after it
	// was read or written. The server's invalidations remove a changed or
	// deleted session long before that; CacheFor only bounds how long an
	// idle entry keeps its memory. An entry never outlives its key's TTL
	// on the server, whatever CacheFor says. The default, 0, means
	// [DefaultCacheFor]; a negative value is an error.
	CacheFor time.Duration

	// CacheEntries is the most sessions the local cache holds, and
	// CacheBytes the most bytes, counting each session as its key, its
	// value and 128 bytes. When either is reached, the least recently used
	// sessions are dropped (they are read from Redis again when next
	// needed). A cache of more than 511 entries is split into up to 16
	// shards, each with a lock and a share of both bounds, and the order
	// is least recently used within a shard. The defaults, 0, mean
	// [DefaultCacheEntries] and [DefaultCacheBytes]; a negative value is
	// an error. Raise them when [Store.Stats] shows evictions and a hit
	// ratio below what the traffic should give.
	CacheEntries int
	CacheBytes   int

	// NoNativeCompare makes [Store.Swap] always use its Lua script, even
	// on a server that has a native conditional set (Redis 8.4 or later,
	// Valkey 8.1 or later: SET … IFEQ). The default, false, uses the
	// native command where [New] finds it on every node. Set it only to
	// compare the two, or to work around a server that announces a
	// version it does not implement.
	NoNativeCompare bool
}

// Store is a [backend.Backend] over Redis, Valkey or Redis Cluster that
// keeps the sessions it reads in a local cache, kept coherent by the
// server (RESP3 client tracking), through a rueidis client that it owns.
// It is also a [backend.Swapper] and a [backend.Indexer]. It is safe for
// concurrent use by any number of goroutines and processes.
//
// A read of a session in the cache sends nothing to Redis. Every write is
// one round trip. Create it with [New], and [Store.Close] it when the app
// shuts down.
type Store struct {
	client   rueidis.Client
	prefix   string
	cacheFor time.Duration
	native   bool // SET … IFEQ on every node
	cache    *cache
}

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Swapper = (*Store)(nil)
	_ backend.Indexer = (*Store)(nil)
)

// New connects to the Redis that opt names with rueidis.NewClient and
// returns a [Store] on that client, keeping sessions under opts.Prefix.
// The Store owns the client: [Store.Close] closes it.
//
// New sets three fields of opt and leaves the others as given:
// PipelineMultiplex to -1, so that rueidis sends every command for one
// server over one connection; ClientTrackingOptions to BCAST, PREFIX and
// the prefix, and NOLOOP, so that the server pushes an invalidation for
// every change another client makes to a key under the prefix; and
// OnInvalidations, which applies those pushes to the Store's cache (see
// the package doc). It returns an error wrapping [ErrInvalidOptions] when
// opt sets one of the last two, or turns off what the cache needs
// (DisableCache, which also turns off tracking, AlwaysRESP2,
// DisableAutoPipelining), or when a
// field of opts is invalid, and the error of rueidis.NewClient when the
// server cannot be reached or does not speak RESP3 (Redis before 6.0).
//
// At start New asks every node for its version (INFO server) to find
// whether it has a native conditional set; ctx bounds that.
//
// Most applications pass the address and leave the rest:
//
//	store, err := rueidisbackend.New(ctx, rueidis.ClientOption{InitAddress: []string{"localhost:6379"}}, rueidisbackend.Options{})
func New(ctx context.Context, opt rueidis.ClientOption, opts Options) (*Store, error) {
	if err := checkClientOption(opt); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := rediskit.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: Options.Prefix %q %v; pass printable text with no spaces and no {hash tag}, such as %q, or leave it empty for %q",
			ErrInvalidOptions, prefix, err, "myapp:session:", DefaultPrefix)
	}
	cacheFor, err := orDefault("CacheFor", opts.CacheFor, DefaultCacheFor)
	if err != nil {
		return nil, err
	}
	entries, err := orDefault("CacheEntries", opts.CacheEntries, DefaultCacheEntries)
	if err != nil {
		return nil, err
	}
	size, err := orDefault("CacheBytes", opts.CacheBytes, DefaultCacheBytes)
	if err != nil {
		return nil, err
	}
	s := &Store{prefix: prefix, cacheFor: cacheFor, cache: newCache(entries, size)}
	opt.PipelineMultiplex = -1
	opt.ClientTrackingOptions = []string{"BCAST", "PREFIX", prefix, "NOLOOP"}
	opt.OnInvalidations = s.invalidated
	if s.client, err = rueidis.NewClient(opt); err != nil {
		return nil, fmt.Errorf("chisess: rueidisbackend.New: %w", err)
	}
	if !opts.NoNativeCompare {
		if s.native, err = nativeCompare(ctx, s.client); err != nil {
			s.client.Close()
			return nil, fmt.Errorf("chisess: rueidisbackend.New: ask the server's version: %w", err)
		}
	}
	return s, nil
}

// orDefault returns v, or def when v is zero, or an error naming the
// field when v is negative.
func orDefault[T int | time.Duration](field string, v, def T) (T, error) {
	switch {
	case v < 0:
		return 0, fmt.Errorf("%w: Options.%s is %v; pass a positive value, or 0 for %v", ErrInvalidOptions, field, v, def)
	case v == 0:
		return def, nil
	}
	return v, nil
}

// checkClientOption returns why opt cannot serve a caching Store, or nil.
func checkClientOption(opt rueidis.ClientOption) error {
	switch {
	case opt.DisableCache:
		return errors.New("ClientOption.DisableCache is true; leave it false: it turns off the client tracking the Store's cache needs")
	case opt.AlwaysRESP2:
		return errors.New("ClientOption.AlwaysRESP2 is true; leave it false: invalidations need RESP3")
	case opt.DisableAutoPipelining:
		return errors.New("ClientOption.DisableAutoPipelining is true; leave it false: it sends commands on pooled connections, where no invalidation is read")
	case opt.ClientTrackingOptions != nil:
		return errors.New("ClientOption.ClientTrackingOptions is set; leave it nil: the Store sets it")
	case opt.OnInvalidations != nil:
		return errors.New("ClientOption.OnInvalidations is set; leave it nil: the Store sets it")
	}
	return nil
}

// invalidated applies the server's invalidation of keys, Redis keys under
// the prefix, to the cache. rueidis calls it on the goroutine that reads
// the connection, before it hands on any reply that follows the push, and
// with nil when the server flushed its database or the connection was
// lost, when invalidations may have been missed: then the whole cache
// goes.
func (s *Store) invalidated(keys []rueidis.RedisMessage) {
	if keys == nil {
		s.cache.flush()
		return
	}
	for _, m := range keys {
		if k, err := m.ToString(); err == nil {
			if key, ok := strings.CutPrefix(k, s.prefix); ok {
				s.cache.invalidate(key)
			}
		}
	}
}

// Stats returns what the Store's local cache did since [New]: reads served
// from it and reads that asked Redis, the sessions it holds, and how many
// it dropped and why. It is cheap enough to export as metrics.
func (s *Store) Stats() Stats { return s.cache.stats() }

// CacheStats returns the hits and misses of [Store.Stats], for
// instrumentation that counts the cache of any backend that has one (the
// otelchisess module's CacheReporter).
func (s *Store) CacheStats() (hits, misses int64) {
	st := s.cache.stats()
	return int64(st.Hits), int64(st.Misses)
}

// NativeCompare reports whether [Store.Swap] replaces a session with the
// server's own conditional set (SET … IFEQ), found by [New] on every node,
// rather than with a Lua script.
func (s *Store) NativeCompare() bool { return s.native }

// Sync returns once this Store has applied every invalidation for the
// changes that any client completed before Sync was called: a change made
// through another app server's Store and answered before Sync began is
// seen by every Read here after Sync returns. It sends one PING to each
// node the client knows, on the connection that carries that node's
// invalidations; the server sends an invalidation before any reply it
// queues later on the same connection, so when the PING's reply is in,
// the invalidation has been applied.
//
// Most applications never call it: an invalidation arrives within the
// invalidation delay (docs/backends.md) on its own. Call it where a
// request must see a change that it knows another app server completed
// just before, or in tests that run two app servers. Failures are wrapped
// as "chisess: redis sync: …".
func (s *Store) Sync(ctx context.Context) error {
	for _, node := range s.client.Nodes() {
		if err := node.Do(ctx, node.B().Ping().Build()).Error(); err != nil {
			return rediskit.OpError(ctx, "sync", err)
		}
	}
	return nil
}

// Close closes the client, and with it the local cache. Calls after
// Close fail.
func (s *Store) Close() { s.client.Close() }

// Read implements [backend.Backend]. A session in the local cache is
// returned with no round trip. Otherwise Read is one round trip (GET and
// PTTL, pipelined) and caches what it read until the server says the key
// changed, its TTL ends, [Options.CacheFor] passes, the cache needs the
// room, or the connection is lost. It returns [backend.ErrNotFound] when
// the key is absent or expired (an absent key is not cached), and any
// other failure wrapped as "chisess: redis read: …". The returned slice is
// the caller's to keep.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, rediskit.OpError(ctx, "read", err)
	}
	now := s.cache.now()
	if v, ok := s.cache.get(key, now); ok {
		return bytes.Clone(v), nil
	}
	sl := s.cache.begin(key)
	k := s.prefix + key
	res := s.client.DoMulti(ctx, s.client.B().Get().Key(k).Build(), s.client.B().Pttl().Key(k).Build())
	data, err := res[0].AsBytes()
	if err != nil {
		s.cache.end(sl, false, nil, 0)
		if rueidis.IsRedisNil(err) {
			return nil, backend.ErrNotFound
		}
		return nil, rediskit.OpError(ctx, "read", err)
	}
	// PTTL ran after GET: a key that has a TTL expires no earlier than
	// now, the time before both were sent, plus the TTL PTTL gives (-1:
	// no TTL; -2: gone since the GET, not cached; an error: not cached).
	ms, err := res[1].AsInt64()
	keep := err == nil && ms >= -1
	ttl := s.cacheFor
	if ms >= 0 {
		ttl = min(ttl, time.Duration(ms)*time.Millisecond)
	}
	s.cache.end(sl, keep, data, now+ttl)
	return bytes.Clone(data), nil
}

// Write implements [backend.Backend] with one round trip: SET key data PX
// ttl (a ttl of zero or less: DEL). The ttl is rounded up to a whole
// millisecond. The cache then holds data, so that a Read here sees the
// write at once. Failures are wrapped as "chisess: redis write: …".
func (s *Store) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	k := s.prefix + key
	var cmd rueidis.Completed
	if ttl > 0 {
		cmd = s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).PxMilliseconds(rediskit.PxMillis(ttl)).Build()
	} else {
		cmd = s.client.B().Del().Key(k).Build()
	}
	now, sl := s.cache.now(), s.cache.begin(key)
	err := s.client.Do(ctx, cmd).Error()
	s.wrote(sl, err == nil && ttl > 0, data, now, ttl)
	if err != nil {
		return rediskit.OpError(ctx, "write", err)
	}
	return nil
}

// wrote ends the cache's record of a change to sl's key begun at now:
// with set, the key now holds data for ttl, and the cache keeps a copy of
// it; without, it holds nothing or what it holds is unknown. The server
// sends this client no invalidation for its own change (NOLOOP), so
// nothing else removes what this stores; an invalidation of another
// client's change that arrives while the change is in flight, or a second
// call of this Store on the same key, makes the cache keep nothing.
func (s *Store) wrote(sl *slot, set bool, data []byte, now, ttl time.Duration) {
	if !set {
		s.cache.end(sl, false, nil, 0)
		return
	}
	s.cache.end(sl, true, bytes.Clone(data), now+min(ttl, s.cacheFor))
}

// Delete implements [backend.Backend] with one round trip: DEL. A missing
// or expired key is not an error. Failures are wrapped as "chisess: redis
// delete: …".
func (s *Store) Delete(ctx context.Context, key string) error {
	sl := s.cache.begin(key)
	err := s.client.Do(ctx, s.client.B().Del().Key(s.prefix+key).Build()).Error()
	s.cache.end(sl, false, nil, 0)
	if err != nil {
		return rediskit.OpError(ctx, "delete", err)
	}
	return nil
}
