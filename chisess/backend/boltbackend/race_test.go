package boltbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/promisetest"
	"github.com/chisess/kit/chisess/internal/racetest"
)

// Concurrent requests on one session lose no update and cannot bring back
// a destroyed or renewed session (see internal/racetest).
func TestConcurrentRequestsLoseNothing(t *testing.T) {
	racetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		s := open(t, boltbackend.Options{})
		return s, s
	})
}

// The promises every server-side backend keeps, tried the way they once
// broke (see internal/promisetest).
func TestPromisesHold(t *testing.T) {
	promisetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		s := open(t, boltbackend.Options{})
		return s, s
	})
}
