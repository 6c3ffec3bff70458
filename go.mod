module github.com/chisess/kit

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/matryer/is v1.4.1
)
