package modeltest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/suites/modeltest"
)

// blindSwap is a broken backend: its Swap writes without comparing, as a
// store whose compare-and-swap is not atomic (or not there) would.
type blindSwap struct{ *backend.Memory }

func (b blindSwap) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if data == nil {
		return true, b.Delete(ctx, key)
	}
	return true, b.Write(ctx, key, data, ttl)
}

// lostUpdates are the options of the two tests below: histories of gets,
// sets and deletes, without periodic renewals, checking the data only.
func lostUpdates() modeltest.Options {
	return modeltest.Options{
		N:         1000,
		Without:   []modeltest.Kind{modeltest.Login, modeltest.Clear, modeltest.AddFlash, modeltest.Flashes, modeltest.Logout, modeltest.RenewID, modeltest.DestroyOwner, modeltest.OtherApp, modeltest.SetLifetime},
		Configure: func(c *modeltest.Config) { c.RenewEvery = 0 },
	}
}

// TestModelFindsLostUpdate feeds the checker a backend whose Swap always
// succeeds, and checks that the data property catches the update it loses:
// two requests that set different keys of one session at the same time,
// the second commit overwriting the first.
func TestModelFindsLostUpdate(t *testing.T) {
	open := func() backend.Backend { return blindSwap{backend.NewMemoryWithCleanup(0)} }
	rep := modeltest.Find(t, open, lostUpdates())
	if !strings.Contains(rep, "VIOLATION data:") {
		t.Fatalf("the checker did not report a lost update on a Swap that never compares; it reported:\n%s", rep)
	}
	t.Logf("as expected:\n%s", rep)
}

// TestModelPassesSoundSwap runs the same histories on the memory backend,
// whose Swap compares: the lost update above is the broken Swap's.
func TestModelPassesSoundSwap(t *testing.T) {
	modeltest.Check(t, func() backend.Backend { return backend.NewMemoryWithCleanup(0) }, lostUpdates())
}
