package sweeper

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"
)

// recorder keeps every record it handles.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recorder) WithGroup(string) slog.Handler            { return h }
func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}

func TestStartSweepsOnItsIntervalAndLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		results := []struct {
			n   int
			err error
		}{{3, nil}, {0, nil}, {1, errors.New("disk on fire")}}
		calls := 0
		sweep := func(context.Context) (int, error) {
			r := results[calls%len(results)]
			calls++
			return r.n, r.err
		}
		h := &recorder{}
		w := Start(time.Minute, sweep, slog.New(h), "test", "path", "/x")

		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		is.Equal(calls, 3) // one sweep per interval

		h.mu.Lock()
		recs := h.records
		h.mu.Unlock()
		is.Equal(len(recs), 2) // a sweep that deleted nothing logs nothing
		is.Equal(recs[0].Level, slog.LevelDebug)
		is.Equal(recs[0].Message, "chisess: test sweep") // how many it deleted
		is.Equal(recs[1].Level, slog.LevelError)
		is.Equal(recs[1].Message, "chisess: test sweep failed") // and what failed
		attrs := map[string]string{}
		recs[1].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		is.Equal(attrs, map[string]string{"path": "/x", "deleted": "1", "err": "disk on fire"}) // with the store's attrs

		w.Stop()
		w.Stop() // twice is fine
		time.Sleep(time.Hour)
		is.Equal(calls, 3) // no sweep after Stop
	})
}

func TestStopInterruptsASweepQuietly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		started := make(chan struct{})
		sweep := func(ctx context.Context) (int64, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		}
		h := &recorder{}
		w := Start(time.Second, sweep, slog.New(h), "test")
		<-started
		w.Stop()                    // returns once the sweep has seen its context end
		is.Equal(len(h.records), 0) // an interrupted sweep is not a failure
	})
}

func TestNegativeIntervalStartsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		calls := 0
		w := Start(-1, func(context.Context) (int, error) { calls++; return 0, nil }, nil, "test")
		time.Sleep(time.Hour)
		w.Stop()
		is.Equal(calls, 0) // never swept
	})
}
