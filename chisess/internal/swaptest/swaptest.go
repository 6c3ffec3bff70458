// Package swaptest holds the table of cases of the [backend.Swapper]
// contract that the stores with an injectable clock (bbolt, PostgreSQL)
// run against their real storage, and the runner they share. Each store
// also says how many records a case left behind, expired ones included,
// which the portable conformance suite in sessiontest cannot see.
package swaptest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// Store is a backend that implements Swap.
type Store interface {
	backend.Backend
	backend.Swapper
}

// Subject is one fresh store for one case.
type Subject struct {
	Store Store
	// Advance moves the store's clock forward by d.
	Advance func(d time.Duration)
	// Left reports how many records the case left under key, expired ones
	// included. A store may count more broadly, for example every record
	// but the bystander the runner writes, to catch strays too.
	Left func(t *testing.T, key string) int
}

// Case is one case: what is stored before the swap, the swap's arguments,
// what it reports, and what is left.
type Case struct {
	Name   string
	Stored []byte // written with a one-minute TTL before the swap; nil writes nothing
	Expire bool   // move the clock past the stored record's expiry, without sweeping
	Old    []byte
	Data   []byte
	TTL    time.Duration
	Want   bool   // what Swap reports
	After  []byte // what Read returns after the swap; nil means ErrNotFound
	Left   int    // records left under the key, expired ones included
}

// Cases is every case of the Swapper contract that every store meets the
// same way. What a store leaves in storage where the contract allows
// either (an expired record a create of nothing finds) goes to Run as an
// extra case of that store.
var Cases = []Case{
	{Name: "match replaces", Stored: []byte("a"), Old: []byte("a"), Data: []byte("b"), TTL: time.Hour, Want: true, After: []byte("b"), Left: 1},
	{Name: "mismatch leaves it", Stored: []byte("a"), Old: []byte("x"), Data: []byte("b"), TTL: time.Hour, After: []byte("a"), Left: 1},
	{Name: "old is a prefix of the record", Stored: []byte("abc"), Old: []byte("ab"), Data: []byte("b"), TTL: time.Hour, After: []byte("abc"), Left: 1},
	{Name: "record is a prefix of old", Stored: []byte("ab"), Old: []byte("abc"), Data: []byte("b"), TTL: time.Hour, After: []byte("ab"), Left: 1},
	{Name: "binary old", Stored: []byte{0, 0xff, '\'', '\\'}, Old: []byte{0, 0xff, '\'', '\\'}, Data: []byte{0}, TTL: time.Hour, Want: true, After: []byte{0}, Left: 1},
	{Name: "empty record matches empty old", Stored: []byte{}, Old: []byte{}, Data: []byte("b"), TTL: time.Hour, Want: true, After: []byte("b"), Left: 1},
	{Name: "empty old does not match a record", Stored: []byte("a"), Old: []byte{}, Data: []byte("b"), TTL: time.Hour, After: []byte("a"), Left: 1},
	{Name: "swap to empty data", Stored: []byte("a"), Old: []byte("a"), Data: []byte{}, TTL: time.Hour, Want: true, After: []byte{}, Left: 1},
	{Name: "missing with old is not created", Old: []byte("a"), Data: []byte("b"), TTL: time.Hour},
	{Name: "expired unswept with matching old is not revived", Stored: []byte("a"), Expire: true, Old: []byte("a"), Data: []byte("b"), TTL: time.Hour, Left: 1},
	{Name: "create on absent", Data: []byte("b"), TTL: time.Hour, Want: true, After: []byte("b"), Left: 1},
	{Name: "create of empty data on absent", Data: []byte{}, TTL: time.Hour, Want: true, After: []byte{}, Left: 1},
	{Name: "create on live", Stored: []byte("a"), Data: []byte("b"), TTL: time.Hour, After: []byte("a"), Left: 1},
	{Name: "create on live empty record", Stored: []byte{}, Data: []byte("b"), TTL: time.Hour, After: []byte{}, Left: 1},
	{Name: "create over expired unswept", Stored: []byte("a"), Expire: true, Data: []byte("b"), TTL: time.Hour, Want: true, After: []byte("b"), Left: 1},
	{Name: "create of nothing on absent", Data: nil, TTL: time.Hour, Want: true},
	{Name: "create of nothing on live", Stored: []byte("a"), Data: nil, TTL: time.Hour, After: []byte("a"), Left: 1},
	{Name: "delete if match", Stored: []byte("a"), Old: []byte("a"), Data: nil, TTL: time.Hour, Want: true},
	{Name: "delete mismatch", Stored: []byte("a"), Old: []byte("x"), Data: nil, TTL: time.Hour, After: []byte("a"), Left: 1},
	{Name: "delete missing", Old: []byte("a"), Data: nil, TTL: time.Hour},
	{Name: "delete expired unswept", Stored: []byte("a"), Expire: true, Old: []byte("a"), Data: nil, TTL: time.Hour, Left: 1},
	{Name: "ttl 0 with match deletes", Stored: []byte("a"), Old: []byte("a"), Data: []byte("b"), TTL: 0, Want: true},
	{Name: "negative ttl with match deletes", Stored: []byte("a"), Old: []byte("a"), Data: []byte("b"), TTL: -time.Second, Want: true},
	{Name: "ttl 0 mismatch leaves it", Stored: []byte("a"), Old: []byte("x"), Data: []byte("b"), TTL: 0, After: []byte("a"), Left: 1},
	{Name: "ttl 0 create on absent stores nothing", Data: []byte("b"), TTL: 0, Want: true},
	{Name: "ttl 0 create on live", Stored: []byte("a"), Data: []byte("b"), TTL: 0, After: []byte("a"), Left: 1},
}

// Run runs Cases and then extra in parallel, each on a fresh Subject from
// open, with a bystander record under another key that must come through
// untouched.
func Run(t *testing.T, open func(t *testing.T) Subject, extra ...Case) {
	for _, tt := range append(Cases[:len(Cases):len(Cases)], extra...) {
		t.Run(tt.Name, func(t *testing.T) {
			is := is.New(t)
			t.Parallel()
			sub := open(t)
			s := sub.Store
			ctx := t.Context()
			key, other := testkey.New(), testkey.New()
			is.NoErr(s.Write(ctx, other, []byte("bystander"), 2*time.Hour)) // another session, never touched
			if tt.Stored != nil {
				is.NoErr(s.Write(ctx, key, tt.Stored, time.Minute)) // the record the swap meets
			}
			if tt.Expire {
				sub.Advance(time.Minute) // expired at this instant, still stored
			}

			ok, err := s.Swap(ctx, key, tt.Old, tt.Data, tt.TTL)
			is.NoErr(err)         // Swap
			is.Equal(ok, tt.Want) // reports whether it swapped

			got, err := s.Read(ctx, key)
			if tt.After == nil {
				is.True(errors.Is(err, backend.ErrNotFound)) // no live record is left
			} else {
				is.NoErr(err)                 // a live record is left
				is.Equal(got, tt.After)       // with the expected data
				is.True(got != nil)           // never nil, even when empty
				sub.Advance(30 * time.Minute) // past the stored record's minute, within a swap's hour
				_, err = s.Read(ctx, key)
				is.Equal(err == nil, tt.Want) // a swapped record has the swap's TTL; an unswapped one keeps its own
			}
			is.Equal(sub.Left(t, key), tt.Left) // what is left in storage
			got, err = s.Read(ctx, other)
			is.NoErr(err)                      // the bystander
			is.Equal(string(got), "bystander") // is untouched
		})
	}
}
