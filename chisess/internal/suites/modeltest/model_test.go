package modeltest_test

import (
	"testing"

	"github.com/chisess/kit/chisess/internal/suites/modeltest"
)

// TestModel runs the checker on every backend: a short seeded run here,
// a long one by hand with -modeltest.n=100000 (and -modeltest.seed=random
// for new histories). The properties of the failures still open (see
// knownOpen) are not checked unless the tests are built with
// -tags modeltest_known.
func TestModel(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			opts := knownOpen
			opts.N = tg.n
			modeltest.Check(t, tg.open(t), opts)
		})
	}
}
