package modeltest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// scheduler runs the requests of a history one at a time. Each request is a
// goroutine that runs until it parks (at a backend call, or at the handler's
// "commit" point) or finishes, and then tells the scheduler so on events.
// The scheduler moves exactly one request at a time and waits for it to
// park or finish before choosing the next, so the whole history is
// sequential and reproducible, while any interleaving of backend calls
// (inside commits too) can be chosen.
type scheduler struct {
	events chan event

	mu    sync.Mutex
	step  int              // the step under way; 0 before the first
	notes map[int][]string // what the backend calls of each step did
	keys  map[string]string
	free  bool // draining: parks no longer wait
}

// event is a request parking at a gate (park != "") or finishing.
type event struct {
	req     int
	park    string
	release chan struct{}
}

// watchdog bounds the wait for a moved request to park or finish. A request
// that takes longer is blocked outside the gates (a lock, a network call
// that hangs): a bug in the checker or a broken service, reported as such.
const watchdog = 30 * time.Second

func newScheduler() *scheduler {
	return &scheduler{events: make(chan event), notes: map[int][]string{}, keys: map[string]string{}}
}

// reqKey is the context key of a request of the history; its value is the
// request's *call.
type reqKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(reqKey{}).(*call)
	return c
}

// park stops the calling request at a gate named op until the scheduler
// releases it. It returns the request's index, or -1 for a call made
// outside any request (the checker's own calls), which never parks.
func (s *scheduler) park(ctx context.Context, op string) int {
	c := callOf(ctx)
	if c == nil {
		return -1
	}
	s.mu.Lock()
	free := s.free
	s.mu.Unlock()
	if free {
		return c.i
	}
	rel := make(chan struct{})
	s.events <- event{req: c.i, park: op, release: rel}
	<-rel
	return c.i
}

// note records what a backend call did, under the step that released it.
func (s *scheduler) note(req int, format string, args ...any) {
	if req < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.step < 0 {
		return
	}
	s.notes[s.step] = append(s.notes[s.step], fmt.Sprintf(format, args...))
}

// recordOp notes that the request of ctx read or changed a record in the
// step under way: the last such step is where its commit last saw the
// store. What a Save does after the response is not part of the commit.
func (s *scheduler) recordOp(ctx context.Context) {
	if c := callOf(ctx); c != nil && !c.streaming {
		c.verified = s.current()
	}
}

// current returns the step under way.
func (s *scheduler) current() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.step
}

func (s *scheduler) setStep(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = n
}

// alias names a storage key k1, k2, ... in the order keys appear, so that
// traces are short and the same from run to run.
func (s *scheduler) alias(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.keys[key]; ok {
		return a
	}
	a := fmt.Sprintf("k%d", len(s.keys)+1)
	s.keys[key] = a
	return a
}

// wait returns the next event, or false when none came within the
// watchdog.
func (s *scheduler) wait() (event, bool) {
	timer := time.NewTimer(watchdog)
	defer timer.Stop()
	select {
	case ev := <-s.events:
		return ev, true
	case <-timer.C:
		return event{}, false
	}
}

// drain lets every parked request and every request still to park run to
// its end without stopping, and waits until running have finished.
func (s *scheduler) drain(parked map[int]event, running int) {
	s.mu.Lock()
	s.free = true
	s.step = -1 // what runs now is after the check stopped: leave no notes
	s.mu.Unlock()
	for _, ev := range parked {
		close(ev.release)
	}
	for running > 0 {
		ev, ok := s.wait()
		if !ok {
			return // stuck for good; the failure already says so
		}
		if ev.park != "" {
			close(ev.release)
			continue
		}
		running--
	}
}
