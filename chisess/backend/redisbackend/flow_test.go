package redisbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/flowtest"
)

// Every feature flow (token header, RenewEvery, events, typed keys,
// remember-me, owner index) through two app servers, each with its own
// client and manager, on one single-node Redis (see internal/flowtest).
func TestFeatureFlows(t *testing.T) {
	flowtest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		return twoStores(t, redisClient(t), redisClient(t))
	})
}

// The same on a three-node Redis Cluster, where a session's key and its
// owner's index live in different hash slots, usually on different nodes.
func TestFeatureFlowsOnCluster(t *testing.T) {
	flowtest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		return twoStores(t, clusterClient(t), clusterClient(t))
	})
}
