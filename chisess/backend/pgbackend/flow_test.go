package pgbackend_test

import (
	"context"
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/flowtest"
)

// Every feature flow (token header, RenewEvery, events, typed keys,
// remember-me, owner index) through two app servers (two pools, two
// Stores, two managers) on one table (see internal/flowtest).
func TestFeatureFlows(t *testing.T) {
	flowtest.Run(t, func(t *testing.T) (backend.Backend, backend.Backend) {
		d := newTestDB(t)
		a := d.open(t, pgbackend.Options{})
		b, err := pgbackend.New(context.Background(), pgPool(t), pgbackend.Options{Table: d.table, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b
	})
}
