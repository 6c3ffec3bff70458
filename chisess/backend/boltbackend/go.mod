module github.com/chisess/kit/chisess/backend/boltbackend

go 1.26.0

require (
	github.com/chisess/kit v0.0.0-00010101000000-000000000000
	github.com/go-chi/chi/v5 v5.5.0
	github.com/matryer/is v1.4.1
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// These replace directives point at this checkout, so that the module builds
// and `go mod tidy` works before anything is published. Releases drop them.
replace github.com/chisess/kit => ../../..
