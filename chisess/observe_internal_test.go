package chisess

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// storedLen, the Bytes of an Observation, is the exact length of the
// record as stored, whatever its times, flags and entries.
func TestStoredLenIsExact(t *testing.T) {
	withLifetime := newRecord(time.UnixMilli(1))
	withLifetime.meta.flags |= flagLifetime
	withLifetime.meta.lifetime, withLifetime.meta.since = int64(time.Hour/time.Millisecond), 1<<40
	big := newRecord(time.Now())
	big.set(-1, "k", []byte(strings.Repeat("v", 300)))
	big.set(-1, "\x00owner", []byte("u"))
	tests := []struct {
		name string
		rec  record
	}{
		{name: "empty", rec: record{}},
		{name: "new", rec: newRecord(time.Now())},
		{name: "own lifetime", rec: withLifetime},
		{name: "entries", rec: big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(tt.rec.storedLen(), len(tt.rec.appendTo(nil)))
		})
	}
}
