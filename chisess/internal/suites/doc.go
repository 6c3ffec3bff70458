// Package suites runs the repository's shared test suites on every
// backend, from one table: the conformance suite every key-value backend
// must pass (sessiontest.RunConformance), the feature flows
// (internal/flowtest), the concurrent-request scenarios
// (internal/racetest), the outage flow of the stores behind a network
// connection (internal/outagetest) and the Swapper cases of the stores with
// a clock a test can move (internal/swaptest).
//
// It is a module of its own, so that the drivers it needs (go-redis, pgx,
// bbolt) stay out of the core module. The suites themselves live in the
// core module under chisess/internal; only the wiring is here, in the
// tests: backends_test.go holds the table, suites_test.go one loop per
// suite. Tests of one backend's own behaviour (its commands, its schema,
// its file) stay in that backend's module.
//
// The Redis, Redis Cluster and PostgreSQL rows need the servers that
// scripts/services.sh starts (CHISESS_REDIS_ADDR,
// CHISESS_REDIS_CLUSTER_ADDRS, CHISESS_POSTGRES_URL); without them those
// rows are skipped, or fail when CHISESS_REQUIRE_SERVICES=1.
package suites
