package rueidisbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestConformance holds the Store to the contract of every backend, on a
// single node and on a cluster.
func TestConformance(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			addrs := top.addrs(t)
			sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
				s, _ := openStore(t, addrs, "", rueidisbackend.Options{})
				return s
			})
		})
	}
}
