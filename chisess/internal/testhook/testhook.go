// Package testhook lets the repository's own test suites reach into a
// chisess.Manager where the public API deliberately does not: today, to run
// a manager on a clock the test drives, so that idle refreshes and periodic
// renewals come due without sleeping and without testing/synctest (whose
// fake clock cannot reach real Redis or PostgreSQL servers).
//
// It is internal: applications never see it, and nothing in it is set
// unless a test sets it.
package testhook

import "time"

// SetClock makes the manager m (a *chisess.Manager) read the time from now
// instead of time.Now. Call it right after chisess.New, before the manager
// serves a request. chisess sets this variable in its init function.
var SetClock func(m any, now func() time.Time)
