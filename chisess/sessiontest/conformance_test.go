package sessiontest_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestRunConformanceMemory runs the suite against the memory backend with and
// without its janitor.
//
// It runs on the real clock, not inside synctest.Test: RunConformance calls
// t.Run, and t.Run panics inside a synctest bubble ("t.Run called inside
// synctest bubble", testing/testing.go, Go 1.26). Only the six expiry rules
// (ttl-expiry, ttl-reset-on-overwrite, swap-expired-does-not-revive,
// swap-ttl, index-ttl and index-extend) wait, each for one 50ms TTL, so the
// suite still takes about 0.3s.
// conformance_internal_test.go runs the same rules in a bubble.
func TestRunConformanceMemory(t *testing.T) {
	tests := []struct {
		name      string
		newMemory func() *backend.Memory
	}{
		{"default janitor", backend.NewMemory},
		{"no janitor", func() *backend.Memory { return backend.NewMemoryWithCleanup(0) }},
		// A janitor that sweeps all the time races every rule.
		{"busy janitor", func() *backend.Memory { return backend.NewMemoryWithCleanup(time.Millisecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
				is := is.New(t)
				m := tt.newMemory()
				t.Cleanup(func() {
					is.NoErr(m.Close()) // Close stops the janitor
				})
				return m
			})
		})
	}
}
