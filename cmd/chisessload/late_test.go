package main

import (
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

// TestLandedLate checks which answers a request the user gave up on can
// explain: the changes it could have made, each once, within lateWindow;
// never a counter that went back, another user, or more changes than
// were given up on.
func TestLandedLate(t *testing.T) {
	want := state{User: "ada", Count: 3, SSE: 2, Visits: 1}
	with := func(f func(*state)) state { s := want; f(&s); return s }
	for _, tc := range []struct {
		name                string
		failed              []string // the kinds given up on, in order
		expired             bool     // lateWindow has passed since
		got                 state
		wantLate, wantCount bool
	}{
		{"a write landed", []string{kWrite}, false, with(func(s *state) { s.Count++ }), true, true},
		{"two writes, one landed", []string{kWrite, kWrite}, false, with(func(s *state) { s.Count++ }), true, true},
		{"two landed, one given up on", []string{kWrite}, false, with(func(s *state) { s.Count += 2 }), false, false},
		{"stream ticks landed", []string{kStream}, false, with(func(s *state) { s.SSE += 2 }), true, true},
		{"more ticks than a stream saves", []string{kStream}, false, with(func(s *state) { s.SSE += streamTicks + 1 }), false, false},
		{"an API write landed", []string{kAPIWrite}, false, with(func(s *state) { s.Visits++ }), true, true},
		{"a write, but the ticks moved", []string{kWrite}, false, with(func(s *state) { s.SSE++ }), false, false},
		{"the counter went back", []string{kWrite}, false, with(func(s *state) { s.Count-- }), false, false},
		{"another user", []string{kWrite}, false, with(func(s *state) { s.Count++; s.User = "bob" }), false, false},
		// A change that landed in time may show in any later answer; one
		// clean answer sent after the window ends it (TestLateForgotten).
		{"seen after the window", []string{kWrite}, true, with(func(s *state) { s.Count++ }), true, true},
		{"nothing given up on", nil, false, with(func(s *state) { s.Count++ }), false, false},
		{"a read given up on", []string{kRead}, false, with(func(s *state) { s.Count++ }), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			v := &vu{t: &target{rec: newRecorder(time.Now()), storeTimeout: chisess.DefaultTimeout}}
			for _, k := range tc.failed {
				v.afterError(k)
			}
			if tc.expired {
				v.lateUntil = time.Now().Add(-time.Millisecond)
				v.sent = time.Now()
			}
			is.Equal(v.landedLate(tc.got, want), tc.wantLate) // whether the given-up requests explain got
			is.Equal(v.t.rec.late == 1, tc.wantCount)         // and it is counted
			if tc.wantLate {
				// Each change explains one answer: the same again fits only
				// what is left, one more write in "two writes, one landed".
				is.Equal(v.landedLate(tc.got, want), len(tc.failed) == 2)
			}
		})
	}
}

// TestLateForgotten: an answer that shows no late change to a request
// sent after the window ends what may still land; one sent inside the
// window does not.
func TestLateForgotten(t *testing.T) {
	is := is.New(t)
	want := state{User: "ada", Count: 3}
	later := want
	later.Count++
	v := &vu{t: &target{rec: newRecorder(time.Now()), storeTimeout: chisess.DefaultTimeout}}
	v.afterError(kWrite)
	v.sent = time.Now()                // inside the window
	is.True(!v.landedLate(want, want)) // a clean answer
	is.True(v.landedLate(later, want)) // still lets the change show later
	v.afterError(kWrite)
	v.lateUntil = time.Now().Add(-time.Millisecond)
	v.sent = time.Now()                 // after the window
	is.True(!v.landedLate(want, want))  // a clean answer
	is.True(!v.landedLate(later, want)) // and nothing may land any more
}

// TestLateLogins: a login given up on may add a session that "log out
// everywhere" finds after the user's model was reset, for lateWindow.
func TestLateLogins(t *testing.T) {
	is := is.New(t)
	v := &vu{t: &target{rec: newRecorder(time.Now()), storeTimeout: chisess.DefaultTimeout}}
	is.Equal(v.recentLateLogins(), 0) // none given up on
	v.afterError(kLogin)
	v.afterError(kAPILogin)
	is.Equal(v.recentLateLogins(), 2) // both may still land
	v.lateLogins[0] = time.Now().Add(-v.t.lateWindow() - time.Second)
	is.Equal(v.recentLateLogins(), 1) // the older one is past the window, and forgotten
	is.Equal(len(v.lateLogins), 1)
}
