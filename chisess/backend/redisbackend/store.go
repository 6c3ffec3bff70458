package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/rediskit"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty. A
// session whose chisess key is k is stored under the Redis key
// "chisess:session:" + k.
const DefaultPrefix = "chisess:session:"

// ErrInvalidOptions is returned by [New] when a field of [Options] is
// invalid. The wrapping error names the field, for example
// `chisess: invalid redis options: Options.Prefix "a b" contains a space`.
var ErrInvalidOptions = errors.New("chisess: invalid redis options")

// Options configures [New]. The zero value is a working configuration: keys
// under [DefaultPrefix].
type Options struct {
	// Prefix is put in front of every key chisess hands to the store, so
	// that sessions can share a Redis database with other data and be told
	// apart from it. The default, "",
	// means [DefaultPrefix], "chisess:session:". Change it to keep several
	// apps, or test runs, apart in one database.
	//
	// It must be valid UTF-8 without spaces or control characters. It must
	// not hold a Redis Cluster hash tag (a "{" followed later by "}" with
	// something in between): the tag would put every session in one hash
	// slot, and so on one node of a cluster.
	Prefix string
}

// Store is a [backend.Backend] over Redis, Valkey, Redis Sentinel or Redis
// Cluster, reached through a go-redis v9 [redis.UniversalClient], and a
// [backend.Swapper]: [Store.Swap] replaces a session only if it still holds
// what the caller read, and a [backend.Indexer]: an owner's sessions are
// listed from one sorted set, never by scanning. It is safe for concurrent use by any number of
// goroutines and processes.
//
// Each session is one Redis string key, prefix + key, written with a relative
// expiry (SET … PX), so it lives in one hash slot and every operation is a
// single command; for [Store.Swap], once the server has cached its script.
// Requests never list keys (no KEYS, no SCAN); only [Store.Count], for
// admin tools, scans.
//
// Create it with [New]. The Store does not own the client and has no Close
// method: the caller closes the client when the app shuts down.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Swapper = (*Store)(nil)
)

// New returns a [Store] that keeps sessions in client under opts.Prefix.
// It makes no Redis call, so a server that is down shows up at the first
// Read or Write, not here; ping the client first if start-up should fail
// fast.
//
// New returns an error for a nil client, and an error wrapping
// [ErrInvalidOptions] for a bad option; each names the argument or field
// and says what to pass instead.
//
// Most applications build the client with redis.NewClient,
// redis.NewFailoverClient (Sentinel), redis.NewClusterClient or
// redis.NewUniversalClient, and hand the Store to chisess.Config.Backend
// without calling its methods.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if isNilClient(client) {
		return nil, errors.New(`chisess: redisbackend.New: client is nil; pass the app's go-redis client, such as redis.NewClient(&redis.Options{Addr: "localhost:6379"})`)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := rediskit.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: Options.Prefix %q %v; pass printable text with no spaces and no {hash tag}, such as %q, or leave it empty for %q",
			ErrInvalidOptions, prefix, err, "myapp:session:", DefaultPrefix)
	}
	return &Store{client: client, prefix: prefix}, nil
}

// isNilClient reports whether client is nil, or a nil pointer of one of
// the go-redis client types in a non-nil interface, which would otherwise
// panic on the first request instead of at start-up.
func isNilClient(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

// Read implements [backend.Backend] with one GET. It returns
// [backend.ErrNotFound] when the key is absent or Redis has expired it, and
// any other failure (network, timeout, context, server error) wrapped as
// "chisess: redis read: …", never as ErrNotFound. The returned slice is the
// caller's to keep.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	data, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, backend.ErrNotFound
		}
		return nil, rediskit.OpError(ctx, "read", err)
	}
	return data, nil
}

// Write implements [backend.Backend] with one SET key data PX ttl. The
// expiry is relative, so Redis counts it on its own clock and a skew
// between the app's clock and the server's does not move it. A ttl that is
// not a whole number of milliseconds is rounded up, so a record never
// expires early. A ttl of zero or less deletes the key instead (one DEL),
// and a later Read reports ErrNotFound. Failures are wrapped as
// "chisess: redis write: …".
func (s *Store) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if ttl <= 0 {
		if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
			return rediskit.OpError(ctx, "write", err)
		}
		return nil
	}
	// The typed Set picks EX for whole seconds and logs a warning below one
	// millisecond; build the command so that it is always SET … PX ms.
	cmd := redis.NewStatusCmd(ctx, "set", s.prefix+key, data, "px", rediskit.PxMillis(ttl))
	if err := s.client.Process(ctx, cmd); err != nil {
		return rediskit.OpError(ctx, "write", err)
	}
	return nil
}

// Delete implements [backend.Backend] with one DEL. A missing or expired
// key is not an error. Failures are wrapped as "chisess: redis delete: …".
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return rediskit.OpError(ctx, "delete", err)
	}
	return nil
}
