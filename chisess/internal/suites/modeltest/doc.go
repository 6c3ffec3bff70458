// Package modeltest is a model-based checker of chisess's concurrency
// promises (docs/backends.md, "What each backend promises"): it runs random
// concurrent histories of requests through a real chi stack on any backend,
// one backend call at a time in an order it chooses, and checks each
// history against a sequential reference model of what the docs promise.
//
// How a history runs. A history is a few requests (2 to 8) from one or two
// clients (a cookie jar, or an API client keeping the token of an
// Authorization: Bearer header), sent to either of two managers that share
// one backend (two app servers), or, with a client's token pasted into its
// cookie, to the manager of another app on the same backend. Every request
// runs on its own goroutine through chisess.Load, Autoload (or RenewToken for a
// login) and a handler (a Save request answers first, then changes the
// session with Session.Save, as a stream would). The backend is wrapped so
// that every call parks at
// a gate, and the handler parks once more after it has changed the session
// and before the commit. A scheduler waits until every running request is
// parked or finished, then lets exactly one go on (a choice rapid draws),
// so a history is sequential and reproducible and yet reaches any
// interleaving of backend calls, inside commits too (between writing a
// renewed session and swapping its old record, say). Nothing sleeps. The
// managers read a clock the scheduler moves before each request (through
// internal/testhook), so idle refreshes, periodic renewals and the end of
// renewal grace windows come due; backend TTLs are relative and much longer
// than the moves, so nothing expires.
//
// What is checked, after each response and at the end, is listed with the
// properties in check.go: no resurrection after a logout or a "log out
// everywhere", no dead cookie handed out, isolation between apps, no
// spurious failure, only ErrStaleSession as an error, the cache headers, and
// the session data (every key, the flash queue and the own lifetime of
// every session lineage) against a linearizable model, with porcupine.
//
// A failing history is shrunk by rapid, then further by replaying smaller
// Cases, and printed with its trace and as a [Case] literal, which [Replay]
// runs again, step for step, as a regression test.
//
// The tests that run it on every backend, and the counterexamples it found
// kept as regression tests, are in the suites package, beside the table of
// backends (chisess/internal/suites/model_test.go). Running them (from
// chisess/internal/suites, with the services of scripts/services.sh and
// their CHISESS_* variables for the server-side backends):
//
//	go test .                                          # the short seeded run of CI, and the regression tests
//	go test -run 'TestModel$/PostgreSQL' -modeltest.n=100000 -modeltest.seed=random -v .
//
// -modeltest.kinds (the request kinds to draw) and -modeltest.ignore (the
// properties not to check) help to look past a failure already found.
package modeltest
