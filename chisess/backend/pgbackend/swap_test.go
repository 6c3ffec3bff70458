package pgbackend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/matryer/is"
)

// swapCases is every case of the Swapper contract: what is stored before
// the swap, the swap's arguments, what it reports, and what is left.
var swapCases = []struct {
	name   string
	stored []byte // written with a one-minute TTL before the swap; nil writes nothing
	expire bool   // move the clock past the stored row's expiry, without sweeping
	old    []byte
	data   []byte
	ttl    time.Duration
	want   bool   // what Swap reports
	after  []byte // what Read returns after the swap; nil means ErrNotFound
	rows   int64  // rows left under the key, expired ones included
}{
	{name: "match replaces", stored: []byte("a"), old: []byte("a"), data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), rows: 1},
	{name: "mismatch leaves it", stored: []byte("a"), old: []byte("x"), data: []byte("b"), ttl: time.Hour, after: []byte("a"), rows: 1},
	{name: "old is a prefix of the row", stored: []byte("abc"), old: []byte("ab"), data: []byte("b"), ttl: time.Hour, after: []byte("abc"), rows: 1},
	{name: "row is a prefix of old", stored: []byte("ab"), old: []byte("abc"), data: []byte("b"), ttl: time.Hour, after: []byte("ab"), rows: 1},
	{name: "binary old", stored: []byte{0, 0xff, '\'', '\\'}, old: []byte{0, 0xff, '\'', '\\'}, data: []byte{0}, ttl: time.Hour, want: true, after: []byte{0}, rows: 1},
	{name: "empty row matches empty old", stored: []byte{}, old: []byte{}, data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), rows: 1},
	{name: "empty old does not match a row", stored: []byte("a"), old: []byte{}, data: []byte("b"), ttl: time.Hour, after: []byte("a"), rows: 1},
	{name: "swap to empty data", stored: []byte("a"), old: []byte("a"), data: []byte{}, ttl: time.Hour, want: true, after: []byte{}, rows: 1},
	{name: "missing with old is not created", old: []byte("a"), data: []byte("b"), ttl: time.Hour},
	{name: "expired unswept with matching old is not revived", stored: []byte("a"), expire: true, old: []byte("a"), data: []byte("b"), ttl: time.Hour, rows: 1},
	{name: "create on absent", data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), rows: 1},
	{name: "create of empty data on absent", data: []byte{}, ttl: time.Hour, want: true, after: []byte{}, rows: 1},
	{name: "create on live", stored: []byte("a"), data: []byte("b"), ttl: time.Hour, after: []byte("a"), rows: 1},
	{name: "create on live empty row", stored: []byte{}, data: []byte("b"), ttl: time.Hour, after: []byte{}, rows: 1},
	{name: "create over expired unswept", stored: []byte("a"), expire: true, data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), rows: 1},
	{name: "create of nothing on absent", data: nil, ttl: time.Hour, want: true},
	{name: "create of nothing on live", stored: []byte("a"), data: nil, ttl: time.Hour, after: []byte("a"), rows: 1},
	{name: "create of nothing on expired unswept", stored: []byte("a"), expire: true, data: nil, ttl: time.Hour, want: true, rows: 1},
	{name: "delete if match", stored: []byte("a"), old: []byte("a"), data: nil, ttl: time.Hour, want: true},
	{name: "delete mismatch", stored: []byte("a"), old: []byte("x"), data: nil, ttl: time.Hour, after: []byte("a"), rows: 1},
	{name: "delete missing", old: []byte("a"), data: nil, ttl: time.Hour},
	{name: "delete expired unswept", stored: []byte("a"), expire: true, old: []byte("a"), data: nil, ttl: time.Hour, rows: 1},
	{name: "ttl 0 with match deletes", stored: []byte("a"), old: []byte("a"), data: []byte("b"), ttl: 0, want: true},
	{name: "negative ttl with match deletes", stored: []byte("a"), old: []byte("a"), data: []byte("b"), ttl: -time.Second, want: true},
	{name: "ttl 0 mismatch leaves it", stored: []byte("a"), old: []byte("x"), data: []byte("b"), ttl: 0, after: []byte("a"), rows: 1},
	{name: "ttl 0 create on absent stores nothing", data: []byte("b"), ttl: 0, want: true},
	{name: "ttl 0 create on live", stored: []byte("a"), data: []byte("b"), ttl: 0, after: []byte("a"), rows: 1},
}

func TestSwap(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t) // one table; every case has its own keys and clock

	for _, tt := range swapCases {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			t.Parallel()
			clk := newClock()
			s := d.open(t, pgbackend.Options{Now: clk.Now})
			ctx := t.Context()
			key, other := newKey(), newKey()
			is.NoErr(s.Write(ctx, other, []byte("bystander"), 2*time.Hour)) // another session, never touched
			if tt.stored != nil {
				is.NoErr(s.Write(ctx, key, tt.stored, time.Minute)) // the row the swap meets
			}
			if tt.expire {
				clk.Add(time.Minute) // expired at this instant, still in the table
			}

			ok, err := s.Swap(ctx, key, tt.old, tt.data, tt.ttl)
			is.NoErr(err)         // Swap
			is.Equal(ok, tt.want) // reports whether it swapped

			got, err := s.Read(ctx, key)
			if tt.after == nil {
				is.True(errors.Is(err, backend.ErrNotFound)) // no live row is left
			} else {
				is.NoErr(err)             // a live row is left
				is.Equal(got, tt.after)   // with the expected data
				is.True(got != nil)       // never nil, even when empty
				clk.Add(30 * time.Minute) // past the stored row's minute, within a swap's hour
				_, err = s.Read(ctx, key)
				is.Equal(err == nil, tt.want) // a swapped row has the swap's TTL; an unswapped one keeps its own
			}
			is.Equal(d.countKey(t, key), tt.rows) // what is left in the table
			got, err = s.Read(ctx, other)
			is.NoErr(err)                      // the bystander
			is.Equal(string(got), "bystander") // is untouched
		})
	}
}

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
	clk := newClock()
	s := d.open(t, pgbackend.Options{Now: clk.Now})
	ctx := t.Context()
	key := newKey()
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
	clk := newClock()
	s, err := pgbackend.New(t.Context(), d.pool, pgbackend.Options{
		Table:         "public." + d.table,
		CreateTable:   true,
		SweepInterval: -1,
		Now:           clk.Now,
	})
	is.NoErr(err) // New with schema.table
	defer s.Close()

	key := newKey()
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
