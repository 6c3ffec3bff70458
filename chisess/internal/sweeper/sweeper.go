// Package sweeper runs the background sweep of the stores whose records do
// not expire by themselves (bbolt, PostgreSQL): one goroutine calls the
// store's Sweep on an interval until the store is closed.
package sweeper

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// Sweeper is a running (or never started) sweep loop.
type Sweeper struct {
	stop context.CancelFunc
	done chan struct{}
}

// Start calls sweep every interval in a goroutine of its own, or starts
// nothing when interval is negative. A sweep that fails is logged at Error
// as "chisess: <store> sweep failed", one that deleted records at Debug as
// "chisess: <store> sweep", both with attrs and the count deleted; the
// logger is slog.Default() when logger is nil. A sweep that Stop
// interrupts ends the loop without a log line.
func Start[N int | int64](interval time.Duration, sweep func(context.Context) (N, error), logger *slog.Logger, store string, attrs ...any) *Sweeper {
	w := &Sweeper{stop: func() {}, done: make(chan struct{})}
	if interval < 0 {
		close(w.done)
		return w
	}
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := sweep(ctx)
			log := logger
			if log == nil {
				log = slog.Default()
			}
			switch {
			case err != nil && ctx.Err() != nil:
				return // Stop interrupted the sweep
			case err != nil:
				log.Error("chisess: "+store+" sweep failed", slices.Concat(attrs, []any{"deleted", n, "err", err})...)
			case n > 0:
				log.Debug("chisess: "+store+" sweep", slices.Concat(attrs, []any{"deleted", n})...)
			}
		}
	}()
	return w
}

// Stop interrupts a sweep in progress and waits for the loop to exit. It
// is safe to call more than once.
func (w *Sweeper) Stop() {
	w.stop()
	<-w.done
}
