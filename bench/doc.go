// Package bench compares chisess with alexedwards/scs and gorilla/sessions
// on the same requests through the same chi router.
//
// It is a module of its own (github.com/chisess/kit/bench, with a replace
// to the main module) so that the main go.mod never pulls in scs, gorilla
// or the benchmark tooling.
//
// Every library serves the same five scenarios for a session holding ten
// small strings and a counter (about 330 bytes):
//
//	Bare       chi alone, no session library: the floor
//	Untouched  a route that never reads the session, with a valid cookie
//	Read       read one string
//	RMW        read the counter and write it back plus one
//	New        no cookie: create a session holding one key
//
// each serially and under b.RunParallel, e.g.
//
//	go test -run '^$' -bench 'Read/chisess-memory/serial' -benchmem
//
// BenchmarkFloor adds what no library can go under: a middleware that only
// adds a context value (and wraps the ResponseWriter), and a handler that
// makes only the Redis round trips of a read, a read-modify-write and a new
// session. The report shows how far each target sits from them.
//
// TestAdaptersPersist runs every scenario once per library through the same
// adapters and checks that reads see the stored values and writes persist,
// so a fast number can never come from a broken adapter.
//
// Rows that need Redis or PostgreSQL are skipped unless CHISESS_REDIS_ADDR
// or CHISESS_POSTGRES_URL is set (scripts/services.sh starts both), and fail
// instead when CHISESS_REQUIRE_SERVICES=1. run.sh runs the whole suite and
// writes docs/benchmarks.md with cmd/report.
package bench
