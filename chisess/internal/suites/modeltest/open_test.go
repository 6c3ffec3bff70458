//go:build !modeltest_known

package modeltest_test

import "github.com/chisess/kit/chisess/internal/suites/modeltest"

// knownOpen keeps the failures that the checker finds on the code as it
// is, and that are not fixed yet, from failing CI, so that CI can land and
// go on looking for the next one. Each is kept as a regression test in
// known_test.go, built with -tags modeltest_known (which also empties
// this list). Once the fixes are in, delete this file and the build tag
// of known_test.go.
var knownOpen = modeltest.Options{
	Ignore: []string{
		// Issue 13, failure 1: a logout that loaded the session before a
		// concurrent ID renewal (RenewEvery, Rotate) answers 200 and the
		// renewed session lives on (TestLogoutEndsSession*). The same for
		// DestroyOwner (TestDestroyOwnerEndsSession*).
		"no-resurrection",
		// Issue 13, failure 11: of two concurrent AddFlash one message is
		// lost (TestConcurrentAddFlashKeepsBoth, and the Flashes cases).
		"flashes",
		// Issue 13, failure 12: a read-only request hands out the token
		// of a session ended meanwhile (TestIdleRefresh*,
		// TestForwardedReadHandsOutNoDeadCookie).
		"no-dead-cookie",
		// A periodic renewal whose merge empties the session leaves a
		// stale copy under the new ID, reachable through the forward
		// record (TestEmptyingRenewalLeavesNoCopy).
		"data",
		// A request that loaded the session before two periodic renewals
		// in a row (RenewEvery shorter than RenewGrace) fails with
		// ErrSessionGone: its commit follows one forward record, not two
		// (TestSlowRequestFollowsTwoRenewals).
		"renewal-not-an-ending",
	},
	// Issue 13, failure 3: another manager on the same store loads this
	// app's sessions (TestOtherAppCannotLoadSession*). Not drawn at all,
	// rather than ignored: the other app renews and refreshes sessions it
	// should not see, which breaks other properties downstream.
	Without: []modeltest.Kind{modeltest.OtherApp},
}
