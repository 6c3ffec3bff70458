//go:build modeltest_known

package modeltest_test

import "github.com/chisess/kit/chisess/internal/suites/modeltest"

// knownOpen is empty: built with -tags modeltest_known, TestModel checks
// every property.
var knownOpen = modeltest.Options{}
