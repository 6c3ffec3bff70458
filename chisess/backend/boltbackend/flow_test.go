package boltbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/flowtest"
)

// Every feature flow (token header, RenewEvery, events, typed keys,
// remember-me, owner index) through two managers on one file (see
// internal/flowtest). bbolt locks its file to one process, so both
// managers share one Store, as they would in one app server.
func TestFeatureFlows(t *testing.T) {
	flowtest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		s := open(t, boltbackend.Options{})
		return s, s
	})
}
