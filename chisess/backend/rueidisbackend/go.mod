module github.com/chisess/kit/chisess/backend/rueidisbackend

go 1.26.0

require (
	github.com/chisess/kit v0.0.0-00010101000000-000000000000
	github.com/matryer/is v1.4.1
	github.com/redis/rueidis v1.0.80
)

require golang.org/x/sys v0.50.0 // indirect

// These replace directives point at this checkout, so that the module builds
// and `go mod tidy` works before anything is published. Releases drop them.
replace github.com/chisess/kit => ../../..
