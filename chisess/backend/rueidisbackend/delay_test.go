package rueidisbackend_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/matryer/is"
)

// TestInvalidationDelay measures how long app server B's cache serves a
// session after app server A changed or deleted it: from the moment A's
// write returns to the first read on B that sees it, over 200 changes, and
// logs the median and the 99th percentile (docs/backends.md quotes them).
// An invalidation is a push that arrives when it arrives, so B polls, for
// at most a second per change.
func TestInvalidationDelay(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			addrs, prefix := top.addrs(t), testPrefix()
			a, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
			b, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
			ctx := t.Context()
			const n = 200
			delays := make([]time.Duration, 0, n)
			for i := range n {
				key := fmt.Sprintf("k%d", i)
				is.NoErr(a.Write(ctx, key, []byte("v1"), time.Minute))
				got, err := b.Read(ctx, key) // B caches it
				is.NoErr(err)
				is.Equal(string(got), "v1")
				if i%2 == 0 {
					is.NoErr(a.Write(ctx, key, []byte("v2"), time.Minute)) // a change
				} else {
					is.NoErr(a.Delete(ctx, key)) // a logout
				}
				done := time.Now()
				for {
					got, err := b.Read(ctx, key)
					if errors.Is(err, backend.ErrNotFound) || err == nil && string(got) == "v2" {
						break
					}
					is.NoErr(err) // B's read fails only with ErrNotFound
					if time.Since(done) > time.Second {
						t.Fatalf("change %d: B still serves the old session a second later", i)
					}
				}
				delays = append(delays, time.Since(done))
			}
			slices.Sort(delays)
			t.Logf("invalidation delay over %d changes: p50 %v, p99 %v, max %v", n, delays[n/2], delays[n*99/100], delays[n-1])
		})
	}
}
