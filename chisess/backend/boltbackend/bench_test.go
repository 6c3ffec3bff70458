package boltbackend_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// benchData is about the size of an encoded session with a user ID, a CSRF
// token and a flash message.
var benchData = bytes.Repeat([]byte("s"), 330)

// BenchmarkRead reads one live record from a file that holds 10,000.
func BenchmarkRead(b *testing.B) {
	s := benchStore(b, boltbackend.Options{NoSync: true})
	ctx := context.Background()
	key := testkey.New()
	if err := s.Write(ctx, key, benchData, time.Hour); err != nil {
		b.Fatal(err)
	}
	for range 10_000 - 1 {
		if err := s.Write(ctx, testkey.New(), benchData, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite replaces one record. "fsync" is what production does (the
// cost is the disk's); "nosync" shows the Store's own cost.
func BenchmarkWrite(b *testing.B) {
	for _, bm := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bm.name, func(b *testing.B) {
			s := benchStore(b, boltbackend.Options{NoSync: bm.noSync})
			ctx := context.Background()
			key := testkey.New()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(ctx, key, benchData, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSwap replaces one record with a compare-and-swap, alternating
// between two values so that every swap matches and writes. "fsync" and
// "nosync" compare with BenchmarkWrite; "mismatch" is a swap that loses
// the race, which rolls back without touching the disk.
func BenchmarkSwap(b *testing.B) {
	other := bytes.Clone(benchData)
	other[len(other)-1] = 't'
	for _, bm := range []struct {
		name     string
		noSync   bool
		mismatch bool
	}{{"fsync", false, false}, {"nosync", true, false}, {"mismatch", false, true}} {
		b.Run(bm.name, func(b *testing.B) {
			s := benchStore(b, boltbackend.Options{NoSync: bm.noSync})
			ctx := context.Background()
			key := testkey.New()
			if err := s.Write(ctx, key, benchData, time.Hour); err != nil {
				b.Fatal(err)
			}
			old, data := benchData, other
			if bm.mismatch {
				old = other
			}
			b.ReportAllocs()
			for b.Loop() {
				ok, err := s.Swap(ctx, key, old, data, time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				if ok == bm.mismatch {
					b.Fatalf("Swap reported %v", ok)
				}
				if !bm.mismatch {
					old, data = data, old
				}
			}
		})
	}
}

func benchStore(b *testing.B, opts boltbackend.Options) *boltbackend.Store {
	b.Helper()
	opts.SweepInterval = -1
	s, err := boltbackend.Open(tempPath(b), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}
