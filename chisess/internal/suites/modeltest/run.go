package modeltest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/chisess/kit/chisess/backend"
)

// run is one history being executed and checked.
type run struct {
	c        Case
	s        *scheduler
	a        *app
	calls    []*call
	tokens   []string // each client's token, "" for none
	started  []bool
	parked   map[int]event
	running  int
	moves    []move // moves[n-1] is step n
	lin      lineages
	endings  []ending
	found    []violation
	tokAlias map[string]string
	ignore   map[string]bool // properties not checked
}

// chooser picks the request that moves next among those that can.
type chooser interface {
	next(r *run, options []int) int
}

// execute runs c on backend b (wrapped in gates) with ch choosing the
// schedule, then checks it. It returns the run, whose found lists the
// violations.
func execute(b backend.Backend, c Case, ch chooser, ignore map[string]bool) *run {
	s := newScheduler()
	r := &run{
		c:        c,
		s:        s,
		tokens:   make([]string, len(c.Clients)),
		started:  make([]bool, len(c.Requests)),
		parked:   map[int]event{},
		lin:      lineages{parent: map[string]string{}},
		tokAlias: map[string]string{},
		ignore:   ignore,
	}
	a, err := newApp(gate(b, s), c.Config, s, "ada-"+rand.Text())
	if err != nil {
		r.violate("setup", "chisess.New: %v", err)
		return r
	}
	r.a = a
	for i, req := range c.Requests {
		r.calls = append(r.calls, &call{i: i, req: req, tr: c.Clients[req.Client]})
	}
	for len(r.found) == 0 {
		opts := r.options()
		if len(opts) == 0 {
			break
		}
		if !r.move(ch.next(r, opts)) {
			break
		}
	}
	s.drain(r.parked, r.running)
	if len(r.found) == 0 {
		r.checkEnd()
	}
	return r
}

// options lists the requests that can move: the parked ones, then the
// next one not started yet.
func (r *run) options() []int {
	var opts []int
	for i := range r.calls {
		if _, ok := r.parked[i]; ok {
			opts = append(opts, i)
		}
	}
	if i := slices.Index(r.started, false); i >= 0 {
		opts = append(opts, i)
	}
	return opts
}

// move starts request i, or releases it from its gate, and waits until it
// parks again or finishes. It reports false when the history cannot go on.
func (r *run) move(i int) bool {
	n := len(r.moves) + 1
	r.s.setStep(n)
	c := r.calls[i]
	if !r.started[i] {
		r.started[i] = true
		r.running++
		r.a.clock.Add(c.req.Before)
		c.start = n
		if c.req.Kind != DestroyOwner {
			c.sent = r.tokens[c.req.Client]
		}
		go r.a.serve(c, r.a.newRequest(c))
	} else {
		ev, ok := r.parked[i]
		if !ok {
			panic(fmt.Sprintf("modeltest: request #%d is neither parked nor new", i))
		}
		delete(r.parked, i)
		close(ev.release)
	}
	ev, ok := r.s.wait()
	if !ok {
		r.violate("no-hang", "request #%d neither parked at a gate nor finished within %v: it is blocked outside the backend calls", i, watchdog)
		return false
	}
	if ev.req != i {
		panic(fmt.Sprintf("modeltest: request #%d moved while #%d was let go", ev.req, i))
	}
	if ev.park == "" {
		r.moves = append(r.moves, move{req: i, park: "done"})
		r.running--
		c.end = n
		r.answered(c)
		return true
	}
	r.moves = append(r.moves, move{req: i, park: ev.park})
	r.parked[i] = ev
	return true
}

// answered takes in the response of c: what it tells the client, which
// session lineage its tokens belong to, what it ended; then checks what
// can be checked right after a response.
func (r *run) answered(c *call) {
	for _, t := range []string{c.sent, c.loaded, c.newTok} {
		r.alias(t)
	}
	if c.req.Kind != OtherApp && c.req.Kind != DestroyOwner {
		switch {
		case c.newTok != "":
			r.tokens[c.req.Client] = c.newTok
		case c.dropped:
			r.tokens[c.req.Client] = ""
		}
	}
	if c.observed && c.req.Kind != OtherApp {
		if !c.isNew {
			r.lin.add(c.loaded)
			if c.sent != "" {
				r.lin.union(c.sent, c.loaded)
			}
		}
		if c.newTok != "" {
			r.lin.add(c.newTok)
			if !c.isNew && c.req.Kind != Logout {
				r.lin.union(c.loaded, c.newTok)
			}
		}
	}
	if ok(c) {
		switch {
		case c.req.Kind == Logout && c.observed && !c.isNew:
			r.endings = append(r.endings, ending{by: c.i, tok: c.loaded, at: c.end})
		case c.req.Kind == DestroyOwner:
			for _, l := range r.calls {
				if l.req.Kind == Login && l.end != 0 && l.end < c.start && ok(l) && l.newTok != "" {
					r.endings = append(r.endings, ending{by: c.i, tok: l.newTok, at: c.end})
				}
			}
		}
	}
	r.checkResponse(c)
}

func ok(c *call) bool { return c.status >= 200 && c.status < 300 }

func (r *run) violate(prop, format string, args ...any) {
	if r.ignore[prop] {
		return
	}
	r.found = append(r.found, violation{prop: prop, msg: fmt.Sprintf(format, args...)})
}

// alias names a token T1, T2, ... in the order tokens appear.
func (r *run) alias(tok string) string {
	if tok == "" {
		return "-"
	}
	if a, ok := r.tokAlias[tok]; ok {
		return a
	}
	a := fmt.Sprintf("T%d", len(r.tokAlias)+1)
	r.tokAlias[tok] = a
	return a
}

// lineages groups tokens into the sessions they stand for: a session keeps
// its lineage through ID renewals (the old and new token of a renewal, and
// a token and the one its forward record leads to, are one lineage); a new
// session (IsNew at load) starts one.
type lineages struct {
	parent map[string]string
}

func (l *lineages) add(t string) {
	if _, ok := l.parent[t]; !ok {
		l.parent[t] = t
	}
}

func (l *lineages) find(t string) string {
	p, ok := l.parent[t]
	if !ok {
		return ""
	}
	if p == t {
		return t
	}
	root := l.find(p)
	l.parent[t] = root
	return root
}

func (l *lineages) union(a, b string) {
	l.add(a)
	l.add(b)
	ra, rb := l.find(a), l.find(b)
	if ra != rb {
		l.parent[rb] = ra
	}
}

// members returns the tokens of t's lineage.
func (l *lineages) members(t string) []string {
	root := l.find(t)
	var out []string
	for m := range l.parent {
		if l.find(m) == root {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// ending is a lineage that a 2xx response ended: request by (a logout, or
// a DestroyOwner) answered at step at, and no token of tok's lineage may
// lead to a live session after that.
type ending struct {
	by  int
	tok string
	at  int
}

type violation struct {
	prop string
	msg  string
}

// report describes the violations, the Case (as Go) and the trace.
func (r *run) report() string {
	var b strings.Builder
	for _, v := range r.found {
		fmt.Fprintf(&b, "VIOLATION %s: %s\n", v.prop, v.msg)
	}
	c := r.c
	c.Schedule = compress(r.moves)
	fmt.Fprintf(&b, "\nhistory:\n%s\n", r.describeCalls())
	fmt.Fprintf(&b, "\ntrace:\n%s", r.trace())
	if l := r.keyLegend(); l != "" {
		fmt.Fprintf(&b, "  (%s)\n", l)
	}
	fmt.Fprintf(&b, "\nas a Case (replay with modeltest.Replay):\n%#v\n", c)
	return b.String()
}

func (r *run) describeCalls() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  config: %s\n", orNone(r.c.Config.fields()))
	for i, tr := range r.c.Clients {
		fmt.Fprintf(&b, "  client c%d: %s\n", i, tr)
	}
	for _, c := range r.calls {
		fmt.Fprintf(&b, "  %s\n", r.describe(c))
	}
	return strings.TrimRight(b.String(), "\n")
}

func orNone(s string) string {
	if s == "" {
		return "defaults"
	}
	return s
}

// label is the short name of request c: "#2 set a=v2".
func (r *run) label(c *call) string {
	s := fmt.Sprintf("#%d %s", c.i, c.req.Kind)
	switch c.req.Kind {
	case Set, Save:
		s += fmt.Sprintf(" %s=%s", c.req.Key, value(c.i))
	case Delete:
		s += " " + c.req.Key
	case AddFlash:
		s += " " + flashMessage(c.i)
	case Login:
		s += fmt.Sprintf(" user=%s", userValue(c.i))
	}
	return s
}

func (r *run) describe(c *call) string {
	where := fmt.Sprintf("c%d, server %d, %s", c.req.Client, c.req.Server, c.tr)
	if c.req.Kind == OtherApp {
		where = fmt.Sprintf("c%d, the other app, %s", c.req.Client, c.tr)
	}
	if c.req.Before != 0 {
		where += fmt.Sprintf(", clock +%v", c.req.Before)
	}
	s := fmt.Sprintf("%-22s (%s)", r.label(c), where)
	if c.start == 0 {
		return s + ": never started"
	}
	if c.end == 0 {
		return s + fmt.Sprintf(": started at step %d, sending %s; still running when the check stopped", c.start, r.alias(c.sent))
	}
	s += fmt.Sprintf(": steps %d-%d, sent %s", c.start, c.end, r.alias(c.sent))
	switch {
	case c.req.Kind == DestroyOwner:
		s += fmt.Sprintf(", ended %d sessions", c.ended)
	case !c.observed:
	case c.isNew:
		s += ", loaded a new session"
	default:
		s += fmt.Sprintf(", loaded %s %v flashes %v", r.alias(c.loaded), c.vals, c.queued)
	}
	if c.req.Kind == Flashes && c.observed {
		s += fmt.Sprintf(", showed %v", c.shown)
	}
	s += fmt.Sprintf("; answered %d", c.status)
	switch {
	case c.newTok != "":
		s += " with token " + r.alias(c.newTok)
	case c.dropped:
		s += " dropping the token"
	}
	for _, err := range c.errs {
		s += fmt.Sprintf(" [error: %v]", err)
	}
	if c.saveErr != nil {
		s += fmt.Sprintf(" [Save: %v]", c.saveErr)
	}
	if c.panicked != nil {
		s += fmt.Sprintf(" [panic: %v]", c.panicked)
	}
	return s
}

// trace lists every step: which request moved, what its backend calls
// did, and where it parked.
func (r *run) trace() string {
	var b strings.Builder
	for n, mv := range r.moves {
		step := n + 1
		c := r.calls[mv.req]
		what := "resumes"
		if c.start == step {
			what = "starts, sending " + r.alias(c.sent)
		}
		fmt.Fprintf(&b, "  %3d  %-22s %s", step, r.label(c), what)
		for _, note := range r.s.notes[step] {
			fmt.Fprintf(&b, "; %s", note)
		}
		if mv.park == "done" {
			fmt.Fprintf(&b, "; answers %d", c.status)
			switch {
			case c.newTok != "":
				fmt.Fprintf(&b, " with token %s", r.alias(c.newTok))
			case c.dropped:
				b.WriteString(" dropping the token")
			}
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "; parks at %s\n", mv.park)
	}
	return b.String()
}

// keyLegend names the token of each storage key in the trace, where it can
// tell: "k1 is the key of T1, ...". The keys are computed as chisess
// computes them today (the SHA-256 of a prefix naming the manager's
// namespace, and the token's bytes); if that changes, the trace just goes
// without the legend.
func (r *run) keyLegend() string {
	byKey := map[string]string{}
	for tok, a := range r.tokAlias {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(append([]byte("chisess key\x00"+cookieName+"\x00"), raw...))
		byKey[base64.RawURLEncoding.EncodeToString(sum[:])] = a
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var parts []string
	for key, k := range r.s.keys {
		if a, ok := byKey[key]; ok {
			parts = append(parts, fmt.Sprintf("%s is the key of %s", k, a))
		}
	}
	slices.SortFunc(parts, compareAliases)
	return strings.Join(parts, ", ")
}
