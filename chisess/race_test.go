package chisess_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/racetest"
)

func TestConcurrentRequestsLoseNothing(t *testing.T) {
	racetest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		m := backend.NewMemoryWithCleanup(0)
		return m, m
	})
}

// A backend with only the three base methods still keeps a destroyed
// session dead against a slow writer (it reads again before writing), but
// between concurrent writers the last one wins.
func TestBaseBackendKeepsDestroyedSessionDead(t *testing.T) {
	racetest.RunEnding(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		b := baseOnly{backend.NewMemoryWithCleanup(0)}
		return b, b
	})
}

// baseOnly hides every optional interface of the backend it wraps.
type baseOnly struct{ backend.Backend }
