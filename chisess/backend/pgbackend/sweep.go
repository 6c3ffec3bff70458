package pgbackend

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Sweep deletes every row whose expiry has passed by [Options.Now], in
// batches of [Options.SweepBatch] rows, and returns how many it deleted.
// It repeats the batch statement while batches come back full, and stops
// at the first error, returning the rows deleted so far.
//
// The sweeper started by [New] calls Sweep on its interval; most apps never
// call it. Call it from tests, or from a cron job in apps that set a
// negative [Options.SweepInterval]. Sweeps from several processes may run at
// once: each skips rows another one is deleting.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, s.sweepSQL, now, s.batch)
		if err != nil {
			return total, fmt.Errorf("chisess: postgres sweep: %w", err)
		}
		n := tag.RowsAffected()
		total += n
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

func (s *Store) sweeper(ctx context.Context, every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return // Close interrupted the sweep
		case err != nil:
			s.log().Error("chisess: postgres sweep failed", "table", s.table, "deleted", n, "err", err)
		case n > 0:
			s.log().Debug("chisess: postgres sweep", "table", s.table, "deleted", n)
		}
	}
}

func (s *Store) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}

// Close stops the sweeper, interrupting a sweep in progress, and waits for
// it to exit. It does not close the pool, which belongs to the caller: close
// the Store first, then the pool. The Store keeps serving Read, Write, Delete
// and Sweep after Close, without background sweeps. Close is safe to call
// more than once and always returns nil.
func (s *Store) Close() error {
	s.once.Do(s.stop)
	<-s.done
	return nil
}
