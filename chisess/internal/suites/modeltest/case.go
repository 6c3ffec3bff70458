package modeltest

import (
	"fmt"
	"strings"
	"time"

	"pgregory.net/rapid"
)

// A Case is one history: the configuration shared by the app's managers,
// the clients, the requests, and the order in which their steps ran. The
// checker draws Cases at random; a shrunk counterexample is printed as a
// Case literal, which [Replay] runs again step for step.
type Case struct {
	Config   Config
	Clients  []Transport // one entry per client; requests name them by index
	Requests []Request
	// Schedule lists which request moves when, and how far. Steps that no
	// longer apply (the request has finished) are skipped; requests still
	// running after the last step run to the end, lowest index first.
	Schedule []Step
}

// Config is the part of chisess.Config that a Case varies. The two
// managers of the app and the manager of the other app all use it.
type Config struct {
	RenewEvery  time.Duration
	IdleTimeout time.Duration
	Lifetime    time.Duration
	Rolling     bool
}

// Transport is how a client carries its token.
type Transport string

const (
	Cookie Transport = "cookie" // a cookie jar holding the session cookie
	Header Transport = "header" // Authorization: Bearer, under chisess.TokenHeader
)

// Kind is what a request does with its session.
type Kind string

// The request kinds. Every kind but DestroyOwner loads the session (with
// Autoload) and records what it found before doing anything else.
const (
	Get          Kind = "get"          // read only: with the clock moved, an idle refresh or a periodic renewal
	Login        Kind = "login"        // chisess.RenewToken, then Set("user", ...) and SetOwner
	Set          Kind = "set"          // Set(Key, a value no other request writes)
	Delete       Kind = "delete"       // Delete(Key)
	Clear        Kind = "clear"        // Clear()
	AddFlash     Kind = "addflash"     // AddFlash with a message no other request adds
	Flashes      Kind = "flashes"      // Flashes(): show and take the queued flashes
	Logout       Kind = "logout"       // Destroy()
	RenewID      Kind = "renewid"      // RenewToken()
	DestroyOwner Kind = "destroyowner" // Manager.DestroyOwner(owner, nil), "log out everywhere"; loads nothing
	OtherApp     Kind = "otherapp"     // a get on another app's manager (another cookie name, same store) with this client's token
	SetLifetime  Kind = "setlifetime"  // SetLifetime with a lifetime no other request sets
	// Save answers first (the commit goes out with the response's first
	// byte, as a stream's would), then sets Key to a value no other request
	// writes with Session.Save.
	Save Kind = "save"
)

// Kinds lists every request kind.
var Kinds = []Kind{Get, Login, Set, Delete, Clear, AddFlash, Flashes, Logout, RenewID, DestroyOwner, OtherApp, SetLifetime, Save}

// Request is one request of a Case.
type Request struct {
	Client int
	Server int // 0 or 1: which of the app's two managers serves it
	Kind   Kind
	Key    string        // for Set, Delete and Save: "a" or "b"
	Before time.Duration // how far the clock moves just before the request starts
}

// Step moves request Req until it parks at To, or finishes ("done"). A
// request parks at every backend call ("read", "write", "delete", "swap",
// "index", "unindex", "owned") and once in its handler, after loading and
// changing the session and before the commit ("commit").
type Step struct {
	Req int
	To  string
}

// The keys that Set and Delete use, and the key Login writes.
var dataKeys = []string{"a", "b"}

const userKey = "user"

// value is what request i stores: no two requests store the same value, so
// any value read names the request that wrote it.
func value(i int) string { return fmt.Sprintf("v%d", i) }

func flashMessage(i int) string { return fmt.Sprintf("f%d", i) }

func userValue(i int) string { return fmt.Sprintf("ada#%d", i) }

// lifetime is the lifetime request i gives its session: hours longer than
// a history, and longer than the configured ones, so that it ends no
// session, and like no other request's.
func lifetime(i int) time.Duration { return 100*time.Hour + time.Duration(i)*time.Hour }

// drawCase draws the configuration, clients and requests of a Case (not its
// schedule, which the run draws step by step).
func drawCase(t *rapid.T, kinds []Kind) Case {
	var c Case
	c.Config = Config{
		RenewEvery:  rapid.SampledFrom([]time.Duration{0, time.Nanosecond, 5 * time.Minute}).Draw(t, "RenewEvery"),
		IdleTimeout: rapid.SampledFrom([]time.Duration{0, 2 * time.Hour}).Draw(t, "IdleTimeout"),
		Lifetime:    rapid.SampledFrom([]time.Duration{0, 4 * time.Hour}).Draw(t, "Lifetime"),
		Rolling:     rapid.Bool().Draw(t, "Rolling"),
	}
	clients := rapid.IntRange(1, 2).Draw(t, "clients")
	for i := range clients {
		c.Clients = append(c.Clients, rapid.SampledFrom([]Transport{Cookie, Header}).Draw(t, fmt.Sprintf("client%d", i)))
	}
	// A slice of Custom requests, so that rapid can drop any request when
	// it shrinks, not only the last ones.
	request := rapid.Custom(func(t *rapid.T) Request {
		r := Request{
			Client: rapid.IntRange(0, clients-1).Draw(t, "client"),
			Server: rapid.IntRange(0, 1).Draw(t, "server"),
			Kind:   rapid.SampledFrom(kinds).Draw(t, "kind"),
			// Small moves: the session lives for hours, RenewEvery is 5
			// minutes, the refresh throttle one minute and RenewGrace 30
			// seconds, so only renewals, refreshes and grace windows come
			// due, never an expiry.
			Before: rapid.SampledFrom([]time.Duration{0, 10 * time.Second, time.Minute, 6 * time.Minute}).Draw(t, "before"),
		}
		if r.Kind == Set || r.Kind == Delete || r.Kind == Save {
			r.Key = rapid.SampledFrom(dataKeys).Draw(t, "key")
		}
		return r
	})
	c.Requests = rapid.SliceOfN(request, 2, 8).Draw(t, "requests")
	return c
}

// GoString prints the Case as a Go literal, to paste into a regression
// test.
func (c Case) GoString() string {
	var b strings.Builder
	b.WriteString("modeltest.Case{\n")
	fmt.Fprintf(&b, "\tConfig: modeltest.Config{%s},\n", c.Config.fields())
	b.WriteString("\tClients: []modeltest.Transport{")
	for i, tr := range c.Clients {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(transportName(tr))
	}
	b.WriteString("},\n\tRequests: []modeltest.Request{\n")
	for i, r := range c.Requests {
		fmt.Fprintf(&b, "\t\t{Client: %d, Server: %d, Kind: modeltest.%s", r.Client, r.Server, kindName(r.Kind))
		if r.Key != "" {
			fmt.Fprintf(&b, ", Key: %q", r.Key)
		}
		if r.Before != 0 {
			fmt.Fprintf(&b, ", Before: %s", durationLiteral(r.Before))
		}
		fmt.Fprintf(&b, "}, // #%d\n", i)
	}
	b.WriteString("\t},\n\tSchedule: []modeltest.Step{\n")
	for _, s := range c.Schedule {
		fmt.Fprintf(&b, "\t\t{Req: %d, To: %q},\n", s.Req, s.To)
	}
	b.WriteString("\t},\n}")
	return b.String()
}

func (c Config) fields() string {
	var f []string
	if c.RenewEvery != 0 {
		f = append(f, "RenewEvery: "+durationLiteral(c.RenewEvery))
	}
	if c.IdleTimeout != 0 {
		f = append(f, "IdleTimeout: "+durationLiteral(c.IdleTimeout))
	}
	if c.Lifetime != 0 {
		f = append(f, "Lifetime: "+durationLiteral(c.Lifetime))
	}
	if c.Rolling {
		f = append(f, "Rolling: true")
	}
	return strings.Join(f, ", ")
}

func durationLiteral(d time.Duration) string {
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"time.Hour", time.Hour}, {"time.Minute", time.Minute}, {"time.Second", time.Second}, {"time.Millisecond", time.Millisecond}} {
		if d%u.d == 0 {
			if d == u.d {
				return u.name
			}
			return fmt.Sprintf("%d * %s", d/u.d, u.name)
		}
	}
	if d == time.Nanosecond {
		return "time.Nanosecond"
	}
	return fmt.Sprintf("%d * time.Nanosecond", int64(d))
}

func transportName(tr Transport) string {
	if tr == Header {
		return "modeltest.Header"
	}
	return "modeltest.Cookie"
}

func kindName(k Kind) string {
	for _, n := range []struct {
		k    Kind
		name string
	}{{Get, "Get"}, {Login, "Login"}, {Set, "Set"}, {Delete, "Delete"}, {Clear, "Clear"}, {AddFlash, "AddFlash"}, {Flashes, "Flashes"}, {Logout, "Logout"}, {RenewID, "RenewID"}, {DestroyOwner, "DestroyOwner"}, {OtherApp, "OtherApp"}, {SetLifetime, "SetLifetime"}, {Save, "Save"}} {
		if n.k == k {
			return n.name
		}
	}
	return fmt.Sprintf("Kind(%q)", string(k))
}

// compress turns the one-move-per-step schedule of a run into Steps: the
// consecutive moves of one request become one Step to the last park they
// reached, unless that park was passed earlier in the same run of moves
// (a Step stops at the first park of its name).
func compress(moves []move) []Step {
	var out []Step
	var seen map[string]bool
	for i, mv := range moves {
		if i > 0 && moves[i-1].req == mv.req && !seen[mv.park] {
			out[len(out)-1].To = mv.park
			seen[mv.park] = true
			continue
		}
		out = append(out, Step{Req: mv.req, To: mv.park})
		seen = map[string]bool{mv.park: true}
	}
	return out
}

// move is one step of a run: request req moved and parked at park.
type move struct {
	req  int
	park string
}
