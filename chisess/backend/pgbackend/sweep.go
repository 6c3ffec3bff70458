package pgbackend

import (
	"context"
	"fmt"
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

// Close stops the sweeper, interrupting a sweep in progress, and waits for
// it to exit. The interruption is the client's: a statement of that sweep
// that the server has received is not stopped there, and may finish after
// Close returns, deleting only rows that had expired when the sweep
// started, which no Read returns anyway. It does not close the pool, which
// belongs to the caller: close the Store first, then the pool. The Store keeps serving Read, Write, Delete
// and Sweep after Close, without background sweeps. Close is safe to call
// more than once and always returns nil.
func (s *Store) Close() error {
	s.once.Do(s.sweeper.Stop)
	return nil
}
