package pgbackend_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
)

// sessionBytes is about the size of a typical encoded session: a user ID,
// a CSRF token, a flash message and metadata.
var sessionBytes = bytes.Repeat([]byte("s"), 330)

func BenchmarkRead(b *testing.B) {
	is := is.New(b)
	d := newTestDB(b)
	s := d.open(b, pgbackend.Options{})
	key := testkey.New()
	is.NoErr(s.Write(b.Context(), key, sessionBytes, time.Hour)) // the session to read
	b.SetBytes(int64(len(sessionBytes)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(b.Context(), key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	d := newTestDB(b)
	s := d.open(b, pgbackend.Options{})
	key := testkey.New()
	b.SetBytes(int64(len(sessionBytes)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(b.Context(), key, sessionBytes, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSwap replaces one row with a compare-and-swap, alternating
// between two values so that every swap matches and writes: the cost of a
// commit through Swap, beside BenchmarkWrite's plain upsert.
func BenchmarkSwap(b *testing.B) {
	is := is.New(b)
	d := newTestDB(b)
	s := d.open(b, pgbackend.Options{})
	key := testkey.New()
	is.NoErr(s.Write(b.Context(), key, sessionBytes, time.Hour)) // the session to swap
	other := bytes.Clone(sessionBytes)
	other[len(other)-1] = 't'
	old, data := sessionBytes, other
	b.SetBytes(int64(len(sessionBytes)))
	b.ReportAllocs()
	for b.Loop() {
		ok, err := s.Swap(b.Context(), key, old, data, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			b.Fatal("Swap did not match the row it wrote")
		}
		old, data = data, old
	}
}
