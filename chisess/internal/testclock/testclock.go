// Package testclock is a clock that a test moves by hand, for the Now
// option of the stores that take one (bbolt, PostgreSQL).
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use. Its Now method is an
// Options.Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock set to a fixed instant in 2030, so that no test
// depends on the day it runs.
func New() *Clock {
	return &Clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
