package bench

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
)

// A scenario is one route, requested the same way for every library.
type scenario struct {
	path string
	// cookie: the request carries the cookie of a seeded session.
	cookie bool
}

var (
	scBare      = scenario{path: pathUntouched, cookie: true}
	scUntouched = scenario{path: pathUntouched, cookie: true}
	scRead      = scenario{path: pathRead, cookie: true}
	scRMW       = scenario{path: pathRMW, cookie: true}
	scNew       = scenario{path: pathNew}
)

// BenchmarkBare is scenario A, the floor: chi alone, no session library,
// serving the same request (cookie included) as every other row.
func BenchmarkBare(b *testing.B) { run(b, []library{bare}, scBare) }

// BenchmarkFloor measures what no session library can go under on this
// machine, on the same router and requests as the scenarios, so that the
// report can say how far each target sits from what is possible:
//
//   - context-value, context-value+writer: a middleware that only puts a
//     value in the request's context (r.WithContext, a copy of the
//     request) and, for the second, wraps the ResponseWriter, as a
//     middleware that commits before the first byte must. Scenario B of
//     any library mounted as middleware pays at least this.
//   - redis-get, redis-get+set, redis-set: a handler that makes the round
//     trips of a session read (one GET of a 330-byte value), of a
//     read-modify-write (GET, then SET with a TTL) and of a new session
//     (one SET with a TTL) on the go-redis client every Redis row uses, and
//     does nothing else: a Redis session store that cost nothing but its
//     round trips would take this long.
//   - rueidis-swap, rueidis-set: the commands chisess-rueidis sends for a
//     read-modify-write of a cached session (its swap transaction, one
//     write) and for a new session (one SET with a TTL), alone, on a
//     rueidis client set up as rueidisbackend sets its own: what one
//     round trip costs through that client.
//
// It is declared here, right after BenchmarkBare, because benchmarks run in
// the order of the source: measured at the end of a round, after the
// PostgreSQL and bbolt rows, the floors came out 10% slower than in a
// process of their own, and than the B rows they bound.
func BenchmarkFloor(b *testing.B) {
	for _, f := range floors {
		b.Run(f.name, func(b *testing.B) { serveModes(b, f.setup(b), f.sc) })
	}
}

// BenchmarkUntouched is scenario B: a route that never uses the session,
// requested with a valid session cookie.
func BenchmarkUntouched(b *testing.B) { run(b, libraries, scUntouched) }

// BenchmarkRead is scenario C: load the session and read one string.
func BenchmarkRead(b *testing.B) { run(b, libraries, scRead) }

// BenchmarkRMW is scenario D: load the session, read the counter, write
// counter+1. Server stores update the same session in place on every
// iteration; cookie stores seal a new cookie every time.
func BenchmarkRMW(b *testing.B) { run(b, libraries, scRMW) }

// BenchmarkNew is scenario E: a request without a cookie creates a session
// holding one key.
func BenchmarkNew(b *testing.B) { run(b, libraries, scNew) }

// run benchmarks sc for each library, serially and in parallel.
func run(b *testing.B, libs []library, sc scenario) {
	for _, lib := range libs {
		b.Run(lib.name, func(b *testing.B) { serveModes(b, lib.setup(b), sc) })
	}
}

// serveModes benchmarks sc on inst, serially and in parallel.
func serveModes(b *testing.B, inst instance, sc scenario) {
	reqs := requests(b, inst, sc, max(runtime.GOMAXPROCS(0), 1))
	b.Run("serial", func(b *testing.B) { serveSerial(b, inst, reqs[0]) })
	b.Run("parallel", func(b *testing.B) { serveParallel(b, inst, reqs) })
}

// requests builds n requests for sc, each with the cookie of its own
// seeded session when sc wants one, so that parallel goroutines work on
// different sessions as different visitors would. Requests are built once
// and reused on every iteration, for every library alike: the handlers
// never change them (chi, chisess and scs derive new requests with
// WithContext).
func requests(tb testing.TB, inst instance, sc scenario, n int) []*http.Request {
	tb.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, sc.path, nil)
		if sc.cookie {
			reqs[i].AddCookie(seed(tb, inst))
		}
	}
	return reqs
}

// seed creates a session holding the ten strings and the counter through
// the library's /seed route and returns its cookie.
func seed(tb testing.TB, inst instance) *http.Cookie {
	tb.Helper()
	rec := serve(inst.handler, httptest.NewRequest(http.MethodGet, pathSeed, nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("seed: status %d: %s", rec.Code, rec.Body)
	}
	c := sessionCookie(rec)
	if c == nil {
		tb.Fatalf("seed: no %s cookie in %q", cookieName, rec.Header().Values("Set-Cookie"))
	}
	return c
}

// serve is one request, as the benchmarks time it.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// sessionCookie returns the session cookie the response sets, or nil.
func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

func serveSerial(b *testing.B, inst instance, req *http.Request) {
	b.ReportAllocs()
	start, hits := inst.rt.load(), hitsFrom(inst)
	for b.Loop() {
		if rec := serve(inst.handler, req); rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	inst.rt.report(b, start)
	hits(b)
}

// hitsFrom returns a function that reports the hit-ratio of inst's local
// cache over the reads made since hitsFrom was called; it does nothing for
// a library without a cache, or when no read was made.
func hitsFrom(inst instance) func(*testing.B) {
	if inst.hits == nil {
		return func(*testing.B) {}
	}
	h0, r0 := inst.hits()
	return func(b *testing.B) {
		if h, r := inst.hits(); r > r0 {
			b.ReportMetric(float64(h-h0)/float64(r-r0), "hit-ratio")
		}
	}
}

func serveParallel(b *testing.B, inst instance, reqs []*http.Request) {
	b.ReportAllocs()
	start, hits := inst.rt.load(), hitsFrom(inst)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		req := reqs[int(next.Add(1)-1)%len(reqs)]
		for pb.Next() {
			if rec := serve(inst.handler, req); rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	inst.rt.report(b, start)
	hits(b)
}
