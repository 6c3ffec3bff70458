module github.com/chisess/kit/cmd/chisessload

go 1.26.0

require (
	github.com/chisess/kit v0.0.0-00010101000000-000000000000
	github.com/chisess/kit/chisess/backend/boltbackend v0.0.0-00010101000000-000000000000
	github.com/chisess/kit/chisess/backend/pgbackend v0.0.0-00010101000000-000000000000
	github.com/chisess/kit/chisess/backend/redisbackend v0.0.0-00010101000000-000000000000
	github.com/go-chi/chi/v5 v5.5.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/matryer/is v1.4.1
	github.com/redis/go-redis/v9 v9.23.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/text v0.42.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// These replace directives point at this checkout, so that the module builds
// and `go mod tidy` works before anything is published. Releases drop them.
replace (
	github.com/chisess/kit => ../..
	github.com/chisess/kit/chisess/backend/boltbackend => ../../chisess/backend/boltbackend
	github.com/chisess/kit/chisess/backend/pgbackend => ../../chisess/backend/pgbackend
	github.com/chisess/kit/chisess/backend/redisbackend => ../../chisess/backend/redisbackend
)
