package rueidisbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chisess/kit/chisess/backend"
	"github.com/redis/rueidis"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty. A
// session whose chisess key is k is stored under the Redis key
// "chisess:session:" + k.
const DefaultPrefix = "chisess:session:"

// DefaultCacheFor is the longest a session read stays in the local cache
// when [Options.CacheFor] is zero.
const DefaultCacheFor = 5 * time.Minute

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

	// CacheFor is the longest a session that was read stays in the local
	// cache. The server's invalidations remove a changed or deleted
	// session long before that; CacheFor only bounds how long an idle
	// entry keeps its memory, and never lets an entry outlive its key's
	// TTL on the server. The default, 0, means [DefaultCacheFor]; a
	// negative value is an error. The size of the cache is bounded by
	// rueidis.ClientOption.CacheSizeEachConn (bytes, least recently used
	// first out).
	CacheFor time.Duration

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
// New sets opt.PipelineMultiplex to -1, so that rueidis sends every
// command for one server over one connection, on which the server's
// invalidations arrive in order with the replies (see the package doc);
// it leaves every other field as given. It returns an error wrapping
// [ErrInvalidOptions] when opt turns off what the cache needs
// (DisableCache, AlwaysRESP2, DisableAutoPipelining) or when a field of
// opts is invalid, and the error of rueidis.NewClient when the server
// cannot be reached or does not speak RESP3 (Redis before 6.0).
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
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: Options.Prefix %q %v; pass printable text with no spaces and no {hash tag}, such as %q, or leave it empty for %q",
			ErrInvalidOptions, prefix, err, "myapp:session:", DefaultPrefix)
	}
	cacheFor := opts.CacheFor
	switch {
	case cacheFor < 0:
		return nil, fmt.Errorf("%w: Options.CacheFor is %v; pass a positive duration, or 0 for %v", ErrInvalidOptions, cacheFor, DefaultCacheFor)
	case cacheFor == 0:
		cacheFor = DefaultCacheFor
	}
	opt.PipelineMultiplex = -1
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("chisess: rueidisbackend.New: %w", err)
	}
	s := &Store{client: client, prefix: prefix, cacheFor: cacheFor}
	if !opts.NoNativeCompare {
		if s.native, err = nativeCompare(ctx, client); err != nil {
			client.Close()
			return nil, fmt.Errorf("chisess: rueidisbackend.New: ask the server's version: %w", err)
		}
	}
	return s, nil
}

// checkClientOption returns why opt cannot serve a caching Store, or nil.
func checkClientOption(opt rueidis.ClientOption) error {
	switch {
	case opt.DisableCache:
		return errors.New("ClientOption.DisableCache is true; leave it false: the Store caches reads")
	case opt.AlwaysRESP2:
		return errors.New("ClientOption.AlwaysRESP2 is true; leave it false: invalidations need RESP3")
	case opt.DisableAutoPipelining:
		return errors.New("ClientOption.DisableAutoPipelining is true; leave it false: writes must share the connection that carries the invalidations")
	}
	return nil
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
			return opError(ctx, "sync", err)
		}
	}
	return nil
}

// Close closes the client, and with it the local cache. Calls after
// Close fail.
func (s *Store) Close() { s.client.Close() }

// checkPrefix returns why prefix cannot be used, or nil.
func checkPrefix(prefix string) error {
	if !utf8.ValidString(prefix) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range prefix {
		switch {
		case r == ' ':
			return errors.New("contains a space")
		case unicode.IsSpace(r):
			return fmt.Errorf("contains the white-space character %U", r)
		case unicode.IsControl(r):
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	if i := strings.IndexByte(prefix, '{'); i >= 0 {
		if j := strings.IndexByte(prefix[i+1:], '}'); j > 0 {
			return errors.New("contains a Redis Cluster hash tag {…}, which would put every session in one hash slot")
		}
	}
	return nil
}

// Read implements [backend.Backend]. A session in the local cache is
// returned with no round trip; otherwise Read is one round trip (GET, with
// PTTL, in a MULTI that asks the server to track the key), and the
// session is cached until the server says it changed, its key's TTL ends,
// [Options.CacheFor] passes, or the connection is lost. It returns
// [backend.ErrNotFound] when the key is absent or expired (an absent key
// is not cached), and any other failure wrapped as "chisess: redis read:
// …". The returned slice is the caller's to keep.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError(ctx, "read", err)
	}
	cmd := s.client.B().Get().Key(s.prefix + key).Cache()
	// ToString shares its bytes with the cached reply; the conversion to
	// []byte copies them, so the caller cannot change the cache.
	data, err := s.client.DoCache(ctx, cmd, s.cacheFor).ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, backend.ErrNotFound
		}
		return nil, opError(ctx, "read", err)
	}
	return []byte(data), nil
}

// Write implements [backend.Backend] with one round trip: SET key data PX
// ttl (a ttl of zero or less: DEL), with a fence (see the package doc).
// The ttl is rounded up to a whole millisecond. Failures are wrapped as
// "chisess: redis write: …".
func (s *Store) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	k := s.prefix + key
	var cmd rueidis.Completed
	if ttl <= 0 {
		cmd = s.client.B().Del().Key(k).Build()
	} else {
		cmd = s.client.B().Set().Key(k).Value(rueidis.BinaryString(data)).PxMilliseconds(pxMillis(ttl)).Build()
	}
	if err := s.fenced(ctx, k, cmd).Error(); err != nil {
		return opError(ctx, "write", err)
	}
	return nil
}

// Delete implements [backend.Backend] with one round trip: DEL, with a
// fence. A missing or expired key is not an error. Failures are wrapped as
// "chisess: redis delete: …".
func (s *Store) Delete(ctx context.Context, key string) error {
	k := s.prefix + key
	if err := s.fenced(ctx, k, s.client.B().Del().Key(k).Build()).Error(); err != nil {
		return opError(ctx, "delete", err)
	}
	return nil
}

// fenced sends cmd, which changes the key k, and right behind it in the
// same round trip a read of k that changes nothing (EXISTS), and returns
// cmd's result. Redis 7 sends the invalidation a client gets for its own
// change after the reply to the command that made it, but before the reply
// to the next one; rueidis applies an invalidation as it reads it. So once
// the fence's reply is in, the local cache no longer holds what cmd
// replaced, and a Read that follows this write on this Store finds it.
func (s *Store) fenced(ctx context.Context, k string, cmd rueidis.Completed) rueidis.RedisResult {
	res := s.client.DoMulti(ctx, cmd, s.client.B().Exists().Key(k).Build())
	if err := res[1].NonRedisError(); err != nil && res[0].Error() == nil {
		return res[1]
	}
	return res[0]
}

// pxMillis returns a positive ttl in whole milliseconds for PX, rounded
// up, so that a record never expires early.
func pxMillis(ttl time.Duration) int64 {
	ms := ttl.Milliseconds()
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// opError wraps err, the failure of a Redis call made for op, as
// "chisess: redis op: …". When ctx is done but err does not say so, the
// error wraps ctx.Err() as well, so that errors.Is finds both.
func opError(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("chisess: redis %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("chisess: redis %s: %w", op, err)
}
