package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// target is what the virtual users share: the app's address, the HTTP
// transport, the recorder and the bounds of the run.
type target struct {
	base      *url.URL
	transport *http.Transport
	rec       *recorder
	timeout   time.Duration // per request
	// storeTimeout is the app's chisess Config.Timeout (-store-timeout).
	storeTimeout time.Duration
	think        time.Duration // pause between a user's requests
	deadline     time.Time
	budget       *atomic.Int64 // requests left; nil for no count bound
	stop         context.Context
}

// take reports whether the run may send one more request, and counts it.
func (t *target) take() bool {
	if t.stop.Err() != nil || !time.Now().Before(t.deadline) {
		return false
	}
	return t.budget == nil || t.budget.Add(-1) >= 0
}

// The kinds of request, as the results name them.
const (
	kRead      = "read"       // GET /read (Autoload)
	kWrite     = "write"      // POST /write: counter + 1
	kLogin     = "login"      // POST /login (RenewToken, SetOwner)
	kLogout    = "logout"     // POST /logout (Destroy)
	kLogoutAll = "logout_all" // POST /logout-everywhere (Require, DestroyOwner)
	kStream    = "stream"     // GET /stream: SSE with Session.Save
	kAPILogin  = "api_login"  // POST /api/login (TokenHeader, RenewToken)
	kAPIRead   = "api_read"   // GET /api/me
	kAPIWrite  = "api_write"  // POST /api/visit: visits + 1
	kAPILogout = "api_logout" // POST /api/logout
	kProbe     = "probe"      // a logged-out token sent again: must lead nowhere
)

// opening is what every virtual user does first, so that a short run
// covers every kind of request, whatever the random mix draws.
var opening = []string{kWrite, kRead, kLogin, kRead, kStream, kAPILogin, kAPIRead, kAPIWrite,
	kLogoutAll, kRead, kWrite, kLogin, kLogout, kAPILogin, kAPILogout}

// mix is the random mix after the opening: mostly reads.
var mix = []struct {
	kind   string
	weight int
}{
	{kRead, 40}, {kAPIRead, 12}, {kWrite, 15}, {kAPIWrite, 6}, {kStream, 4},
	{kLogin, 6}, {kAPILogin, 4}, {kLogout, 4}, {kLogoutAll, 3}, {kAPILogout, 3},
}

// vu is a virtual user: a browser with a cookie jar, and an API client
// holding a bearer token, both for the same user, and the model of what
// each session must hold.
type vu struct {
	t    *target
	user string
	rng  *rand.Rand
	jar  *cookiejar.Jar
	web  *http.Client // with the jar
	bare *http.Client // no jar: probes

	// The browser's session as the model says it must be: has is false
	// when there is none (never made, or logged out: loggedOut).
	has       bool
	loggedOut bool
	want      state
	// The API client's session: token is "" when it holds none.
	token  string
	apiOut bool
	api    state

	// When the store last answered with each session and last changed
	// it, to tell a loss its documented window allows from another.
	seen, changed       time.Time
	apiSeen, apiChanged time.Time
	// A write whose request failed may or may not have been applied: the
	// next answer may hold the counter one higher.
	pending, apiPending bool
	// A stream failed: the session still exists, but its values are
	// whatever the stream saved.
	unsure bool
	// endings are the logouts of either session and the "log out
	// everywhere"s the store answered, with how many sessions each ended:
	// a restart that replays a file without their deletes brings those
	// sessions back, and a later "log out everywhere" ends them again.
	endings []ending
	// explained counts the sessions of endings that such a later "log out
	// everywhere" was already allowed to find again.
	explained int
	// orphans bounds the sessions of the user that a reset forgot but the
	// store may still hold: "log out everywhere" may end that many more.
	orphans int
	// A request the user gave up on (a timeout, a broken connection) may
	// still be carried out by the app, until lateUntil (lateWindow after
	// the failure): up to lateCounts writes, lateTicks stream saves and
	// lateVisits API writes of the sessions the model still holds may land
	// after a later answer, and a session of each of lateLogins may appear
	// after a later "log out everywhere".
	lateUntil                         time.Time
	lateCounts, lateTicks, lateVisits int
	lateLogins                        []time.Time
	// sent is when the request being judged was sent.
	sent time.Time
}

// lateWindow bounds how long after the user gave up on a request the app
// may still carry it out: chisess bounds each commit by Config.Timeout
// (-store-timeout), and the window allows twice that.
func (t *target) lateWindow() time.Duration { return 2 * t.storeTimeout }

func newVU(t *target, user string, seed uint64) *vu {
	v := &vu{t: t, user: user, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	v.bare = &http.Client{Transport: t.transport, Timeout: t.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	v.reset()
	return v
}

// reset forgets both sessions, after an error left the model unsure of
// what the server kept.
func (v *vu) reset() {
	if v.jar != nil {
		v.orphans += 2 // the browser's session and the API's
	}
	v.jar, _ = cookiejar.New(nil)
	v.web = &http.Client{Transport: v.t.transport, Jar: v.jar, Timeout: v.t.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	v.has, v.loggedOut, v.want = false, false, state{}
	v.token, v.apiOut, v.api = "", false, state{}
	v.pending, v.apiPending, v.unsure = false, false, false
	v.lateCounts, v.lateTicks, v.lateVisits = 0, 0, 0 // of sessions the model no longer holds
}

// run plays the opening, then the random mix, until the run's bounds.
func (v *vu) run() {
	for i := 0; ; i++ {
		kind := ""
		if i < len(opening) {
			kind = opening[i]
		} else {
			kind = v.draw()
		}
		if !v.act(kind) {
			return
		}
		if v.t.think > 0 {
			select {
			case <-v.t.stop.Done():
				return
			case <-time.After(v.t.think):
			}
		}
	}
}

func (v *vu) draw() string {
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	n := v.rng.IntN(total)
	for _, m := range mix {
		if n < m.weight {
			return m.kind
		}
		n -= m.weight
	}
	return kRead
}

// act does one action of kind, or the one its precondition needs first
// (a stream needs a session, logging out everywhere a user, the API calls
// a token). It returns false when the run's bounds stop it.
func (v *vu) act(kind string) bool {
	switch {
	case kind == kStream && !v.has, kind == kLogoutAll && v.want.User == "":
		kind = kLogin
	case (kind == kAPIRead || kind == kAPIWrite || kind == kAPILogout) && v.token == "":
		kind = kAPILogin
	}
	switch kind {
	case kRead:
		return v.read()
	case kWrite:
		return v.write()
	case kLogin:
		return v.login()
	case kLogout:
		return v.logout()
	case kLogoutAll:
		return v.logoutAll()
	case kStream:
		return v.stream()
	case kAPILogin:
		return v.apiLogin()
	case kAPIRead:
		return v.apiRead()
	case kAPIWrite:
		return v.apiWrite()
	case kAPILogout:
		return v.apiLogout()
	}
	panic("unknown kind " + kind)
}

// outcome is what send returns besides the response.
type outcome int

const (
	sent       outcome = iota // a response came
	stopped                   // the run's bounds: nothing sent
	failed                    // an error, recorded
	failedAway                // an error while the store was away, or before the request reached the app: nothing changed
)

// send sends one request of kind and reads the whole response, unless
// keep is set (the stream reads its own). It times it and records it,
// with the class of its error; a status other than ok is an error unless
// allowed lists it.
func (v *vu) send(kind string, client *http.Client, req *http.Request, ok int, allowed ...int) (*http.Response, []byte, outcome) {
	if !v.t.take() {
		return nil, nil, stopped
	}
	start := time.Now()
	v.sent = start
	resp, err := client.Do(req)
	var body []byte
	if err == nil && kind != kStream {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		v.t.rec.request(kind, start, time.Since(start), errorClass(err))
		v.t.rec.errorDetail(kind + ": " + err.Error())
		if notSent(err) {
			return nil, nil, failedAway
		}
		return nil, nil, v.failure(start, false)
	}
	if resp.StatusCode != ok && !slices.Contains(allowed, resp.StatusCode) {
		if kind == kStream {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
		}
		v.t.rec.request(kind, start, time.Since(start), fmt.Sprintf("status_%dxx", resp.StatusCode/100))
		v.t.rec.errorDetail(fmt.Sprintf("%s: status %d: %s", kind, resp.StatusCode, strings.TrimSpace(string(body))))
		// The app's answer names the store error that failed the request.
		refused := strings.Contains(string(body), "connect: connection refused")
		return nil, nil, v.failure(start, refused)
	}
	if kind != kStream {
		v.t.rec.request(kind, start, time.Since(start), "")
	}
	return resp, body, sent
}

// failure tells a request that failed while the store's process was gone,
// which changed nothing, from another failure. refused is true when the
// store's connection was refused.
func (v *vu) failure(start time.Time, refused bool) outcome {
	if v.t.rec.away(start, time.Now(), refused) {
		return failedAway
	}
	return failed
}

// notSent reports whether err failed the request before any of it
// reached the app: the connection to the app could not be made (refused,
// while the app's process is gone). The app saw nothing, so nothing
// changed.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// errorClass names the class of a transport error.
func errorClass(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport"
}

// fail records a response the tool could not understand, and resets the
// model.
func (v *vu) fail(kind, class, detail string) {
	v.t.rec.failed(kind, class) // the request is timed already
	v.t.rec.errorDetail(kind + ": " + detail)
	v.reset()
}

func (v *vu) newRequest(method, path string, form url.Values) *http.Request {
	u := v.t.base.JoinPath(path)
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(v.t.stop), method, u.String(), body)
	if err != nil {
		panic(err) // the paths are the tool's own
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// call sends a request of kind and decodes its state. ok is false when
// the run stops or the request failed (the model is then reset).
func (v *vu) call(kind string, client *http.Client, req *http.Request, allowed ...int) (st state, status int, more, ok bool) {
	resp, body, out := v.send(kind, client, req, http.StatusOK, allowed...)
	switch out {
	case stopped:
		return st, 0, false, false
	case failed:
		v.afterError(kind)
		return st, 0, true, false
	case failedAway:
		return st, 0, true, false
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &st); err != nil {
			v.fail(kind, "decode", err.Error())
			return st, 0, true, false
		}
	}
	if kind == kAPILogin || kind == kAPIRead || kind == kAPIWrite || kind == kAPILogout {
		if h, ok := resp.Header["Authorization"]; ok {
			v.token = strings.TrimPrefix(h[0], "Bearer ")
		}
	}
	return st, resp.StatusCode, true, true
}

// afterError updates the model after the request of kind failed. A read
// changes nothing, so the model stands, and a session the store drops
// while it is away is found lost once it is back; a write may or may not
// have been applied; a stream may have saved some of its ticks; after a
// login or a logout the session itself may have changed, and the model
// starts again.
//
// The app may also carry out the failed request after the user gave up on
// it, within lateWindow: its change may then show in a later answer (see
// the late fields of vu).
func (v *vu) afterError(kind string) {
	now := time.Now()
	switch kind {
	case kRead, kAPIRead, kProbe:
		return
	case kWrite:
		v.pending = true
		v.lateCounts++
	case kAPIWrite:
		v.apiPending = true
		v.lateVisits++
	case kStream:
		v.unsure = true
		v.lateTicks += streamTicks
	case kLogin, kAPILogin:
		v.reset()
		v.lateLogins = append(v.lateLogins, now)
	default:
		v.reset()
	}
	v.lateUntil = now.Add(v.t.lateWindow())
}

// landedLate reports whether got is want with the changes of requests the
// user gave up on, and takes those changes off what may still land. The
// changes land by lateUntil, but may show in any answer after: they are
// forgotten once an answer to a request sent after lateUntil shows none.
func (v *vu) landedLate(got, want state) bool {
	if got == want {
		if v.sent.After(v.lateUntil) {
			v.lateCounts, v.lateTicks, v.lateVisits = 0, 0, 0 // nothing more can land
		}
		return false
	}
	dc, dt, dv := got.Count-want.Count, got.SSE-want.SSE, got.Visits-want.Visits
	fits := func(d, most int) bool { return d >= 0 && d <= most }
	if got.User != want.User || got.Ended != want.Ended || !fits(dc, v.lateCounts) || !fits(dt, v.lateTicks) || !fits(dv, v.lateVisits) {
		return false
	}
	v.lateCounts, v.lateTicks, v.lateVisits = v.lateCounts-dc, v.lateTicks-dt, v.lateVisits-dv
	v.t.rec.landedLate()
	return true
}

// recentLateLogins counts the logins given up on within lateWindow, and
// forgets the older ones.
func (v *vu) recentLateLogins() int {
	cut := time.Now().Add(-v.t.lateWindow())
	v.lateLogins = slices.DeleteFunc(v.lateLogins, func(t time.Time) bool { return t.Before(cut) })
	return len(v.lateLogins)
}

// judge compares got with want and records a problem when they differ:
// a fresh session where the model holds one is a lost session, any
// session where the model holds none after a logout a resurrected one,
// anything else wrong data. It returns whether they matched.
func (v *vu) judge(kind, who string, got, want, fresh state, had, afterLogout bool, seen, changed time.Time) bool {
	switch {
	case got == want:
		if had && want != fresh { // a fresh session would look the same
			v.t.rec.kept(seen)
		}
		return true
	case had && got == fresh:
		v.t.rec.lostSession(fmt.Sprintf("%s %s: got %+v, want %+v", who, kind, got, want), seen, changed)
	case !had && afterLogout:
		v.t.rec.problem(probResurrected, fmt.Sprintf("%s %s: got %+v after logout", who, kind, got))
	default:
		v.t.rec.problem(probWrong, fmt.Sprintf("%s %s: got %+v, want %+v", who, kind, got, want))
	}
	return false
}

// web checks an answer about the browser's session and takes it as the
// new model.
func (v *vu) webJudge(kind string, got, want, fresh state) {
	if v.pending {
		alt := want
		alt.Count++
		if got == alt {
			want = got // the failed write was applied
		}
		v.pending = false
	}
	if v.unsure {
		if got != fresh {
			want = got
		}
		v.unsure = false
	}
	if v.has && v.landedLate(got, want) {
		want = got
	}
	v.judge(kind, v.user+" browser", got, want, fresh, v.has, v.loggedOut, v.seen, v.changed)
	now := time.Now()
	if got != v.want || kind == kWrite || kind == kLogin || kind == kStream {
		v.changed = now
	}
	v.want, v.seen = got, now
	v.has = got != state{}
	if v.has {
		v.loggedOut = false
	}
}

func (v *vu) apiJudge(kind string, got, want, fresh state, had bool) {
	if v.apiPending {
		alt := want
		alt.Visits++
		if got == alt {
			want = got // the failed write was applied
		}
		v.apiPending = false
	}
	if had && v.landedLate(got, want) {
		want = got
	}
	v.judge(kind, v.user+" api", got, want, fresh, had, v.apiOut, v.apiSeen, v.apiChanged)
	now := time.Now()
	if got != v.api || kind == kAPIWrite || kind == kAPILogin {
		v.apiChanged = now
	}
	v.api, v.apiSeen = got, now
	if got != (state{}) {
		v.apiOut = false
	}
}

func (v *vu) read() bool {
	got, _, more, ok := v.call(kRead, v.web, v.newRequest("GET", "/read", nil))
	if ok {
		v.webJudge(kRead, got, v.want, state{})
	}
	return more
}

func (v *vu) write() bool {
	got, _, more, ok := v.call(kWrite, v.web, v.newRequest("POST", "/write", url.Values{}))
	if ok {
		want := v.want
		want.Count++
		v.webJudge(kWrite, got, want, state{Count: 1})
	}
	return more
}

func (v *vu) login() bool {
	got, _, more, ok := v.call(kLogin, v.web, v.newRequest("POST", "/login", url.Values{"user": {v.user}}))
	if ok {
		want := v.want
		want.User = v.user
		v.webJudge(kLogin, got, want, state{User: v.user})
	}
	return more
}

// cookies returns the browser's cookies for the app, to send again after
// a logout.
func (v *vu) cookies() []*http.Cookie {
	return v.jar.Cookies(v.t.base)
}

func (v *vu) logout() bool {
	old := v.cookies()
	_, _, more, ok := v.call(kLogout, v.web, v.newRequest("POST", "/logout", url.Values{}))
	if !ok {
		return more
	}
	v.has, v.loggedOut, v.want = false, true, state{}
	v.endings = append(v.endings, ending{at: time.Now(), sessions: 1})
	return v.probeWeb(old)
}

// probeWeb sends the logged-out cookies again: they must lead nowhere.
func (v *vu) probeWeb(old []*http.Cookie) bool {
	if len(old) == 0 {
		return true
	}
	req := v.newRequest("GET", "/read", nil)
	for _, c := range old {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	got, _, more, ok := v.call(kProbe, v.bare, req)
	if ok && got != (state{}) {
		v.t.rec.problem(probResurrected, fmt.Sprintf("%s browser: the logged-out cookie still reads %+v", v.user, got))
	}
	return more
}

// probeAPI sends a logged-out token again: it must lead nowhere.
func (v *vu) probeAPI(token string) bool {
	if token == "" {
		return true
	}
	req := v.newRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	got, _, more, ok := v.call(kProbe, v.bare, req)
	if !ok {
		return more
	}
	if got != (state{}) {
		v.t.rec.problem(probResurrected, fmt.Sprintf("%s api: the logged-out token still reads %+v", v.user, got))
	}
	return true
}

func (v *vu) logoutAll() bool {
	old, oldToken := v.cookies(), v.token
	// The API session ends with the others when it is the user's: a
	// session that replaced a lost one has no user until its login.
	apiOwned := v.apiHas() && v.api.User != ""
	wantEnded := 0
	if apiOwned {
		wantEnded = 1
	}
	got, status, more, ok := v.call(kLogoutAll, v.web, v.newRequest("POST", "/logout-everywhere", url.Values{}), http.StatusUnauthorized)
	if !ok {
		return more
	}
	if status == http.StatusUnauthorized {
		// Require found no user: the model holds one (act's precondition).
		v.t.rec.lostSession(fmt.Sprintf("%s browser %s: 401, want the session of %+v", v.user, kLogoutAll, v.want), v.seen, v.changed)
		v.has, v.want = false, state{}
		return more
	}
	switch {
	case got.Ended < wantEnded:
		// The API session was gone from the store: lost.
		v.t.rec.lostSession(fmt.Sprintf("%s %s: ended %d sessions, want %d", v.user, kLogoutAll, got.Ended, wantEnded), v.apiSeen, v.apiChanged)
	case got.Ended > wantEnded+v.orphans+v.recentLateLogins():
		extra := got.Ended - wantEnded - v.orphans - len(v.lateLogins)
		v.explained += v.t.rec.undone(fmt.Sprintf("%s %s: ended %d sessions, want %d (and up to %d the user forgot after errors, %d of logins given up on)", v.user, kLogoutAll, got.Ended, wantEnded, v.orphans, len(v.lateLogins)), extra, v.endings, v.explained)
	}
	v.has, v.loggedOut, v.want = false, true, state{}
	v.orphans = 0
	// The browser's session ended with the others.
	v.endings = append(v.endings, ending{at: time.Now(), sessions: got.Ended + 1})
	if !apiOwned && v.apiHas() {
		return v.probeWeb(old)
	}
	v.token, v.apiOut, v.api = "", oldToken != "", state{}
	return v.probeWeb(old) && v.probeAPI(oldToken)
}

// stream reads the event stream: the session as loaded, then one tick per
// Session.Save with the counter it saved.
func (v *vu) stream() bool {
	req := v.newRequest("GET", "/stream", nil)
	start := time.Now()
	resp, _, out := v.send(kStream, v.web, req, http.StatusOK, http.StatusConflict)
	switch out {
	case stopped:
		return false
	case failed:
		v.afterError(kStream)
		return true
	case failedAway:
		return true
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict {
		v.t.rec.request(kStream, start, time.Since(start), "")
		v.t.rec.lostSession(fmt.Sprintf("%s browser stream: no session, want %+v", v.user, v.want), v.seen, v.changed)
		v.has, v.want = false, state{}
		return true
	}
	ticks, done, err := v.readStream(resp.Body)
	if err == nil && !done {
		err = errors.New("the stream ended without its done event")
	}
	if err != nil {
		v.t.rec.request(kStream, start, time.Since(start), "stream")
		v.t.rec.errorDetail("stream: " + err.Error())
		v.afterError(kStream)
		return true
	}
	v.t.rec.request(kStream, start, time.Since(start), "")
	if ticks != streamTicks {
		v.t.rec.problem(probWrong, fmt.Sprintf("%s stream: %d ticks, want %d", v.user, ticks, streamTicks))
	}
	return true
}

// readStream reads the events: the state is judged as a read, each tick
// must be the next value of the counter.
func (v *vu) readStream(r io.Reader) (ticks int, done bool, err error) {
	sc := bufio.NewScanner(r)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch event {
		case "state":
			var got state
			if err := json.Unmarshal([]byte(data), &got); err != nil {
				return ticks, false, fmt.Errorf("state event: %w", err)
			}
			v.webJudge(kStream, got, v.want, state{})
		case "tick":
			n, err := strconv.Atoi(data)
			if err != nil {
				return ticks, false, fmt.Errorf("tick event: %w", err)
			}
			ticks++
			if n != v.want.SSE+1 {
				v.t.rec.problem(probWrong, fmt.Sprintf("%s stream: tick %d saved sse=%d, want %d", v.user, ticks, n, v.want.SSE+1))
			}
			v.want.SSE = n
		case "done":
			return ticks, true, nil
		case "error":
			return ticks, false, fmt.Errorf("the app's Save failed: %s", data)
		}
	}
	return ticks, false, sc.Err()
}

func (v *vu) apiRequest(method, path string, form url.Values) *http.Request {
	req := v.newRequest(method, path, form)
	if v.token != "" {
		req.Header.Set("Authorization", "Bearer "+v.token)
	}
	return req
}

func (v *vu) apiLogin() bool {
	had := v.apiHas()
	got, _, more, ok := v.call(kAPILogin, v.bare, v.apiRequest("POST", "/api/login", url.Values{"user": {v.user}}))
	if ok {
		want := v.api
		want.User = v.user
		v.apiJudge(kAPILogin, got, want, state{User: v.user}, had)
	}
	return more
}

// apiHas reports whether the model holds an API session.
func (v *vu) apiHas() bool { return v.token != "" && v.api != (state{}) }

func (v *vu) apiRead() bool {
	had := v.apiHas()
	got, _, more, ok := v.call(kAPIRead, v.bare, v.apiRequest("GET", "/api/me", nil))
	if ok {
		v.apiJudge(kAPIRead, got, v.api, state{}, had)
	}
	return more
}

func (v *vu) apiWrite() bool {
	had := v.apiHas()
	got, _, more, ok := v.call(kAPIWrite, v.bare, v.apiRequest("POST", "/api/visit", url.Values{}))
	if ok {
		want := v.api
		want.Visits++
		v.apiJudge(kAPIWrite, got, want, state{Visits: 1}, had)
	}
	return more
}

func (v *vu) apiLogout() bool {
	old := v.token
	_, _, more, ok := v.call(kAPILogout, v.bare, v.apiRequest("POST", "/api/logout", url.Values{}))
	if !ok {
		return more
	}
	if v.token != "" {
		v.t.rec.problem(probWrong, fmt.Sprintf("%s api logout: the answer kept a token", v.user))
	}
	v.token, v.apiOut, v.api = "", true, state{}
	v.endings = append(v.endings, ending{at: time.Now(), sessions: 1})
	return v.probeAPI(old)
}
