package modeltest

import (
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"pgregory.net/rapid"
)

var (
	flagN     = flag.Int("modeltest.n", 0, "modeltest: histories per backend (0: each test's own short default)")
	flagSeed  = flag.String("modeltest.seed", "", `modeltest: seed of the first history ("": the fixed CI seed, "random": a new one each run)`)
	flagKinds = flag.String("modeltest.kinds", "", "modeltest: comma-separated request kinds to draw from (default: all but Options.Without)")
	// flagIgnore is for looking past a failure already found: its property
	// is not checked, so the run goes on to find the next one.
	flagIgnore = flag.String("modeltest.ignore", "", "modeltest: comma-separated properties not to check, besides Options.Ignore, to look past a known failure")
)

// ciSeed is the seed of the short runs, so that CI checks the same
// histories every time; -modeltest.seed changes it.
const ciSeed = 20261205

// Open returns the backend for one history. Each history gets its own,
// or one it shares with no other history that runs at the same time;
// histories never share a key, but they may share a store.
type Open func() backend.Backend

// Options tunes a run of [Check] or [Find].
type Options struct {
	// N is how many histories to run, unless -modeltest.n says otherwise.
	N int
	// Ignore names properties not to check, Without request kinds not to
	// draw: a way to keep a failure that is known and not fixed yet from
	// hiding the next one. Say why next to each entry.
	Ignore  []string
	Without []Kind
	// Configure, when set, changes the drawn configuration of every
	// history, to leave out a feature.
	Configure func(*Config)
}

// Check draws histories at random and runs each on a backend from open,
// failing t with the first counterexample it finds, shrunk (by rapid, then
// by replaying smaller Cases): its violations, its history, its trace step
// by step, and a Case literal for a regression test. It logs how many
// histories it ran per second.
func Check(t *testing.T, open Open, opts Options) {
	t.Helper()
	if rep := Find(t, open, opts); rep != "" {
		t.Fatal(rep)
	}
}

// Find is Check for a test that expects a counterexample: it returns the
// report of the shrunk counterexample, or "" when it found none.
func Find(t *testing.T, open Open, opts Options) string {
	t.Helper()
	kinds, err := opts.kinds()
	if err != nil {
		t.Fatal(err)
	}
	ignore := opts.ignored()
	configureRapid(t, opts.N)
	var (
		runs atomic.Int64
		mu   sync.Mutex
		last *run
	)
	start := time.Now()
	tb := &quietTB{name: t.Name()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rapid.Check(tb, func(rt *rapid.T) {
			c := drawCase(rt, kinds)
			if opts.Configure != nil {
				opts.Configure(&c.Config)
			}
			r := execute(open(), c, drawChooser{rt}, ignore)
			runs.Add(1)
			if len(r.found) > 0 {
				mu.Lock()
				last = r // rapid runs the shrunk case last
				mu.Unlock()
				// rapid shrinks only towards failures with the same
				// message, so the message names the property alone.
				rt.Fatalf("modeltest: property %s broken", r.found[0].prop)
			}
		})
	}()
	<-done
	el := time.Since(start)
	t.Logf("%d histories (shrinking included) in %v: %.0f histories/s", runs.Load(), el.Round(time.Millisecond), float64(runs.Load())/el.Seconds())
	mu.Lock()
	defer mu.Unlock()
	if !tb.failed.Load() {
		return ""
	}
	if last == nil {
		return "modeltest: rapid failed without a counterexample: " + tb.message()
	}
	r := minimize(open, last, ignore)
	return fmt.Sprintf("%s\n%s\n", r.report(), again(t, tb.message()))
}

// again says how to draw the failing history again: rapid names the seed
// of the failing history, and -modeltest.seed starts there.
func again(t *testing.T, rapidSaid string) string {
	m := regexp.MustCompile(`failed after (\d+) tests.*-rapid\.seed=(\d+)`).FindStringSubmatch(strings.ReplaceAll(rapidSaid, "\n", " "))
	if m == nil {
		return "rapid: " + rapidSaid
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return fmt.Sprintf("found after %s passing histories; to draw it again: go test -run '%s' -modeltest.seed=%s -modeltest.n=1 (with the same -tags, -modeltest.kinds and -modeltest.ignore)",
		m[1], strings.Join(parts, "/"), m[2])
}

func (o Options) kinds() ([]Kind, error) {
	if *flagKinds == "" {
		var out []Kind
		for _, k := range Kinds {
			if !slices.Contains(o.Without, k) {
				out = append(out, k)
			}
		}
		return out, nil
	}
	var out []Kind
	for name := range strings.SplitSeq(*flagKinds, ",") {
		k := Kind(strings.TrimSpace(name))
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("modeltest: -modeltest.kinds: unknown kind %q; the kinds are %v", k, Kinds)
		}
		out = append(out, k)
	}
	return out, nil
}

func (o Options) ignored() map[string]bool {
	out := map[string]bool{}
	for _, p := range o.Ignore {
		out[p] = true
	}
	for p := range strings.SplitSeq(*flagIgnore, ",") {
		if p != "" {
			out[p] = true
		}
	}
	return out
}

// Replay runs one Case, following its Schedule, on b and fails t with the
// report if it breaks a property. Regression tests keep each shrunk
// counterexample this way.
func Replay(t testing.TB, b backend.Backend, c Case) {
	t.Helper()
	r := execute(b, c, &replayChooser{steps: c.Schedule}, nil)
	if len(r.found) > 0 {
		t.Errorf("\n%s", r.report())
	}
}

// configureRapid sets rapid's own flags for one run: the number of checks,
// the seed, the time to shrink, and no fail files (a shrunk case is printed as a Case, which
// outlives changes to the generator).
func configureRapid(t *testing.T, n int) {
	t.Helper()
	if n <= 0 {
		n = 100
	}
	if *flagN > 0 {
		n = *flagN
	}
	seed := strconv.Itoa(ciSeed)
	switch *flagSeed {
	case "":
	case "random":
		seed = "0"
	default:
		seed = *flagSeed
	}
	// rapid's shrinking gets 5 seconds (rather than 30): minimize goes on
	// from where it stops, faster, by replaying Cases.
	for name, v := range map[string]string{"rapid.checks": strconv.Itoa(n), "rapid.seed": seed, "rapid.nofailfile": "true", "rapid.shrinktime": "5s"} {
		if err := flag.Set(name, v); err != nil {
			t.Fatalf("set -%s=%s: %v", name, v, err)
		}
	}
}

// drawChooser lets rapid choose each move, so that it can shrink schedules
// too: the first option is the lowest-numbered parked request, so shrinking
// leans towards running requests one after another.
type drawChooser struct{ t *rapid.T }

func (d drawChooser) next(_ *run, opts []int) int {
	if len(opts) == 1 {
		return opts[0]
	}
	return opts[rapid.IntRange(0, len(opts)-1).Draw(d.t, "move")]
}

// replayChooser follows a Schedule: each Step moves its request until it
// parks at the Step's To or finishes. A Step whose request has finished is
// skipped; after the last Step, the lowest-numbered request that can move
// does.
type replayChooser struct {
	steps []Step
	i     int
	moved bool // the current Step has moved its request at least once
}

func (p *replayChooser) next(r *run, opts []int) int {
	for p.i < len(p.steps) {
		st := p.steps[p.i]
		if st.Req < 0 || st.Req >= len(r.calls) {
			p.i, p.moved = p.i+1, false
			continue
		}
		ev, parked := r.parked[st.Req]
		if p.moved && (!parked || ev.park == st.To) {
			p.i, p.moved = p.i+1, false
			continue
		}
		if parked || !r.started[st.Req] {
			p.moved = true
			return st.Req
		}
		p.i, p.moved = p.i+1, false
	}
	return opts[0]
}

// quietTB is the rapid.TB of Find: it records failure instead of failing
// the test.
type quietTB struct {
	name   string
	failed atomic.Bool
	mu     sync.Mutex
	msgs   []string
}

func (q *quietTB) fail(format string, args ...any) {
	q.failed.Store(true)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, fmt.Sprintf(format, args...))
}

// message returns what rapid reported: how many histories passed, and the
// seed that reproduces the failure.
func (q *quietTB) message() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return strings.Join(q.msgs, "; ")
}

func (q *quietTB) Helper()                           {}
func (q *quietTB) Name() string                      { return q.name }
func (q *quietTB) Logf(string, ...any)               {}
func (q *quietTB) Log(...any)                        {}
func (q *quietTB) Skipf(string, ...any)              { runtime.Goexit() }
func (q *quietTB) Skip(...any)                       { runtime.Goexit() }
func (q *quietTB) SkipNow()                          { runtime.Goexit() }
func (q *quietTB) Errorf(format string, args ...any) { q.fail(format, args...) }
func (q *quietTB) Error(args ...any)                 { q.fail("%s", fmt.Sprint(args...)) }
func (q *quietTB) Fatalf(format string, args ...any) {
	q.fail(format, args...)
	runtime.Goexit()
}
func (q *quietTB) Fatal(args ...any) {
	q.fail("%s", fmt.Sprint(args...))
	runtime.Goexit()
}
func (q *quietTB) FailNow() {
	q.failed.Store(true)
	runtime.Goexit()
}
func (q *quietTB) Fail()        { q.failed.Store(true) }
func (q *quietTB) Failed() bool { return q.failed.Load() }
