package pgbackend_test

import (
	"context"
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/promisetest"
	"github.com/chisess/kit/chisess/internal/racetest"
)

// Two app servers (two pools, two Stores, two managers) on one table:
// concurrent requests lose no update, a session created through one is
// used and destroyed through the other, and a destroyed or renewed session
// never comes back (see internal/racetest).
func TestTwoServersLoseNothing(t *testing.T) {
	racetest.Run(t, twoServers)
}

// The promises every server-side backend keeps, tried the way they once
// broke (see internal/promisetest).
func TestPromisesHold(t *testing.T) {
	promisetest.Run(t, twoServers)
}

// twoServers is two Stores, on two pools, on one table.
func twoServers(t *testing.T) (backend.Backend, backend.Backend) {
	{
		d := newTestDB(t)
		a := d.open(t, pgbackend.Options{})
		b, err := pgbackend.New(context.Background(), pgPool(t), pgbackend.Options{Table: d.table, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b
	}
}
