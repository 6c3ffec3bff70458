package boltbackend_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestConformance runs the suite every chisess backend must pass, with a
// fresh file per rule. It runs on the real clock (the suite calls t.Run, so
// it cannot run inside synctest) with the default Options.Now; its two
// expiry rules each wait for one 50ms TTL.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		opts boltbackend.Options
	}{
		// The defaults, fsync included: the Store as it runs in production.
		{"defaults", boltbackend.Options{}},
		{"no sweeper", boltbackend.Options{SweepInterval: -1, NoSync: true}},
		// A sweeper that sweeps all the time, in batches of one, races every rule.
		{"busy sweeper", boltbackend.Options{SweepInterval: time.Millisecond, SweepBatch: 1, NoSync: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
				is := is.New(t)
				s, err := boltbackend.Open(tempPath(t), tt.opts)
				is.NoErr(err) // Open a fresh file
				t.Cleanup(func() {
					is.NoErr(s.Close()) // Close stops the sweeper and closes the file
				})
				return s
			})
		})
	}
}
