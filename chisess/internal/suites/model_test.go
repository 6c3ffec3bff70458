package suites_test

import (
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/suites/modeltest"
)

// TestModel runs the model checker (see internal/suites/modeltest) on every
// row that sets histories: random concurrent histories of requests, two
// app servers and both transports, checked against a reference model of
// what docs/backends.md promises. CI runs a short seeded run; a long one
// by hand with -modeltest.n=100000 (and -modeltest.seed=random for new
// histories).
func TestModel(t *testing.T) {
	for _, sub := range subjects {
		if sub.histories == 0 {
			continue
		}
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			store := sub.fresh(t)
			modeltest.Check(t, func() backend.Backend { return store }, modeltest.Options{N: sub.histories})
		})
	}
}

// The counterexamples below are histories the checker found (shrunk, and
// kept verbatim) or that were written by hand from the same class (they
// say so), each a failure of the code before its fix. Each replays its
// history, step for step, on every row the checker runs on.

// replay runs c on every row that sets histories.
func replay(t *testing.T, c modeltest.Case) {
	for _, sub := range subjects {
		if sub.histories == 0 {
			continue
		}
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			store := sub.fresh(t)
			modeltest.Replay(t, store, c)
		})
	}
}

// A logout racing a renewal. A logout (#2) loads the session, then a read (#1)
// renews its ID under RenewEvery and answers with T2. The logout deletes
// the old ID's record (by then the forward record) and answers 200, but the
// session lives on under T2. Found by `-modeltest.kinds=get,set,logout`.
func TestLogoutEndsSessionRenewedMeanwhile(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: time.Nanosecond},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "a"}, // #0
			{Client: 0, Server: 0, Kind: modeltest.Get},           // #1
			{Client: 0, Server: 0, Kind: modeltest.Logout},        // #2
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 2, To: "commit"},
			{Req: 1, To: "done"},
			{Req: 2, To: "done"},
		},
	})
}

// A logout racing a renewal, with a login: a logout (#2) loads the session, a
// login under Rotate (#1) moves it to T2 and answers; the logout answers
// 200 and the logged-in session lives on under T2. Found with every kind
// but OtherApp.
func TestLogoutEndsSessionRotatedMeanwhile(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Login},  // #0
			{Client: 0, Server: 0, Kind: modeltest.Login},  // #1
			{Client: 0, Server: 0, Kind: modeltest.Logout}, // #2
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 2, To: "commit"},
			{Req: 1, To: "done"},
			{Req: 2, To: "done"},
		},
	})
}

// A logout racing a renewal, for "log out everywhere".
// A renewal under RenewEvery (#1) has unindexed the old key and not yet
// indexed the new one when DestroyOwner (#2) lists the owner's sessions:
// it finds none, answers 200, and the session lives on. The renewal
// indexes the new key before unindexing the old one, or DestroyOwner
// follows forward records, to fix it.
func TestDestroyOwnerEndsSessionBeingRenewed(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: time.Nanosecond},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Login},        // #0
			{Client: 0, Server: 0, Kind: modeltest.Get},          // #1
			{Client: 0, Server: 0, Kind: modeltest.DestroyOwner}, // #2
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "index"},
			{Req: 2, To: "done"},
		},
	})
}

// The same class: DestroyOwner (#1) lists the owner's session under T1,
// then a login (#2) moves it to T2; DestroyOwner finds T1 gone, answers 200,
// and the logged-in session lives on under T2.
func TestDestroyOwnerEndsSessionRotatedMeanwhile(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Login},        // #0
			{Client: 0, Server: 0, Kind: modeltest.DestroyOwner}, // #1
			{Client: 0, Server: 0, Kind: modeltest.Login},        // #2
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "read"},
			{Req: 2, To: "done"},
			{Req: 1, To: "done"},
		},
	})
}

// Concurrent flashes. Two AddFlash (#1, #2) load the same queue; #2
// commits [f2], #1's swap fails, it merges again and writes its own copy
// of the queue, [f1]: f2 is lost although both answered 200.
func TestConcurrentAddFlashKeepsBoth(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "a"}, // #0
			{Client: 0, Server: 0, Kind: modeltest.AddFlash},      // #1
			{Client: 0, Server: 0, Kind: modeltest.AddFlash},      // #2
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "swap"},
			{Req: 2, To: "done"},
			{Req: 1, To: "done"},
		},
	})
}

// A flash added while Flashes runs (written by hand; the search stops
// at the simpler case above). Flashes (#1) loads [f0], AddFlash (#2) adds
// f2, then #1 deletes the whole queue: f2 is neither shown nor queued.
func TestFlashesKeepsFlashAddedMeanwhile(t *testing.T) {
	replay(t, modeltest.Case{
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Kind: modeltest.AddFlash}, // #0
			{Kind: modeltest.Flashes},  // #1
			{Kind: modeltest.AddFlash}, // #2
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 1, To: "commit"}, {Req: 2, To: "done"}, {Req: 1, To: "done"}},
	})
}

// Two Flashes (#2, #3) that overlap both load [f1]; both answer 200 and
// show f1, which docs/guide.md allows ("Flash messages"): each removes
// what it loaded, and nothing is lost. The model accepts it; a message
// shown again by a Flashes that started after another had removed it is
// still a violation.
func TestOverlappingFlashesMayBothShowAMessage(t *testing.T) {
	replay(t, modeltest.Case{
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Kind: modeltest.Set, Key: "a"}, // #0
			{Kind: modeltest.AddFlash},      // #1
			{Kind: modeltest.Flashes},       // #2
			{Kind: modeltest.Flashes},       // #3
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 1, To: "done"}, {Req: 2, To: "commit"}, {Req: 3, To: "done"}, {Req: 2, To: "done"}},
	})
}

// A dead session's cookie. A read (#1) with a Rolling refresh due loads the
// session; a Delete (#2) removes its last key, which ends it; the read's
// refresh swap finds nothing, and it answers with a Set-Cookie for the
// dead token T1.
func TestIdleRefreshHandsOutNoDeadCookie(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{Lifetime: 4 * time.Hour, Rolling: true},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "a"},            // #0
			{Client: 0, Server: 0, Kind: modeltest.Get, Before: time.Minute}, // #1
			{Client: 0, Server: 0, Kind: modeltest.Delete, Key: "a"},         // #2
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "commit"},
			{Req: 2, To: "done"},
			{Req: 1, To: "done"},
		},
	})
}

// An idle refresh racing a logout must not hand out a dead cookie
// (written by hand; the search stops at the Delete above).
func TestIdleRefreshAfterLogoutHandsOutNoDeadCookie(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{Lifetime: 4 * time.Hour, Rolling: true},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Kind: modeltest.Login},                    // #0
			{Kind: modeltest.Get, Before: time.Minute}, // #1
			{Kind: modeltest.Logout},                   // #2
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 1, To: "commit"}, {Req: 2, To: "done"}, {Req: 1, To: "done"}},
	})
}

// A dead cookie handed out through a forward record. A read (#2) with the
// old token T1 follows the forward record of a renewal (#1) to T2 and
// loads it; a Delete (#3) ends the session; the read answers with the
// token T2 it was forwarded to, which is dead.
func TestForwardedReadHandsOutNoDeadCookie(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: 5 * time.Minute},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "b"},                // #0
			{Client: 0, Server: 0, Kind: modeltest.Get, Before: 6 * time.Minute}, // #1
			{Client: 0, Server: 0, Kind: modeltest.Get},                          // #2
			{Client: 0, Server: 0, Kind: modeltest.Delete, Key: "b"},             // #3
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "swap"},
			{Req: 2, To: "read"},
			{Req: 1, To: "done"},
			{Req: 2, To: "commit"},
			{Req: 3, To: "done"},
			{Req: 2, To: "done"},
		},
	})
}

// Two apps on one store. The other app's manager (cookie "other", same
// store) loads this app's session when the client pastes its token into
// the other app's cookie.
func TestOtherAppCannotLoadSession(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "a"}, // #0
			{Client: 0, Server: 0, Kind: modeltest.OtherApp},      // #1
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "done"},
		},
	})
}

// The same through TokenHeader (written by hand): the other app's API
// route takes this app's Bearer token and loads the logged-in session.
func TestOtherAppCannotLoadSessionByHeader(t *testing.T) {
	replay(t, modeltest.Case{
		Clients:  []modeltest.Transport{modeltest.Header},
		Requests: []modeltest.Request{{Kind: modeltest.Login}, {Kind: modeltest.OtherApp}},
	})
}

// Delete b (#3) has a periodic renewal due: it
// writes {a} under the new ID T2, then its swap of the old record fails
// because Delete a (#2) committed meanwhile. It merges again, the session
// is now empty, and it swaps the old record to a forward record without
// deleting the stale copy under T2: the old token leads to {a: v0} again,
// which #2 deleted, while #3 answers 200 dropping the token.
func TestEmptyingRenewalLeavesNoCopy(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: 5 * time.Minute},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "a"},                             // #0
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "b"},                             // #1
			{Client: 0, Server: 0, Kind: modeltest.Delete, Key: "a"},                          // #2
			{Client: 0, Server: 0, Kind: modeltest.Delete, Key: "b", Before: 6 * time.Minute}, // #3
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "done"},
			{Req: 2, To: "swap"},
			{Req: 3, To: "commit"},
			{Req: 2, To: "done"},
			{Req: 3, To: "read"},
			{Req: 3, To: "done"},
		},
	})
}

// A read (#1) loads T1 and starts its own periodic
// renewal; meanwhile #2 renews T1 to T2 and #3 renews T2 to T3. #1's swap
// fails, it follows T1's forward record to T2, finds T2's forward record
// there, and gives up with ErrSessionGone (409 for a plain page view): the
// commit follows one forward record, while loading follows any number.
// It takes RenewEvery shorter than RenewGrace, as in the guide's example.
func TestSlowRequestFollowsTwoRenewals(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: time.Nanosecond},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Login}, // #0
			{Client: 0, Server: 0, Kind: modeltest.Get},   // #1
			{Client: 0, Server: 0, Kind: modeltest.Get},   // #2
			{Client: 0, Server: 0, Kind: modeltest.Get},   // #3
		},
		Schedule: []modeltest.Step{
			{Req: 0, To: "done"},
			{Req: 1, To: "swap"},
			{Req: 2, To: "done"},
			{Req: 3, To: "done"},
			{Req: 1, To: "read"},
			{Req: 1, To: "done"},
		},
	})
}

// Flash order on a clock that did not move. Two messages (#0, #1) added
// one after the other, in the same instant of the managers' clock, came
// back as "f1,f0": their order was the random part of their keys. Found
// by a long random run.
func TestFlashesAddedAtOneInstantKeepTheirOrder(t *testing.T) {
	replay(t, modeltest.Case{
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.AddFlash}, // #0
			{Client: 0, Server: 0, Kind: modeltest.AddFlash}, // #1
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 1, To: "done"}},
	})
}

// Flash order across concurrent requests. #2 adds f2, #1 adds f1 and saves
// first, #3 sees [f1]; then #2 saves, and its f2 (added at the same clock
// reading) was put before the f1 already seen: [f2, f1]. Messages now go
// in the order they are saved. Found by a long random run.
func TestFlashSavedLaterComesLater(t *testing.T) {
	replay(t, modeltest.Case{
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Login},    // #0
			{Client: 0, Server: 0, Kind: modeltest.AddFlash}, // #1
			{Client: 0, Server: 0, Kind: modeltest.AddFlash}, // #2
			{Client: 0, Server: 0, Kind: modeltest.Get},      // #3
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 2, To: "commit"}, {Req: 1, To: "done"}, {Req: 2, To: "swap"}, {Req: 3, To: "done"}, {Req: 2, To: "done"}},
	})
}

// A response overtaken by a renewal and the end of its grace window. #1
// renews T1 to T3 and is held before it answers; #2, which followed T1's
// forward record, renews T3 in turn; the clock moves a minute (#3), past
// RenewGrace; #1 answers with T3, whose forward record has lapsed. No
// response can avoid this (it was live when #1 saved it), so the checker
// accepts it: found by a long random run, as a false alarm of the
// no-dead-cookie check.
func TestResponseOvertakenByRenewalAndGrace(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: time.Nanosecond},
		Clients: []modeltest.Transport{modeltest.Cookie, modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 1, Server: 0, Kind: modeltest.Login},                              // #0
			{Client: 1, Server: 0, Kind: modeltest.Get},                                // #1
			{Client: 1, Server: 0, Kind: modeltest.Get},                                // #2
			{Client: 0, Server: 0, Kind: modeltest.Set, Key: "a", Before: time.Minute}, // #3
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 1, To: "unindex"}, {Req: 2, To: "read"}, {Req: 2, To: "swap"}, {Req: 3, To: "done"}, {Req: 2, To: "index"}, {Req: 1, To: "done"}},
	})
}

// A stream's Save after a renewal it sent, racing a logout. #2's response
// goes out renewing T1 to T2 (RenewEvery); #1, which followed T1's forward
// record, logs T2 out; then #2 saves mid-stream: the Save must fail with
// ErrStaleSession and leave the session dead, and #2's T2, dead since the
// logout, is excused as any response overtaken by one. Found by the first
// random run with Save requests, as a false alarm: the checker counted the
// Save's calls as part of #2's commit.
func TestSaveAfterARenewalRacingALogout(t *testing.T) {
	replay(t, modeltest.Case{
		Config:  modeltest.Config{RenewEvery: time.Nanosecond},
		Clients: []modeltest.Transport{modeltest.Cookie},
		Requests: []modeltest.Request{
			{Client: 0, Server: 0, Kind: modeltest.Login},          // #0
			{Client: 0, Server: 0, Kind: modeltest.Logout},         // #1
			{Client: 0, Server: 0, Kind: modeltest.Save, Key: "a"}, // #2
		},
		Schedule: []modeltest.Step{{Req: 0, To: "done"}, {Req: 1, To: "read"}, {Req: 2, To: "index"}, {Req: 1, To: "done"}, {Req: 2, To: "done"}},
	})
}
