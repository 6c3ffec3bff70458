package main

import (
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Report is the JSON result: one Result per backend run, in the order
// they ran.
type Report struct {
	Machine Machine  `json:"machine"`
	Runs    []Result `json:"runs"`
}

// Machine describes where the figures were taken.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Go         string `json:"go"`
}

// Result is what one run measured. Counts are over the whole run; Series
// holds the same measures second by second, for charts. Fields are only
// ever added, so older results stay readable.
type Result struct {
	Backend     string  `json:"backend"`
	VUs         int     `json:"vus"`
	Duration    string  `json:"duration"`               // the time bound asked for
	MaxRequests int64   `json:"max_requests,omitempty"` // the count bound, 0 for none
	Seed        uint64  `json:"seed"`
	Break       string  `json:"break,omitempty"` // the broken app variant, if any
	Started     string  `json:"started"`         // RFC 3339
	Elapsed     float64 `json:"elapsed_s"`

	Requests  int64   `json:"requests"`
	PerSecond float64 `json:"requests_per_s"`
	Latency   Latency `json:"latency_ms"`

	// The checker's counts: each is a response that contradicts what the
	// virtual user knows its session must hold (see docs/reliability.md).
	Lost        int64 `json:"sessions_lost"`
	Resurrected int64 `json:"sessions_resurrected"`
	WrongData   int64 `json:"wrong_data"`
	// LateLanded counts answers that showed the change of a request the
	// virtual user had given up on (a timeout or a broken connection),
	// which the app carried out after all, within lateWindow: not a
	// problem, but counted so that a run shows how often it happened.
	LateLanded int64 `json:"late_landed"`
	// Errors counts failed requests by class: transport, timeout,
	// status_4xx, status_5xx, decode, stream.
	Errors   map[string]int64 `json:"errors"`
	Problems []string         `json:"problems,omitempty"` // the first few, described

	Kinds  []Kind   `json:"kinds"`  // one per request kind, by name
	Series []Second `json:"series"` // one per second of the run
	// AppSessionErrors counts the error responses the app's session layer
	// gave (its ErrorHandler, and failed Saves in streams).
	AppSessionErrors int64 `json:"app_session_errors"`
	// Fault is what the run's fault did, when it had one (-fault).
	Fault *Fault `json:"fault,omitempty"`
}

// Fault is what a fault injected during a run did and what the users saw
// around it. Times are seconds from the start of the run.
type Fault struct {
	Kind string `json:"kind"` // -fault: redis-restart, postgres-restart, partition, ...
	// KilledAt is when the fault struck: the store (or the app, for
	// bolt-kill) killed or its stop begun, the link cut or slowed.
	KilledAt float64 `json:"killed_at_s"`
	// UpAt is when the store served again: the restarted server answered,
	// the link was restored; 0 if it never did.
	UpAt float64 `json:"up_at_s"`
	// The failed requests from the kill on: how many, out of how many
	// requests in that span, and the time from the first to the last.
	Errors         int64   `json:"errors"`
	Requests       int64   `json:"requests"`
	ErrorRate      float64 `json:"error_rate"`
	ErrorSpan      float64 `json:"error_span_s"`
	ErrorsBefore   int64   `json:"errors_before_kill"` // must be 0
	LastErrorAt    float64 `json:"last_error_at_s"`
	TimeToRecover  float64 `json:"time_to_recover_s"` // from UpAt to the last error, 0 if none came after
	Recovered      bool    `json:"recovered"`         // requests succeeded after the last error
	LostInWindow   int64   `json:"lost_in_documented_window"`
	LostUnexpected int64   `json:"lost_unexpected"` // must be 0
	// Kept counts the sessions last seen before the kill and found intact
	// after the restart: 0 without persistence, all that were checked with
	// AOF.
	Kept int64 `json:"sessions_kept"`
	// UndoneInWindow counts logouts the restart undid inside the
	// documented window: "log out everywhere" found a session its logout
	// had ended. AOF everysec and the failovers allow it.
	UndoneInWindow int64 `json:"logouts_undone_in_documented_window"`
	// RejoinedAt is when a failover's killed primary, started again,
	// replicated the new one; 0 if it did not within the run.
	RejoinedAt float64 `json:"rejoined_at_s,omitempty"`
	AppUp      bool    `json:"app_up"` // the app answered after the run
	Window     string  `json:"documented_window"`
	// Latency is that of the requests begun from the strike until the
	// store could answer again: what a slow link costs.
	Latency Latency `json:"latency_during_ms"`
}

// Latency is a latency distribution, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Kind is one kind of request: read, write, login, ...
type Kind struct {
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Latency  Latency `json:"latency_ms"`
}

// Second is one second of the run: T is its index from the start.
type Second struct {
	T          int     `json:"t"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Problems   int64   `json:"problems"` // lost + resurrected + wrong data
	Latency    Latency `json:"latency_ms"`
	Goroutines int     `json:"goroutines"`
	HeapBytes  uint64  `json:"heap_bytes"`
}

// recorder gathers what the virtual users see. It keeps every latency, a
// few bytes per request, so percentiles are exact.
type recorder struct {
	start time.Time

	mu          sync.Mutex
	kinds       map[string]*kindRec
	secs        []secRec
	errors      map[string]int64
	lost        int64
	resurrected int64
	wrong       int64
	late        int64
	problems    []string
	errDetails  int

	// The fault, when the run has one: its kind, when the store was
	// killed and when it answered again, the losses its documented window
	// allows, and when requests failed and succeeded.
	fault        string
	killAt, upAt time.Time
	relaunchAt   time.Time       // the restart or promotion began: the store may answer from then on
	struckAt     time.Time       // the strike began (killAt is when it was done)
	rejoinAt     time.Time       // a failover's killed primary replicates the new one
	during       []time.Duration // latencies of the requests begun during the fault
	lostInWindow int64
	keptCount    int64
	undoneCount  int64
	errBefore    int64
	firstErr     time.Time // from the kill on
	lastErr      time.Time
	lastOK       time.Time
}

type kindRec struct {
	lat    []time.Duration
	errors int64
}

type secRec struct {
	lat        []time.Duration
	errors     int64
	problems   int64
	goroutines int
	heap       uint64
}

// maxProblems and maxErrorDetails bound the problems and the errors a
// Result describes, so that many errors leave room for the problems.
const (
	maxProblems     = 20
	maxErrorDetails = 10
)

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, kinds: map[string]*kindRec{}, errors: map[string]int64{}}
}

// sec returns the record of the second at, growing the series. Call it
// with mu held.
func (r *recorder) sec(at time.Time) *secRec {
	i := max(0, int(at.Sub(r.start)/time.Second))
	for len(r.secs) <= i {
		r.secs = append(r.secs, secRec{})
	}
	return &r.secs[i]
}

// request records one request of kind, started at start, that took d;
// class is "" for success or the error's class.
func (r *recorder) request(kind string, start time.Time, d time.Duration, class string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.kinds[kind]
	if k == nil {
		k = &kindRec{}
		r.kinds[kind] = k
	}
	k.lat = append(k.lat, d)
	end := start.Add(d)
	if !r.struckAt.IsZero() && !start.Before(r.struckAt) && (r.relaunchAt.IsZero() || start.Before(r.relaunchAt)) {
		r.during = append(r.during, d)
	}
	s := r.sec(end)
	s.lat = append(s.lat, d)
	if class != "" {
		k.errors++
		s.errors++
		r.errors[class]++
		r.errorAt(end)
	} else if end.After(r.lastOK) {
		r.lastOK = end
	}
}

// errorAt notes the time of an error, for the fault's figures. Call it
// with mu held.
func (r *recorder) errorAt(at time.Time) {
	switch {
	case r.fault == "":
	case r.struck().IsZero() || at.Before(r.struck()):
		r.errBefore++
	default:
		if r.firstErr.IsZero() || at.Before(r.firstErr) {
			r.firstErr = at
		}
		if at.After(r.lastErr) {
			r.lastErr = at
		}
	}
}

// struck is when the fault began to strike: errors from then on are the
// fault's. A stop can take a while (PostgreSQL's), and requests fail from
// its start.
func (r *recorder) struck() time.Time {
	if !r.struckAt.IsZero() {
		return r.struckAt
	}
	return r.killAt
}

// note sets one of the fault's times: r.killAt when the store was
// killed, r.relaunchAt when its restart began, r.upAt when it answered.
func (r *recorder) note(t *time.Time, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*t = at
}

// away reports whether a request that ran from start to end, and failed,
// changed nothing in the store, whatever its answer, as the fault's row
// says: when the fault leaves no server that takes writes (gone), the
// request began after the kill and ended before the restart or promotion
// began; or, when the fault restarts one server on its port
// (refusedUnchanged), it was refused after the kill (nothing listened on
// the port when the request failed, and nothing had since the kill: no
// call of the request reached it).
func (r *recorder) away(start, end time.Time, refused bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := faults[r.fault]
	if !f.gone || r.killAt.IsZero() || start.Before(r.killAt) {
		return false
	}
	return r.relaunchAt.IsZero() || end.Before(r.relaunchAt) || refused && f.refusedUnchanged
}

// kept records a session found intact that the store last answered with
// at seen: it counts when seen was before the kill and the store is back.
func (r *recorder) kept(seen time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.killAt.IsZero() && !r.upAt.IsZero() && seen.Before(r.killAt) {
		r.keptCount++
	}
}

// landedLate records an answer that showed a given-up request's change.
func (r *recorder) landedLate() {
	r.mu.Lock()
	r.late++
	r.mu.Unlock()
}

// ending is a logout the store answered at at, which ended sessions
// sessions.
type ending struct {
	at       time.Time
	sessions int
}

// undone records "log out everywhere" ending extra sessions the user does
// not know of: sessions its logouts ended came back. When the store's
// window has a span before the kill (AOF everysec: two seconds), that is
// inside the window for the sessions of the endings answered from that
// span before the kill until the store was back (the store replays a file
// without their deletes), less the explained ones an
// earlier "log out everywhere" already found again; anything more is
// wrong data. It returns how many of the extra sessions the window
// explains.
func (r *recorder) undone(detail string, extra int, endings []ending, explained int) int {
	r.mu.Lock()
	could := 0
	if w := faults[r.fault].window; w.before > 0 && !r.killAt.IsZero() && !r.upAt.IsZero() {
		for _, e := range endings {
			if !e.at.Before(r.killAt.Add(-w.before)) && e.at.Before(r.upAt) {
				could += e.sessions
			}
		}
	}
	inWindow := could-explained >= extra
	if inWindow {
		r.undoneCount += int64(extra)
		if len(r.problems) < maxProblems+maxErrorDetails {
			r.problems = append(r.problems, "logout undone: "+detail+" (inside the documented loss window)")
		}
	}
	r.mu.Unlock()
	if !inWindow {
		r.problem(probWrong, detail)
		return 0
	}
	return extra
}

// lostSession records a session found gone while not logged out: seen is
// when the store last answered with it, changed when it last changed it.
// The loss is inside the store's documented window when the fault came
// after seen and the store may drop it: without persistence every session
// stored before the restart; with AOF everysec the sessions changed in
// the last two seconds before the kill; with AOF always none.
func (r *recorder) lostSession(detail string, seen, changed time.Time) {
	r.mu.Lock()
	inWindow := false
	if !r.killAt.IsZero() && !r.upAt.IsZero() && seen.Before(r.upAt) {
		w := faults[r.fault].window
		inWindow = w.all || w.before > 0 && !changed.Before(r.killAt.Add(-w.before))
	}
	if inWindow {
		r.lostInWindow++
	}
	r.mu.Unlock()
	if inWindow {
		detail += " (inside the documented loss window)"
	}
	r.problem(probLost, detail)
}

// failed records an error found in the answer to a request already
// recorded as a success: it counts as an error, not as another request.
func (r *recorder) failed(kind, class string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.kinds[kind].errors++
	r.sec(now).errors++
	r.errors[class]++
	r.errorAt(now)
}

// problem kinds.
const (
	probLost        = "lost"
	probResurrected = "resurrected"
	probWrong       = "wrong data"
)

// problem records a response that contradicts the model.
func (r *recorder) problem(what, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch what {
	case probLost:
		r.lost++
	case probResurrected:
		r.resurrected++
	default:
		r.wrong++
	}
	r.sec(time.Now()).problems++
	if len(r.problems) < maxProblems+maxErrorDetails {
		r.problems = append(r.problems, what+": "+detail)
	}
}

// errorDetail keeps the first few errors' descriptions with the problems.
func (r *recorder) errorDetail(detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errDetails < maxErrorDetails {
		r.errDetails++
		r.problems = append(r.problems, "error: "+detail)
	}
}

// sample records the process's goroutines and heap for the current second.
func (r *recorder) sample(now time.Time) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sec(now)
	s.goroutines, s.heap = g, ms.HeapAlloc
}

// totals returns the counts so far, for the progress line.
func (r *recorder) totals() (requests, errors, problems int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.kinds {
		requests += int64(len(k.lat))
		errors += k.errors
	}
	return requests, errors, r.lost + r.resurrected + r.wrong
}

// fill writes the recorded figures into res.
func (r *recorder) fill(res *Result, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []time.Duration
	names := make([]string, 0, len(r.kinds))
	for name := range r.kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		k := r.kinds[name]
		all = append(all, k.lat...)
		res.Kinds = append(res.Kinds, Kind{Name: name, Requests: int64(len(k.lat)), Errors: k.errors, Latency: latencyOf(k.lat)})
	}
	res.Requests = int64(len(all))
	res.Elapsed = elapsed.Seconds()
	if elapsed > 0 {
		res.PerSecond = math.Round(float64(res.Requests)/elapsed.Seconds()*10) / 10
	}
	res.Latency = latencyOf(all)
	res.Lost, res.Resurrected, res.WrongData, res.LateLanded = r.lost, r.resurrected, r.wrong, r.late
	res.Errors = map[string]int64{}
	for c, n := range r.errors {
		res.Errors[c] = n
	}
	res.Problems = slices.Clone(r.problems)
	res.Series = make([]Second, len(r.secs))
	for i, s := range r.secs {
		res.Series[i] = Second{T: i, Requests: int64(len(s.lat)), Errors: s.errors, Problems: s.problems,
			Latency: latencyOf(s.lat), Goroutines: s.goroutines, HeapBytes: s.heap}
	}
	if r.fault != "" {
		res.Fault = r.faultResult(res)
	}
}

// faultResult sums up the fault: its times, the errors from the kill to
// the last one, and the losses. Call it with mu held.
func (r *recorder) faultResult(res *Result) *Fault {
	f := &Fault{Kind: r.fault, Window: documentedWindow(r.fault), ErrorsBefore: r.errBefore, Latency: latencyOf(r.during),
		LostInWindow: r.lostInWindow, LostUnexpected: r.lost - r.lostInWindow, Kept: r.keptCount, UndoneInWindow: r.undoneCount}
	if r.killAt.IsZero() {
		return f
	}
	secs := func(t time.Time) float64 { return math.Round(t.Sub(r.start).Seconds()*1000) / 1000 }
	f.KilledAt = secs(r.struck())
	if !r.upAt.IsZero() {
		f.UpAt = secs(r.upAt)
	}
	if !r.rejoinAt.IsZero() {
		f.RejoinedAt = secs(r.rejoinAt)
	}
	end := r.upAt
	if !r.lastErr.IsZero() {
		f.LastErrorAt = secs(r.lastErr)
		f.ErrorSpan = math.Round(r.lastErr.Sub(r.firstErr).Seconds()*1000) / 1000
		if r.lastErr.After(end) {
			end = r.lastErr
		}
	}
	if !r.upAt.IsZero() {
		f.TimeToRecover = math.Max(0, f.LastErrorAt-f.UpAt)
		f.Recovered = r.lastOK.After(end)
	}
	// The requests and errors of the seconds from the kill to the end of
	// the outage: the store away, and the errors it left behind.
	last := len(res.Series) - 1
	if !end.IsZero() {
		last = min(last, int(end.Sub(r.start)/time.Second))
	}
	first := int(r.struck().Sub(r.start) / time.Second)
	for _, s := range res.Series[min(first, last+1):max(0, last+1)] {
		f.Requests += s.Requests
		f.Errors += s.Errors
	}
	if f.Requests > 0 {
		f.ErrorRate = math.Round(float64(f.Errors)/float64(f.Requests)*10000) / 10000
	}
	return f
}

// latencyOf sorts lat and returns its percentiles (nearest rank).
func latencyOf(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return ms(lat[max(0, min(i, len(lat)-1))])
	}
	return Latency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(lat[len(lat)-1])}
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func thisMachine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return m
}
