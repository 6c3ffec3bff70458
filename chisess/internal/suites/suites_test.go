package suites_test

import (
	"testing"

	"github.com/chisess/kit/chisess/internal/flowtest"
	"github.com/chisess/kit/chisess/internal/outagetest"
	"github.com/chisess/kit/chisess/internal/promisetest"
	"github.com/chisess/kit/chisess/internal/racetest"
	"github.com/chisess/kit/chisess/internal/swaptest"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestConformance runs the rules every key-value backend must follow,
// with a fresh store per rule. It runs on the real clock (RunConformance
// calls t.Run, which cannot run inside synctest); its expiry rules each
// wait for one 50ms TTL.
func TestConformance(t *testing.T) {
	for _, sub := range subjects {
		t.Run(sub.name, func(t *testing.T) {
			t.Parallel()
			sub.ready(t)
			sessiontest.RunConformance(t, sub.fresh)
		})
	}
}

// TestFeatureFlows runs every feature flow (token header, RenewEvery,
// events, typed keys, remember-me, owner index) through two managers on
// one store, as two app servers would run them.
func TestFeatureFlows(t *testing.T) {
	for _, sub := range subjects {
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			flowtest.Run(t, sub.twoHandles())
		})
	}
}

// TestConcurrentRequests: concurrent requests on one session, through two
// managers, lose no update, and a destroyed or renewed session never comes
// back. A store with only the base methods runs only the second half: it
// reads again before writing, but between concurrent writers the last one
// wins.
func TestConcurrentRequests(t *testing.T) {
	for _, sub := range subjects {
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			if sub.baseOnly {
				racetest.RunEnding(t, sub.twoHandles())
				return
			}
			racetest.Run(t, sub.twoHandles())
		})
	}
}

// TestPromises tries, on every store, the promises that were once broken
// by people who did not write them, the way each broke: a logout racing a
// renewal, log out everywhere racing one, managers sharing a store, the
// largest session read back, a merge past the limits, concurrent flashes,
// the refresh of an ended session, the cookie's Expires, a request outside
// the cookie's Path (see internal/promisetest).
func TestPromises(t *testing.T) {
	for _, sub := range subjects {
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			promisetest.Run(t, sub.twoHandles())
		})
	}
}

// TestOutageAndRecovery takes the server of each networked store away from
// chisess and brings it back, through a proxy: during the
// outage, routes that never load the session still answer, s.Load returns
// an error wrapping the client's, Require answers through ErrorHandler
// rather than redirecting to login, and a failed commit sets no cookie;
// afterwards the next request works with the session as it was.
func TestOutageAndRecovery(t *testing.T) {
	for _, sub := range subjects {
		if sub.outage == nil {
			continue
		}
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			targets, open := sub.outage(t)
			outagetest.Run(t, targets, open)
		})
	}
}

// TestSwap runs every case of the Swapper contract on the stores whose
// clock a test can move, each case on a fresh store, and counts what is
// left in storage, expired records included.
func TestSwap(t *testing.T) {
	for _, sub := range subjects {
		if sub.swap == nil {
			continue
		}
		t.Run(sub.name, func(t *testing.T) {
			t.Parallel()
			sub.ready(t)
			swaptest.Run(t, sub.swap, sub.swapExtra...)
		})
	}
}
