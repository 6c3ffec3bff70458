package rueidisbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/matryer/is"
	"github.com/redis/rueidis"
)

// TestFailedSwapDropsStaleEntry puts in the cache a value the server
// no longer holds, as an invalidation still on its way would leave it,
// and checks that a swap against it fails and changes nothing on the
// server, and that the read after it asks the server, for a session that
// another app server changed and for one it destroyed.
func TestFailedSwapDropsStaleEntry(t *testing.T) {
	tests := []struct {
		name   string
		server []byte // what the server holds; nil: destroyed
	}{
		{"changed elsewhere", []byte("theirs")},
		{"destroyed elsewhere", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			ctx := t.Context()
			var b [8]byte
			rand.Read(b[:])
			s, err := New(ctx, rueidis.ClientOption{InitAddress: []string{testenv.Lookup(t, testenv.RedisAddr)}}, Options{Prefix: "chisess:test:" + hex.EncodeToString(b[:]) + ":"})
			is.NoErr(err)
			t.Cleanup(s.Close)
			if tt.server != nil {
				is.NoErr(s.Write(ctx, "k", tt.server, time.Minute))
			}
			s.cache.end(s.cache.begin("k"), true, []byte("stale"), s.cache.now()+time.Minute) // the stale entry
			got, err := s.Read(ctx, "k")
			is.NoErr(err)
			is.Equal(string(got), "stale") // the cache serves it: the test is set up

			ok, err := s.Swap(ctx, "k", []byte("stale"), []byte("mine"), time.Minute)
			is.NoErr(err)
			is.True(!ok) // the swap compares with the server, not the cache

			got, err = s.Read(ctx, "k")
			if tt.server == nil {
				is.True(errors.Is(err, backend.ErrNotFound)) // the destroyed session stays destroyed
			} else {
				is.NoErr(err)
				is.Equal(string(got), string(tt.server)) // the other server's change, read from the server
			}
			raw, err := s.client.Do(context.Background(), s.client.B().Get().Key(s.prefix+"k").Build()).ToString()
			if tt.server == nil {
				is.True(rueidis.IsRedisNil(err)) // nothing revived it
			} else {
				is.Equal(raw, string(tt.server)) // nothing overwrote it
			}
		})
	}
}
