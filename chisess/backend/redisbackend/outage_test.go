package redisbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/outagetest"
	"github.com/redis/go-redis/v9"
)

// TestOutageAndRecovery takes the single-node Redis at CHISESS_REDIS_ADDR
// away from chisess and brings it back, through a proxy (see
// internal/outagetest): during the outage, routes that never load the
// session still answer, s.Load returns an error wrapping the client's,
// Require answers through ErrorHandler rather than redirecting to login,
// and a failed commit sets no cookie; afterwards the next request works
// with the session as it was.
//
// go-redis finds the connections the outage closed by itself: it checks a
// pooled connection before handing it out.
func TestOutageAndRecovery(t *testing.T) {
	target := requireService(t, "CHISESS_REDIS_ADDR", "host:port")
	outagetest.Run(t, target, func(t *testing.T, addr string) backend.Backend {
		client := redis.NewClient(&redis.Options{
			Addr:                  addr,
			ContextTimeoutEnabled: true, // as the package doc advises
			// One attempt per command. By default (0 means 3) go-redis
			// retries a closed connection with back-off, which only
			// makes each failing request take about half a second.
			MaxRetries: -1,
		})
		t.Cleanup(func() { _ = client.Close() })
		store, _ := newStore(t, client)
		return store
	})
}
