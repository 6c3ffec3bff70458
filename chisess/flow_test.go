package chisess_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/flowtest"
)

// Every feature flow (token header, RenewEvery, events, typed keys,
// remember-me, owner index) through two managers on one memory store (see
// internal/flowtest). The same flows run on Redis, PostgreSQL and bbolt.
func TestFeatureFlows(t *testing.T) {
	flowtest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		m := backend.NewMemoryWithCleanup(0)
		return m, m
	})
}

// The same flows on a store with only the three base methods: the owner
// index answers ErrNoOwnerIndex, and the rest must work as on any store.
func TestFeatureFlowsWithoutOptionalInterfaces(t *testing.T) {
	flowtest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		b := baseOnly{backend.NewMemoryWithCleanup(0)}
		return b, b
	})
}
