package redisbackend_test

import (
	"context"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// TestCountKeepsToItsPrefix: Count counts the sessions under the Store's
// own prefix, on every node of a Cluster, and none of a prefix that its
// own would match as a SCAN pattern if it were not escaped ("x*:" matches
// "xy:", "[a]:" matches "a:"), nor the owner index.
func TestCountKeepsToItsPrefix(t *testing.T) {
	tests := []struct {
		name   string
		client func(testing.TB) redis.UniversalClient
	}{
		{"standalone", redisClient},
		{"cluster", func(tb testing.TB) redis.UniversalClient { return clusterClient(tb) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			client := tt.client(t)
			base := testPrefix()
			// Each prefix and how many sessions it gets; the second of
			// each pair is what the first would match unescaped.
			stores := []struct {
				suffix string
				n      int
			}{{"x*:", 12}, {"xy:", 5}, {"[a]?:", 7}, {"ab:", 3}, {`\:`, 2}}
			for _, st := range stores {
				s, err := redisbackend.New(client, redisbackend.Options{Prefix: base + st.suffix})
				is.NoErr(err) // New with a prefix holding glob characters
				for range st.n {
					k := testkey.New()
					is.NoErr(s.Write(ctx, k, []byte("session"), time.Hour)) // Write
					is.NoErr(s.Index(ctx, "ada", k, time.Hour))             // Index
					t.Cleanup(func() { _ = s.Delete(context.Background(), k); _ = s.Unindex(context.Background(), "ada", k) })
				}
			}
			for _, st := range stores {
				s, _ := redisbackend.New(client, redisbackend.Options{Prefix: base + st.suffix})
				n, err := s.Count(ctx)
				is.NoErr(err)            // Count
				is.Equal(n, int64(st.n)) // Count of the sessions under base+suffix, none of another prefix or of the index
			}
		})
	}
}
