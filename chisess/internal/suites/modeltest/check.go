package modeltest

import (
	"time"

	"context"
	"fmt"
	"github.com/chisess/kit/chisess"
	"maps"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The properties, each named as in the failures it reports:
//
//   - no-resurrection: once a logout (Destroy) answered 2xx, no token of the
//     session's lineage (every token any response handed out for it, old or
//     renewed) leads to a live session, and no request that starts later
//     loads it; the same for every session whose owner logged in (2xx)
//     before a DestroyOwner that answered 2xx. Checked after every response
//     and at the end.
//   - no-dead-cookie: a token a response hands out leads to a live session
//     right after that response, unless a request that overlapped it, and
//     can end a session, touched the store after the response's commit
//     last did (a response in flight can always be overtaken by a logout).
//   - isolation: the other app's manager never loads a session of this
//     app's managers.
//   - no-spurious-failure: a request answers 2xx if no other request
//     changed the store (a write, swap, delete, index or unindex) while it
//     ran.
//   - only-stale-errors: the one error a request may see is ErrStaleSession,
//     and no handler panics; the one error Session.Save may return, in a
//     request that answered 2xx, is ErrStaleSession, or ErrHeadersSent for
//     a new session (it would need a token the response cannot carry).
//   - headers: a 2xx response that loads the session varies on its
//     transport, and one that sets or drops the token is not cacheable.
//   - data (no lost update, no stale or phantom read) and flashes: per
//     session lineage and key, the values read at load and at the end are
//     those of a linearizable register under the 2xx writes (Set, Delete,
//     Clear, Login's user, a Save that returned nil), each taking effect
//     somewhere between its
//     request's start and answer; the flash queue likewise, AddFlash
//     appending and a 2xx Flashes showing what it loaded and removing
//     those messages at its commit (two overlapping Flashes may both show
//     one message; a message shown by one Flashes and shown again by a
//     later one, or lost, is a violation). The session's own lifetime is
//     one more register of the lineage, written by a 2xx SetLifetime,
//     read at load and at the end while the session lives: no renewal
//     drops it, and no concurrent change of values undoes it. Checked
//     with porcupine.
//   - no-fork: at the end, all the live tokens of one lineage lead to the
//     same session.
//   - old-id-dead: right after a RenewToken (the method or the middleware) answered 2xx, the token
//     the request came with (and the one it loaded, after a forward) leads
//     to no live session (no fixation).
//   - renewal-not-an-ending (and no-spurious-failure): a request fails, or
//     its Save does, with ErrStaleSession only if a
//     request that can end a session or renew it explicitly (Logout,
//     Clear, Delete, Flashes, DestroyOwner, RenewID, Login) overlapped it,
//     or the clock passed RenewGrace while it ran: a periodic renewal
//     alone is not an ending (docs/guide.md, "No resurrection").
//   - headers also: a 2xx logout of a loaded session tells the client to
//     drop its token.

// checkResponse checks what can be checked right after c answered.
func (r *run) checkResponse(c *call) {
	if c.panicked != nil {
		r.violate("only-stale-errors", "%s panicked: %v", r.label(c), c.panicked)
	}
	for _, err := range c.errs {
		if !isStale(err) {
			r.violate("only-stale-errors", "%s failed with an error other than ErrStaleSession: %v", r.label(c), err)
		}
	}
	if err := c.saveErr; err != nil && ok(c) && !isStale(err) && !(c.isNew && isHeadersSent(err)) {
		r.violate("only-stale-errors", "%s: Session.Save failed with an error other than ErrStaleSession (or ErrHeadersSent for a new session): %v", r.label(c), err)
	}
	if c.req.Kind == OtherApp {
		if c.observed && (!c.isNew || len(c.vals) > 0 || len(c.queued) > 0) {
			r.violate("isolation", "%s: the other app (cookie %q) loaded this app's session %s %v with the token %s",
				r.label(c), otherCookieName, r.alias(c.loaded), c.vals, r.alias(c.sent))
		}
		return
	}
	if ok(c) {
		if c.setsToken && !strings.Contains(c.header.Get("Cache-Control"), "no-store") {
			r.violate("headers", "%s sets or drops the token without Cache-Control: no-store (got %q)", r.label(c), c.header.Get("Cache-Control"))
		}
		if c.observed && !c.hasVary {
			r.violate("headers", "%s loaded the session but does not vary on its transport (Vary: %q)", r.label(c), c.header.Values("Vary"))
		}
		if c.req.Kind == Logout && c.observed && !c.isNew && !c.dropped {
			r.violate("headers", "%s ended the session but did not tell the client to drop its token", r.label(c))
		}
		if (c.req.Kind == Login || c.req.Kind == RenewID) && c.observed && !c.isNew {
			for _, t := range []string{c.sent, c.loaded} {
				if s := r.inspect(t); s.alive && t != c.newTok {
					r.violate("old-id-dead", "%s answered %d with the new token %s, but the token %s it came with still leads to the live session %s %v",
						r.label(c), c.status, r.alias(c.newTok), r.alias(t), r.alias(s.token), s.vals)
					break
				}
			}
		}
		if c.observed && c.isNew && c.newTok == "" && (c.req.Kind == Set || c.req.Kind == AddFlash || c.req.Kind == Login) {
			r.violate("data", "%s stored data in a new session but handed out no token for it", r.label(c))
		}
	}
	if c.newTok != "" && !r.renewedAway(c) && !r.endedSince(c) {
		if s := r.inspect(c.newTok); !s.alive {
			r.violate("no-dead-cookie", "%s answered %d handing out token %s, which leads to no live session right after the response (%s)",
				r.label(c), c.status, r.alias(c.newTok), s.why)
		}
	}
	if c.observed && !c.isNew {
		for _, e := range r.endings {
			if e.at < c.start && r.lin.find(e.tok) == r.lin.find(c.loaded) {
				r.violate("no-resurrection", "%s started at step %d, after %s ended its session at step %d, and still loaded it (token %s, values %v)",
					r.label(c), c.start, r.label(r.calls[e.by]), e.at, r.alias(c.loaded), c.vals)
			}
		}
	}
	r.checkEndings()
}

// renewedAway reports whether the token c hands out may be dead because a
// login (RenewToken (the method or the middleware)) that overlapped c gave the session a new ID:
// the case docs/guide.md ("Concurrent requests") leaves uncovered, where
// the browser keeps whichever Set-Cookie arrives last. Only an explicit
// renewal excuses a dead token; a logout or an expiry never does.
func (r *run) renewedAway(c *call) bool {
	for _, x := range r.calls {
		if x == c || x.start == 0 || x.start > c.end || x.end != 0 && x.end < c.start {
			continue
		}
		if (x.req.Kind == Login || x.req.Kind == RenewID) && x.observed && !x.isNew &&
			(x.loaded == c.newTok || r.lin.find(x.loaded) != "" && r.lin.find(x.loaded) == r.lin.find(c.newTok)) {
			return true
		}
	}
	return false
}

// endedSince reports whether the token c hands out may be dead because a
// request that overlapped c, and can end a session, read or changed the
// store after c's commit last did: a response in flight can always be
// overtaken by a logout, answered or not yet; or because a request renewed
// it (by age) after c last did, and the clock then moved past RenewGrace,
// so the forward record from c's token lapsed. A session already ended
// when c last read or wrote the store is no excuse.
func (r *run) endedSince(c *call) bool {
	later := false
	for _, x := range r.calls {
		if !overlaps(x, c) || x.verified <= c.verified {
			continue
		}
		if slices.Contains(enders, x.req.Kind) {
			return true
		}
		later = true // a periodic renewal, whose forward record may lapse
	}
	return later && r.graceLapsed(c)
}

// checkEndings checks that every ended lineage is dead.
func (r *run) checkEndings() {
	for _, e := range r.endings {
		for _, t := range r.lin.members(e.tok) {
			if s := r.inspect(t); s.alive {
				r.violate("no-resurrection", "%s answered %d at step %d, ending the session of %s; yet after step %d token %s leads to a live session %s %v flashes %v",
					r.label(r.calls[e.by]), r.calls[e.by].status, e.at, r.alias(e.tok), len(r.moves), r.alias(t), r.alias(s.token), s.vals, s.queued)
				return
			}
		}
	}
}

// checkEnd checks the history once every request has answered.
func (r *run) checkEnd() {
	r.checkEndings()
	for _, c := range r.calls {
		if c.req.Kind == Save && ok(c) && isStale(c.saveErr) {
			r.checkFailure(c, "its Save")
		}
		if ok(c) || c.start == 0 {
			continue
		}
		if slices.ContainsFunc(c.errs, isStale) && !r.endingOverlaps(c) {
			r.violate("renewal-not-an-ending", "%s failed with ErrStaleSession though nothing that ends a session or renews it explicitly ran between its start (step %d) and its answer (step %d), and the clock stayed within RenewGrace",
				r.label(c), c.start, c.end)
		}
		if !r.changedBetween(c) {
			r.violate("no-spurious-failure", "%s answered %d though no other request changed the store between its start (step %d) and its answer (step %d)",
				r.label(c), c.status, c.start, c.end)
		}
	}
	if len(r.found) == 0 {
		r.checkData()
	}
}

// changedBetween reports whether a request other than c made a backend
// call that changes the store (write, swap, delete, index, unindex) while c
// ran. A step runs the call its request was parked at.
func (r *run) changedBetween(c *call) bool {
	parkedAt := map[int]string{} // request → where it was parked before the step
	for n, mv := range r.moves {
		step := n + 1
		op := parkedAt[mv.req]
		parkedAt[mv.req] = mv.park
		if mv.req == c.i || step < c.start || step > c.end {
			continue
		}
		switch op {
		case "write", "swap", "delete", "index", "unindex":
			return true
		}
	}
	return false
}

// enders are the kinds of request that may end a session (explicitly, or
// by emptying it) or renew its ID without a grace window.
var enders = []Kind{Logout, Clear, Delete, Flashes, DestroyOwner, RenewID, Login}

// endingOverlaps reports whether a request that may end or explicitly renew
// a session ran while c did, or the clock moved past RenewGrace while c or
// a request overlapping it ran (a renewal that started before c may have
// sealed its forward record before the clock moved).
func (r *run) endingOverlaps(c *call) bool {
	for _, x := range r.calls {
		if overlaps(x, c) && slices.Contains(enders, x.req.Kind) {
			return true
		}
	}
	return r.graceLapsed(c)
}

// overlaps reports whether x, another request, ran while c did.
func overlaps(x, c *call) bool {
	return x != c && x.start != 0 && x.start <= c.end && (x.end == 0 || x.end >= c.start)
}

// graceLapsed reports whether the clock moved past RenewGrace while c, or a
// request overlapping it, ran: a forward record sealed meanwhile may have
// expired.
func (r *run) graceLapsed(c *call) bool {
	first := c.start
	for _, x := range r.calls {
		if overlaps(x, c) {
			first = min(first, x.start)
		}
	}
	var moved time.Duration
	for _, x := range r.calls {
		if x.start > first && x.start <= c.end {
			moved += x.req.Before
		}
	}
	return moved >= chisess.DefaultRenewGrace
}

// session is what Manager.Inspect found for a token.
type session struct {
	alive    bool
	token    string // the token the session is stored under now (a forward followed)
	vals     map[string]string
	queued   []string
	lifetime string // its own lifetime, "" for none
	why      string // when not alive
}

func (r *run) inspect(tok string) session {
	s, err := r.a.managers[0].Inspect(context.Background(), tok)
	if err != nil {
		if !isNoSession(err) {
			r.violate("only-stale-errors", "Manager.Inspect(%s) failed: %v", r.alias(tok), err)
		}
		return session{why: err.Error()}
	}
	return session{alive: true, token: token(s), vals: values(s), queued: queuedFlashes(s), lifetime: ownLifetime(s, r.a.lifetime)}
}

// dataOp is one operation on one partition (a key, or the flash queue, of
// one lineage) of the data model. Its output is carried in val.
type dataOp struct {
	part string
	kind string // "write", "read", "append", "remove", "peek"
	val  string
	by   string // what did it, for the report
}

// dataModel is the sequential specification of one partition: a register
// for a key ("" is absent), a queue of messages joined by "," for flashes.
var dataModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, _ any) (bool, any) {
		st, op := state.(string), input.(dataOp)
		switch op.kind {
		case "write":
			return true, op.val
		case "append":
			if st == "" {
				return true, op.val
			}
			return true, st + "," + op.val
		case "remove":
			return true, removeMessages(st, op.val)
		default: // "read", "peek"
			return st == op.val, st
		}
	},
	DescribeOperation: func(input, _ any) string {
		op := input.(dataOp)
		return fmt.Sprintf("%s %s %q", op.by, op.kind, op.val)
	},
}

// checkData checks the values every request read and the values left at
// the end against the 2xx writes, per lineage and key, with porcupine.
func (r *run) checkData() {
	h := &dataHistory{r: r, names: map[string]string{}, parts: map[string][]porcupine.Operation{}}
	for _, c := range r.calls {
		h.addRequest(c)
	}
	if !h.addEnd() {
		return
	}
	for _, p := range slices.Sorted(maps.Keys(h.parts)) {
		ops := h.parts[p]
		if porcupine.CheckOperations(dataModel, ops) {
			continue
		}
		prop := "data"
		if strings.HasSuffix(p, " flashes") {
			prop = "flashes"
		}
		slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
		var lines []string
		for _, op := range ops {
			d := op.Input.(dataOp)
			lines = append(lines, fmt.Sprintf("    %s: %s %q", d.by, d.kind, d.val))
		}
		r.violate(prop, "no order of the 2xx writes explains what was read of %s (each operation takes effect once between its start and its answer; [start-answer] in steps):\n%s",
			p, strings.Join(lines, "\n"))
	}
}

// dataHistory is the history of the data model: the operations of every
// partition, a partition being one key, or the flash queue, of one
// session lineage.
type dataHistory struct {
	r     *run
	names map[string]string // lineage root → "session T1/T3"
	parts map[string][]porcupine.Operation
}

// dataKeysAndUser are the keys a request can write.
var dataKeysAndUser = append(slices.Clone(dataKeys), userKey)

// name names the lineage of tok by its tokens.
func (h *dataHistory) name(tok string) string {
	root := h.r.lin.find(tok)
	if n, ok := h.names[root]; ok {
		return n
	}
	var aliases []string
	for _, m := range h.r.lin.members(root) {
		aliases = append(aliases, h.r.alias(m))
	}
	slices.SortFunc(aliases, compareAliases)
	n := "session " + strings.Join(aliases, "/")
	h.names[root] = n
	return n
}

// add adds an operation on part of the lineage of tok, over steps
// [call, ret].
func (h *dataHistory) add(client int, tok, part, kind, val, by string, call, ret int) {
	p := h.name(tok) + " " + part
	h.parts[p] = append(h.parts[p], porcupine.Operation{
		ClientId: client, Input: dataOp{part: p, kind: kind, val: val, by: by}, Call: int64(call), Return: int64(ret),
	})
}

// addRequest adds what request c read when it loaded the session, and, if
// it answered 2xx, what it wrote.
func (h *dataHistory) addRequest(c *call) {
	if !c.observed || c.req.Kind == OtherApp {
		return
	}
	by := h.r.label(c) + fmt.Sprintf(" [%d-%d]", c.start, c.end)
	if !c.isNew {
		for _, k := range dataKeysAndUser {
			h.add(c.i, c.loaded, k, "read", c.vals[k], by+" at load", c.start, c.load)
		}
		h.add(c.i, c.loaded, "flashes", "peek", strings.Join(c.queued, ","), by+" at load", c.start, c.load)
		h.add(c.i, c.loaded, "lifetime", "read", c.lifetime, by+" at load", c.start, c.load)
	}
	if !ok(c) {
		return
	}
	tok := c.loaded
	if c.isNew {
		tok = c.newTok
	}
	if tok == "" {
		return // a new session that stored nothing
	}
	w := func(part, kind, val string) { h.add(c.i, tok, part, kind, val, by, c.start, c.end) }
	switch c.req.Kind {
	case Set:
		w(c.req.Key, "write", value(c.i))
	case Save:
		if c.saveErr == nil && !c.isNew {
			w(c.req.Key, "write", value(c.i))
		}
	case Delete:
		w(c.req.Key, "write", "")
	case Clear:
		for _, k := range dataKeysAndUser {
			w(k, "write", "")
		}
		w("flashes", "write", "")
	case Login:
		w(userKey, "write", userValue(c.i))
	case SetLifetime:
		w("lifetime", "write", lifetime(c.i).String())
	case AddFlash:
		w("flashes", "append", flashMessage(c.i))
	case Flashes:
		// Flashes shows what the request loaded (its peek at load, above)
		// and removes those messages at its commit, one by one: a message
		// added meanwhile stays queued, and two Flashes that overlap may
		// both show a message neither had removed when it loaded, as
		// docs/guide.md says ("Flash messages").
		h.add(c.i, tok, "flashes", "remove", strings.Join(c.shown, ","), by, c.load, c.end)
	}
}

// removeMessages returns the queue q without the messages of list, each
// removed once if it is there.
func removeMessages(q, list string) string {
	if q == "" || list == "" {
		return q
	}
	msgs := strings.Split(q, ",")
	for _, m := range strings.Split(list, ",") {
		if i := slices.Index(msgs, m); i >= 0 {
			msgs = slices.Delete(msgs, i, i+1)
		}
	}
	return strings.Join(msgs, ",")
}

// addEnd adds what every lineage holds at the end: what its live session
// holds, or nothing when it is gone (unless a request may have ended it on
// purpose). It reports false, and a violation, when a lineage lives on as
// more than one session.
func (h *dataHistory) addEnd() bool {
	r := h.r
	end, client := len(r.moves)+1, len(r.calls)
	roots := map[string]bool{}
	for t := range r.lin.parent {
		roots[r.lin.find(t)] = true
	}
	for _, root := range slices.Sorted(maps.Keys(roots)) {
		var live []session
		resolved := map[string]bool{}
		for _, t := range r.lin.members(root) {
			if s := r.inspect(t); s.alive && !resolved[s.token] {
				resolved[s.token] = true
				live = append(live, s)
			}
		}
		switch {
		case len(live) > 1:
			var desc []string
			for _, s := range live {
				desc = append(desc, fmt.Sprintf("%s %v", r.alias(s.token), s.vals))
			}
			r.violate("no-fork", "%s lives on as %d sessions at the end: %s", h.name(root), len(live), strings.Join(desc, ", "))
			return false
		case len(live) == 1:
			for _, k := range dataKeysAndUser {
				h.add(client, root, k, "read", live[0].vals[k], "the end", end, end)
			}
			h.add(client, root, "flashes", "peek", strings.Join(live[0].queued, ","), "the end", end, end)
			h.add(client, root, "lifetime", "read", live[0].lifetime, "the end", end, end)
		case !r.possiblyEnded(root):
			// A session that is gone holds no values; its lifetime went
			// with it, and nothing reads it again.
			for _, k := range dataKeysAndUser {
				h.add(client, root, k, "read", "", "the end (session gone)", end, end)
			}
			h.add(client, root, "flashes", "peek", "", "the end (session gone)", end, end)
		}
	}
	return true
}

// compareAliases orders T2 before T10.
func compareAliases(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// possiblyEnded reports whether a request may have ended the lineage of
// root on purpose: a logout of it, or a DestroyOwner while it was logged
// in. Only such a lineage may be gone at the end while the data model says
// it still holds something.
func (r *run) possiblyEnded(root string) bool {
	for _, c := range r.calls {
		if c.req.Kind == Logout && c.observed && !c.isNew && r.lin.find(c.loaded) == root {
			return true
		}
		if c.req.Kind != DestroyOwner || c.start == 0 {
			continue
		}
		for _, l := range r.calls {
			if l.req.Kind != Login || l.start == 0 || l.start > c.end {
				continue
			}
			if l.newTok != "" && r.lin.find(l.newTok) == root || l.observed && !l.isNew && r.lin.find(l.loaded) == root {
				return true
			}
		}
	}
	return false
}

// checkFailure checks a Save (what names it) that failed with
// ErrStaleSession in a request that answered 2xx, as checkEnd checks a
// request that failed: only a request that ends a session or renews it
// explicitly, or a grace window that lapsed, excuses it, and only a change
// of the store by another request can cause it.
func (r *run) checkFailure(c *call, what string) {
	if !r.endingOverlaps(c) {
		r.violate("renewal-not-an-ending", "%s: %s failed with ErrStaleSession though nothing that ends a session or renews it explicitly ran between its start (step %d) and its answer (step %d), and the clock stayed within RenewGrace",
			r.label(c), what, c.start, c.end)
	}
	if !r.changedBetween(c) {
		r.violate("no-spurious-failure", "%s: %s failed though no other request changed the store between its start (step %d) and its answer (step %d)",
			r.label(c), what, c.start, c.end)
	}
}
