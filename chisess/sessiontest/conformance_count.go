package sessiontest

import (
	"fmt"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// countRules are the rules of the optional [backend.Counter] and
// [backend.Sweeper], which admin tools use. They run only when the backend
// implements the interface. Counts are taken before and after, so a store
// that already holds records passes; no one else may write to it while the
// rule runs, which a fresh backend per rule gives.
var countRules = []rule{
	{
		name:    "count",
		explain: "Count must return how many live records the backend holds, each key once however often it was written, leaving out keys that were deleted, written with a TTL of zero or less, or whose TTL has passed even before a sweep, because admin tools report it as the number of sessions",
		run: func(c *checker, b backend.Backend) {
			ct, ok := b.(backend.Counter)
			if !ok {
				c.t.Skipf("%T does not implement the optional interface backend.Counter, so admin tools such as chisessctl count cannot count its sessions", b)
				return
			}
			before := c.count(ct, "Count before the rule wrote anything")
			live := []string{c.key(), c.key(), c.key()}
			for _, k := range live {
				c.write(k, []byte("live session"), time.Hour)
			}
			c.write(live[0], []byte("written again"), time.Hour)
			c.write(c.key(), []byte("expired session"), 0)
			gone := c.key()
			c.write(gone, []byte("deleted session"), time.Hour)
			c.delete(gone, "Delete of a written key")
			short := c.key()
			c.write(short, []byte("short-lived session"), shortTTL)
			c.waitExpired(short, fmt.Sprintf("a record written with a %v TTL", shortTTL))
			if got := c.count(ct, "Count after the writes"); got != before+int64(len(live)) {
				c.errorf("Count after writing %d live keys (one of them twice), one with a 0 TTL, one deleted and one expired returned %d, want %d (%d before)", len(live), got, before+int64(len(live)), before)
			}
			for _, done := range c.doneContexts() {
				c.promptly("Count", done, func() error { _, err := ct.Count(done.ctx); return err })
			}
		},
	},
	{
		name:    "sweep",
		explain: "Sweep must delete records whose TTL has passed and never a live one, return no error and a count that is not negative, and return promptly with an error wrapping ctx.Err() when its context is done, because admin tools and cron jobs run it on a store in use",
		run: func(c *checker, b backend.Backend) {
			sw, ok := b.(backend.Sweeper)
			if !ok {
				c.t.Skipf("%T does not implement the optional interface backend.Sweeper: fine for a store that expires records by itself, as Redis does", b)
				return
			}
			live, short := c.key(), c.key()
			c.write(live, []byte("live session"), time.Hour)
			c.write(short, []byte("short-lived session"), shortTTL)
			c.waitExpired(short, fmt.Sprintf("a record written with a %v TTL", shortTTL))
			// A sweeper of the backend's own may have deleted the record
			// already, so the count may be zero.
			n, err := sw.Sweep(c.ctx)
			if err != nil || n < 0 {
				c.errorf("Sweep after a record expired returned %d and error %v, want a count of 0 or more and nil", n, err)
			}
			c.wantData(live, []byte("live session"), "Read of a live record after Sweep")
			c.wantNotFound(short, "Read of an expired record after Sweep")
			c.write(short, []byte("new session"), time.Hour)
			c.wantData(short, []byte("new session"), "Read after writing again to a swept key")
			for _, done := range c.doneContexts() {
				c.promptly("Sweep", done, func() error { _, err := sw.Sweep(done.ctx); return err })
			}
			c.wantData(live, []byte("live session"), "Read of a live record after Sweep with a done context")
		},
	},
}

// count calls Count with a live context and stops the rule if it fails.
func (c *checker) count(ct backend.Counter, step string) int64 {
	c.t.Helper()
	n, err := ct.Count(c.ctx)
	if err != nil {
		c.fatalf("%s returned error %v, want nil", step, err)
	}
	return n
}
