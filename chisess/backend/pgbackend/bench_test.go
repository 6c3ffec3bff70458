package pgbackend_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/matryer/is"
)

// sessionBytes is about the size of a typical encoded session: a user ID,
// a CSRF token, a flash message and metadata.
var sessionBytes = bytes.Repeat([]byte("s"), 330)

func BenchmarkRead(b *testing.B) {
	is := is.New(b)
	d := newTestDB(b)
	s := d.open(b, pgbackend.Options{})
	key := newKey()
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
	key := newKey()
	b.SetBytes(int64(len(sessionBytes)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(b.Context(), key, sessionBytes, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
