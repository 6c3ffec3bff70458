package chisess

import (
	"fmt"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// planTable is every combination of intent, origin and due refresh and
// renewal, with the plan it yields on a server-side backend and on the
// cookie backend (the session holding values, a 2xx response). A plan reads
// store/token: the store operation ("+periodic" for a renewal by age), then
// what the client is told ("send" its token if a session was kept, else to
// drop its own; "refresh" its token if the session is still live; "drop").
// "-" is nothing at all. Reviewed against docs/backends.md:
//
//   - a visitor who only reads gets no session and no cookie (keep/none);
//   - a dead token is dropped (keep/rejected); of several live ones, none
//     is used and none dropped (ambiguous);
//   - a read-only request writes only a due refresh (touch), and hands out
//     a cookie only when the session is still live (refresh);
//   - a renewal by age goes out with whatever request comes first, read or
//     write, and merges its changes (renew+periodic); an explicit renewal
//     or a destroy wins over it;
//   - a change to a loaded session is merged (update), a renewal moves it
//     (renew), a destroy ends it wherever renewals moved it (destroy);
//   - with nothing loaded there is nothing to merge, renew or end: the
//     session is new (create); but a logout on several live sessions
//     (ambiguous) ends them all;
//   - the cookie backend seals whatever is to be saved, and has no forward
//     records (no loaded session is ever "forwarded").
const planTable = `
keep     none      -       -     | -                   | -
keep     none      -       renew | -                   | -
keep     none      refresh -     | -                   | -
keep     none      refresh renew | -                   | -
keep     rejected  -       -     | drop                | drop
keep     rejected  -       renew | drop                | drop
keep     rejected  refresh -     | drop                | drop
keep     rejected  refresh renew | drop                | drop
keep     ambiguous -       -     | -                   | -
keep     ambiguous -       renew | -                   | -
keep     ambiguous refresh -     | -                   | -
keep     ambiguous refresh renew | -                   | -
keep     loaded    -       -     | -                   | -
keep     loaded    -       renew | renew+periodic/send | seal+periodic/send
keep     loaded    refresh -     | touch               | seal/send
keep     loaded    refresh renew | renew+periodic/send | seal+periodic/send
keep     forwarded -       -     | touch/refresh       | -
keep     forwarded -       renew | renew+periodic/send | seal+periodic/send
keep     forwarded refresh -     | touch/refresh       | seal/send
keep     forwarded refresh renew | renew+periodic/send | seal+periodic/send
modify   none      -       -     | create/send         | seal/send
modify   none      -       renew | create/send         | seal/send
modify   none      refresh -     | create/send         | seal/send
modify   none      refresh renew | create/send         | seal/send
modify   rejected  -       -     | create/send         | seal/send
modify   rejected  -       renew | create/send         | seal/send
modify   rejected  refresh -     | create/send         | seal/send
modify   rejected  refresh renew | create/send         | seal/send
modify   ambiguous -       -     | create/send         | seal/send
modify   ambiguous -       renew | create/send         | seal/send
modify   ambiguous refresh -     | create/send         | seal/send
modify   ambiguous refresh renew | create/send         | seal/send
modify   loaded    -       -     | update/send         | seal/send
modify   loaded    -       renew | renew+periodic/send | seal+periodic/send
modify   loaded    refresh -     | update/send         | seal/send
modify   loaded    refresh renew | renew+periodic/send | seal+periodic/send
modify   forwarded -       -     | update/send         | seal/send
modify   forwarded -       renew | renew+periodic/send | seal+periodic/send
modify   forwarded refresh -     | update/send         | seal/send
modify   forwarded refresh renew | renew+periodic/send | seal+periodic/send
renew    none      -       -     | create/send         | seal/send
renew    none      -       renew | create/send         | seal/send
renew    none      refresh -     | create/send         | seal/send
renew    none      refresh renew | create/send         | seal/send
renew    rejected  -       -     | create/send         | seal/send
renew    rejected  -       renew | create/send         | seal/send
renew    rejected  refresh -     | create/send         | seal/send
renew    rejected  refresh renew | create/send         | seal/send
renew    ambiguous -       -     | create/send         | seal/send
renew    ambiguous -       renew | create/send         | seal/send
renew    ambiguous refresh -     | create/send         | seal/send
renew    ambiguous refresh renew | create/send         | seal/send
renew    loaded    -       -     | renew/send          | seal/send
renew    loaded    -       renew | renew/send          | seal/send
renew    loaded    refresh -     | renew/send          | seal/send
renew    loaded    refresh renew | renew/send          | seal/send
renew    forwarded -       -     | renew/send          | seal/send
renew    forwarded -       renew | renew/send          | seal/send
renew    forwarded refresh -     | renew/send          | seal/send
renew    forwarded refresh renew | renew/send          | seal/send
destroy  none      -       -     | create/send         | seal/send
destroy  none      -       renew | create/send         | seal/send
destroy  none      refresh -     | create/send         | seal/send
destroy  none      refresh renew | create/send         | seal/send
destroy  rejected  -       -     | create/send         | seal/send
destroy  rejected  -       renew | create/send         | seal/send
destroy  rejected  refresh -     | create/send         | seal/send
destroy  rejected  refresh renew | create/send         | seal/send
destroy  ambiguous -       -     | destroy/send        | seal/send
destroy  ambiguous -       renew | destroy/send        | seal/send
destroy  ambiguous refresh -     | destroy/send        | seal/send
destroy  ambiguous refresh renew | destroy/send        | seal/send
destroy  loaded    -       -     | destroy/send        | seal/send
destroy  loaded    -       renew | destroy/send        | seal/send
destroy  loaded    refresh -     | destroy/send        | seal/send
destroy  loaded    refresh renew | destroy/send        | seal/send
destroy  forwarded -       -     | destroy/send        | seal/send
destroy  forwarded -       renew | destroy/send        | seal/send
destroy  forwarded refresh -     | destroy/send        | seal/send
destroy  forwarded refresh renew | destroy/send        | seal/send
`

func TestPlanTable(t *testing.T) {
	is := is.New(t)
	rows, mismatches := checkPlanTable(planTable)
	for _, m := range mismatches {
		t.Error(m)
	}
	is.Equal(rows, 2*2*len(intentNames)*len(originNames)) // every combination, once
}

// checkPlanTable runs planCommit on every row of table and returns the
// number of rows and the rows whose plans differ.
func checkPlanTable(table string) (rows int, mismatches []string) {
	for line := range strings.Lines(strings.TrimSpace(table)) {
		f := strings.Fields(strings.ReplaceAll(line, "|", " "))
		if len(f) != 6 {
			return rows, append(mismatches, "malformed row: "+line)
		}
		in := planInput{intent: intentNames[f[0]], origin: originNames[f[1]], refreshDue: f[2] == "refresh", renewDue: f[3] == "renew"}
		server := planCommit(in)
		in.sealed = true
		cookie := planCommit(in)
		if server.String() != f[4] || cookie.String() != f[5] {
			mismatches = append(mismatches, fmt.Sprintf("%s: got %v | %v", strings.TrimSpace(line), server, cookie))
		}
		rows++
	}
	return rows, mismatches
}

// The inputs the table leaves at their usual value, each changed alone.
func TestPlanVariations(t *testing.T) {
	tests := []struct {
		name string
		in   planInput
		want string
	}{
		// A 5xx response saves nothing and tells the client nothing.
		{"failed change", planInput{intent: intentModify, origin: originLoaded, failed: true}, "-"},
		{"failed destroy", planInput{intent: intentDestroy, origin: originLoaded, failed: true}, "-"},
		{"failed renewal by age", planInput{origin: originLoaded, renewDue: true, failed: true}, "-"},
		{"failed on a dead token", planInput{origin: originRejected, failed: true}, "-"},
		// A new session left empty is not stored; a dead token is dropped.
		{"empty new session", planInput{intent: intentModify, origin: originNone, empty: true}, "-"},
		{"empty after a dead token", planInput{intent: intentModify, origin: originRejected, empty: true}, "drop"},
		{"empty beside two live tokens", planInput{intent: intentModify, origin: originAmbiguous, empty: true}, "-"},
		{"logout with nothing after it", planInput{intent: intentDestroy, origin: originRejected, empty: true}, "drop"},
		{"logout on two live sessions", planInput{intent: intentDestroy, origin: originAmbiguous, empty: true}, "destroy/send"},
		{"logout on two live sealed sessions", planInput{intent: intentDestroy, origin: originAmbiguous, empty: true, sealed: true}, "drop"},
		{"empty new sealed session", planInput{intent: intentModify, origin: originNone, empty: true, sealed: true}, "-"},
		// An emptied loaded session is merged (others may have added keys)
		// and deleted when nothing is left; respond drops the token then.
		{"emptied loaded session", planInput{intent: intentModify, origin: originLoaded, empty: true}, "update/send"},
		{"emptied sealed session", planInput{intent: intentModify, origin: originLoaded, empty: true, sealed: true}, "seal/send"},
		// A sliding cookie follows a refresh, if the session is live.
		{"sliding refresh", planInput{origin: originLoaded, refreshDue: true, sliding: true}, "touch/refresh"},
		{"sliding, nothing due", planInput{origin: originLoaded, sliding: true}, "-"},
		// A hijacked connection carries no token: a renewal by age waits
		// for a response that can hand it out.
		{"renewal due on a hijacked connection", planInput{origin: originLoaded, renewDue: true, hijacked: true}, "-"},
		{"change due for renewal on a hijacked connection", planInput{intent: intentModify, origin: originLoaded, renewDue: true, hijacked: true}, "update/send"},
		// A cookie sealed with a previous secret is sealed again.
		{"reseal", planInput{origin: originLoaded, sealed: true, resealDue: true}, "seal/send"},
		{"reseal on a server backend means nothing", planInput{origin: originLoaded, resealDue: true}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(planCommit(tt.in).String(), tt.want)
		})
	}
}

// A checker that cannot fail proves nothing: the table test must notice a
// rule that changes.
func TestPlanTableNoticesAChangedRule(t *testing.T) {
	is := is.New(t)
	broken := strings.Replace(planTable, "destroy  loaded    -       -     | destroy/send ", "destroy  loaded    -       -     | update/send  ", 1)
	is.True(broken != planTable) // the row was found and changed
	_, mismatches := checkPlanTable(broken)
	is.Equal(len(mismatches), 1) // exactly the changed row is reported
	is.True(strings.HasPrefix(mismatches[0], "destroy  loaded    -       -     | update/send"))
}

// planSaveTable is what a Session.Save after the response started does on a
// server-side backend, for every intent, origin and due refresh, the
// session holding values: what the commit would do, less what needs the
// response's headers. No token is sent or dropped; a save that needs a new
// token (create, renew, a destroy followed by new values) is refused.
const planSaveTable = `
keep     none      -       | -
keep     none      refresh | -
keep     rejected  -       | -
keep     rejected  refresh | -
keep     ambiguous -       | -
keep     ambiguous refresh | -
keep     loaded    -       | -
keep     loaded    refresh | touch
keep     forwarded -       | touch
keep     forwarded refresh | touch
modify   none      -       | refused
modify   none      refresh | refused
modify   rejected  -       | refused
modify   rejected  refresh | refused
modify   ambiguous -       | refused
modify   ambiguous refresh | refused
modify   loaded    -       | update
modify   loaded    refresh | update
modify   forwarded -       | update
modify   forwarded refresh | update
renew    none      -       | refused
renew    none      refresh | refused
renew    rejected  -       | refused
renew    rejected  refresh | refused
renew    ambiguous -       | refused
renew    ambiguous refresh | refused
renew    loaded    -       | refused
renew    loaded    refresh | refused
renew    forwarded -       | refused
renew    forwarded refresh | refused
destroy  none      -       | refused
destroy  none      refresh | refused
destroy  rejected  -       | refused
destroy  rejected  refresh | refused
destroy  ambiguous -       | refused
destroy  ambiguous refresh | refused
destroy  loaded    -       | refused
destroy  loaded    refresh | refused
destroy  forwarded -       | refused
destroy  forwarded refresh | refused
`

// Every row of planSaveTable, with a renewal by age due and not: a Save
// never renews (no cookie can carry the new token).
func TestPlanSaveTable(t *testing.T) {
	is := is.New(t)
	rows := 0
	for line := range strings.Lines(strings.TrimSpace(planSaveTable)) {
		f := strings.Fields(strings.ReplaceAll(line, "|", " "))
		is.Equal(len(f), 4) // a well-formed row
		for _, renewDue := range []bool{false, true} {
			in := planInput{intent: intentNames[f[0]], origin: originNames[f[1]], refreshDue: f[2] == "refresh", renewDue: renewDue, started: true}
			if got := planCommit(in).String(); got != f[3] {
				t.Errorf("%s (renewal due %v): got %s", strings.TrimSpace(line), renewDue, got)
			}
		}
		rows++
	}
	is.Equal(rows, 2*len(intentNames)*len(originNames)) // every combination, once
}

// The inputs planSaveTable leaves at their usual value, each changed alone.
func TestPlanSaveVariations(t *testing.T) {
	tests := []struct {
		name string
		in   planInput
		want string
	}{
		// Destroy alone ends the session; the client's cookie is dead.
		{"destroy", planInput{intent: intentDestroy, origin: originLoaded, empty: true}, "destroy"},
		{"destroy beside two live tokens", planInput{intent: intentDestroy, origin: originAmbiguous, empty: true}, "destroy"},
		{"destroy with nothing loaded", planInput{intent: intentDestroy, origin: originNone, empty: true}, "-"},
		// Emptied: merged, and deleted if nothing is left.
		{"emptied", planInput{intent: intentModify, origin: originLoaded, empty: true}, "update"},
		// RememberMe changes the cookie's lifetime.
		{"remember me", planInput{intent: intentModify, origin: originLoaded, flags: true}, "refused"},
		// A sliding cookie cannot slide, but the touch is recorded.
		{"sliding refresh", planInput{origin: originLoaded, refreshDue: true, sliding: true}, "touch"},
		// The cookie backend must send a cookie for any save.
		{"sealed change", planInput{intent: intentModify, origin: originLoaded, sealed: true}, "refused"},
		{"sealed refresh", planInput{origin: originLoaded, refreshDue: true, sealed: true}, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			tt.in.started = true
			is.Equal(planCommit(tt.in).String(), tt.want)
		})
	}
}
