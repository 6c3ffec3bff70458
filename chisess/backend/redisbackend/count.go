package redisbackend

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/rediskit"
	"github.com/redis/go-redis/v9"
)

var _ backend.Counter = (*Store)(nil)

// countBatch is the COUNT hint of each SCAN call: how many keys of the
// keyspace the server examines per call, so one call never blocks it for
// long.
const countBatch = 1000

// Count implements [backend.Counter]: it lists the keys under the Store's
// prefix with SCAN … MATCH prefix* TYPE string, which leaves out the owner
// index (sorted sets), and counts each once. Redis deletes expired keys by
// itself and SCAN skips those past their expiry, so only live sessions
// count. With a Redis Cluster client it scans every master node; with a
// Ring, every shard.
//
// SCAN walks the whole keyspace of each node in steps of about 1,000
// keys, so Count is slow on a large database and meant for admin tools,
// not requests. SCAN may return a key more than once while the server
// resizes its tables; Count remembers an 8-byte hash of each key it has
// seen so that no key counts twice. It needs Redis 6.0 or later (SCAN …
// TYPE). Failures are wrapped as "chisess: redis count: …".
func (s *Store) Count(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, rediskit.OpError(ctx, "count", err)
	}
	var (
		mu    sync.Mutex
		total int64
	)
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		n, err := s.countNode(ctx, c)
		mu.Lock()
		total += n
		mu.Unlock()
		return err
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	default:
		err = scan(ctx, c)
	}
	if err != nil {
		return 0, rediskit.OpError(ctx, "count", err)
	}
	return total, nil
}

// countNode counts the session keys of one node.
func (s *Store) countNode(ctx context.Context, c redis.UniversalClient) (int64, error) {
	seed := maphash.MakeSeed()
	seen := make(map[uint64]struct{})
	iter := c.ScanType(ctx, 0, globEscape(s.prefix)+"*", countBatch, "string").Iterator()
	for iter.Next(ctx) {
		seen[maphash.String(seed, iter.Val())] = struct{}{}
	}
	return int64(len(seen)), iter.Err()
}

// globEscape returns prefix with the characters that SCAN's MATCH pattern
// treats specially escaped, so that the pattern matches prefix literally.
func globEscape(prefix string) string {
	var b strings.Builder
	for _, r := range prefix {
		if strings.ContainsRune(`\*?[]`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
