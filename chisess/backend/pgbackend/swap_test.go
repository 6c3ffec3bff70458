package pgbackend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
)

// countKey reports how many rows hold key, expired ones included.
func (d testDB) countKey(t testing.TB, key string) int64 {
	t.Helper()
	is := is.New(t)
	is.Helper()
	var n int64
	err := d.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+d.quoted()+" WHERE key = $1", key).Scan(&n)
	is.NoErr(err) // count rows under the key
	return n
}

// TestSwapExpiry checks that a swap sets the row's expiry to Now plus its
// ttl, counted from the swap, not from the row it replaced.
func TestSwapExpiry(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	clk := testclock.New()
	s := d.open(t, pgbackend.Options{Now: clk.Now})
	ctx := t.Context()
	key := testkey.New()
	is.NoErr(s.Write(ctx, key, []byte("a"), time.Minute)) // expires in a minute

	clk.Add(30 * time.Second)
	ok, err := s.Swap(ctx, key, []byte("a"), []byte("b"), time.Minute)
	is.NoErr(err) // Swap half-way through the first minute
	is.True(ok)   // swapped

	clk.Add(time.Minute - time.Microsecond)
	got, err := s.Read(ctx, key)
	is.NoErr(err)              // a microsecond before the swap's minute ends
	is.Equal(string(got), "b") // the row is live
	clk.Add(time.Microsecond)
	_, err = s.Read(ctx, key)
	is.True(errors.Is(err, backend.ErrNotFound)) // and at that instant it is gone

	ok, err = s.Swap(ctx, key, nil, []byte("c"), time.Minute)
	is.NoErr(err)                          // a create over the expired row
	is.True(ok)                            // succeeds
	is.Equal(d.countKey(t, key), int64(1)) // by replacing the row, not adding one
	clk.Add(time.Minute - time.Microsecond)
	got, err = s.Read(ctx, key)
	is.NoErr(err)              // with the create's own expiry
	is.Equal(string(got), "c") // and data
}

// The create statement names the existing row through an alias, so it
// works on a schema-qualified table too.
func TestSwapSchemaQualifiedTable(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	clk := testclock.New()
	s, err := pgbackend.New(t.Context(), d.pool, pgbackend.Options{
		Table:         "public." + d.table,
		CreateTable:   true,
		SweepInterval: -1,
		Now:           clk.Now,
	})
	is.NoErr(err) // New with schema.table
	defer s.Close()

	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("a"), time.Minute)) // a row that will expire
	clk.Add(time.Minute)
	for _, want := range []bool{true, false} {
		ok, err := s.Swap(t.Context(), key, nil, []byte("b"), time.Hour)
		is.NoErr(err)      // a create through public.<table>
		is.Equal(ok, want) // replaces the expired row, then finds the live one
	}
	ok, err := s.Swap(t.Context(), key, []byte("b"), []byte("c"), time.Hour)
	is.NoErr(err) // a swap through public.<table>
	is.True(ok)   // matches
	ok, err = s.Swap(t.Context(), key, []byte("c"), nil, 0)
	is.NoErr(err)                  // a delete through public.<table>
	is.True(ok)                    // matches
	is.Equal(d.count(t), int64(0)) // and removed the row
}
