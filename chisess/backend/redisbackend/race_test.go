package redisbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/internal/promisetest"
	"github.com/chisess/kit/chisess/internal/racetest"
	"github.com/redis/go-redis/v9"
)

// Two app servers, each with its own client and manager, on one Redis:
// concurrent requests lose no update, a session created through one is
// used and destroyed through the other, and a destroyed or renewed session
// never comes back (see internal/racetest).
func TestTwoServersLoseNothing(t *testing.T) {
	racetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		return twoStores(t, redisClient(t), redisClient(t))
	})
}

// The same on a three-node Redis Cluster.
func TestTwoServersLoseNothingOnCluster(t *testing.T) {
	racetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		return twoStores(t, clusterClient(t), clusterClient(t))
	})
}

// The promises every server-side backend keeps, tried the way they once
// broke (see internal/promisetest), on one Redis and on the Cluster.
func TestPromisesHold(t *testing.T) {
	promisetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		return twoStores(t, redisClient(t), redisClient(t))
	})
}

func TestPromisesHoldOnCluster(t *testing.T) {
	promisetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		return twoStores(t, clusterClient(t), clusterClient(t))
	})
}

func twoStores(t *testing.T, a, b redis.UniversalClient) (backend.Backend, backend.Backend) {
	t.Helper()
	prefix := testPrefix()
	sa, err := redisbackend.New(a, redisbackend.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := redisbackend.New(b, redisbackend.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return sa, sb
}
