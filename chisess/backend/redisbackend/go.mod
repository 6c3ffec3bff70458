module github.com/chisess/kit/chisess/backend/redisbackend

go 1.26.0

require (
	github.com/chisess/kit v0.0.0-00010101000000-000000000000
	github.com/matryer/is v1.4.1
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// These replace directives point at this checkout, so that the module builds
// and `go mod tidy` works before anything is published. Releases drop them.
replace github.com/chisess/kit => ../../..
