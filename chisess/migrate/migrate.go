package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chisess/kit/chisess"
)

// Options configures [Load].
type Options struct {
	// Until is when the migration ends: from then on Load does what
	// chisess.Load does and nothing more, and old cookies are left alone
	// (the browser drops them when they expire). Load panics when it is
	// the zero time. Pick a day after the old sessions' longest lifetime
	// has run out: scs's Lifetime, or gorilla's MaxAge, from the switch.
	Until time.Time

	// Rename maps an old key to the key its value gets in chisess; a key
	// mapped to "" is left out. Keys that are not in the map keep their
	// name.
	Rename map[string]string

	// Converters convert the values of the types listed, see [Convert].
	// Without one, strings, booleans, integers, floats, []byte, []string
	// and time.Time are taken as they are, and any other value is left
	// out and its key logged.
	Converters []Converter

	// Owner, when set, names the owner of a migrated session from its
	// converted values, as the application's login does with
	// Session.SetOwner: the session is in the owner index from its first
	// request, so Manager.Sessions lists it and Manager.DestroyOwner ("log
	// out everywhere") ends it. Return "" for a session that has no owner,
	// such as a visitor's who never signed in. Without it, a migrated
	// session has no owner until the user signs in again, out of reach of
	// "log out everywhere". When the owner cannot be indexed, the request
	// is answered by Config.ErrorHandler and the old session is kept for
	// the next one. An owner SetOwner can never take (not valid UTF-8
	// without NUL bytes, or one key past Config.MaxKeys or MaxSize) is
	// logged, and the session taken over without it.
	Owner func(s *chisess.Session) string

	// Timeout bounds one migration: reading and ending the old sessions,
	// and storing the new one. A request whose migration runs out of it
	// is answered by Config.ErrorHandler with the context's error, and
	// nothing is lost. The old store sees the deadline only through the
	// Ctx methods of scs's CtxStore (goredisstore and pgxstore have them;
	// a store without them is not cut short). Default (zero): twice
	// chisess.DefaultTimeout.
	Timeout time.Duration

	// Logger receives a warning for each key left out for want of a
	// conversion (its name and its value's Go type, never the value),
	// and for each old session that could not be stored in chisess. It
	// never sees a token or a value. The default is slog.Default().
	Logger *slog.Logger
}

// Load returns chisess.Load(m) that, before it attaches the session, takes
// over the old sessions of the sources: mount it in place of chisess.Load
// for the weeks after a switch from scs or gorilla/sessions. A request
// that carries the cookies of several sources has them all taken over into
// one chisess session; a key two of them hold keeps the value of the
// source listed first. Parallel requests from one client (one address, the
// port aside, and one User-Agent) that bring the same old cookies share one
// migration in this process; requests from two clients never share one.
//
// Load panics if m is nil, if Options.Until is the zero time, if
// Options.Timeout is negative, if no source
// is given, or if a source's cookie has the name of m's cookie (give the
// chisess cookie a new name, such as the default __Host-session).
func Load(m *chisess.Manager, opts Options, sources ...Source) func(http.Handler) http.Handler {
	if m == nil {
		panic("migrate: Load needs the *chisess.Manager returned by chisess.New, got nil")
	}
	if opts.Timeout < 0 {
		panic("migrate: Options.Timeout is negative: leave it zero for the default, or give how long a migration may take")
	}
	if opts.Until.IsZero() {
		panic("migrate: Options.Until is the zero time: set the date after which old sessions are no longer taken over")
	}
	if len(sources) == 0 {
		panic("migrate: Load needs a source: migrate.SCS or migrate.Gorilla")
	}
	for _, s := range sources {
		if s.open == nil {
			panic("migrate: Load got a zero Source: make each with migrate.SCS or migrate.Gorilla")
		}
		if s.cookie == m.CookieName() {
			panic("migrate: the " + s.name + " cookie and the chisess cookie are both called " + s.cookie + ": give chisess's a name of its own (Config.CookieName)")
		}
	}
	mg := &migrator{m: m, sources: sources, until: opts.Until, conv: newConverter(opts), owner: opts.Owner, timeout: cmp.Or(opts.Timeout, 2*chisess.DefaultTimeout), flights: map[string]*flight{}}
	load := chisess.Load(m)
	return func(next http.Handler) http.Handler {
		loaded := load(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if mg.until.After(time.Now()) {
				r = mg.takeOver(w, r, load)
				if r == nil {
					return // answered with an error
				}
			}
			loaded.ServeHTTP(w, r)
		})
	}
}

// migrator is what Load keeps.
type migrator struct {
	m       *chisess.Manager
	sources []Source
	until   time.Time
	conv    converter
	owner   func(*chisess.Session) string
	timeout time.Duration

	mu      sync.Mutex
	flights map[string]*flight // by client, source and old cookie value
}

// A flight is one migration of an old session, shared by the requests
// from one client that bring the same old cookie while it runs.
type flight struct {
	done chan struct{}
	res  result
}

// result is what a migration tells every request that shares it.
type result struct {
	cookie *http.Cookie // the new chisess session's, or nil
	expire []string     // Set-Cookie values that expire the old cookie
	err    error        // the old store or chisess's backend failed
}

// takeOver handles the old cookies that r carries, one per source, if
// any, and returns the request to serve: r itself, or r with the old
// cookies taken out and the new chisess cookie put in. It returns nil when
// it answered with an error through the manager's ErrorHandler (load
// mounts it).
func (mg *migrator) takeOver(w http.ResponseWriter, r *http.Request, load func(http.Handler) http.Handler) *http.Request {
	var found []oldCookie
	var key strings.Builder
	key.WriteString(client(r))
	for i := range mg.sources {
		cs := r.CookiesNamed(mg.sources[i].cookie)
		if len(cs) == 0 {
			continue
		}
		found = append(found, oldCookie{src: &mg.sources[i], value: cs[0].Value})
		key.WriteString(mg.sources[i].name + "\x00")
		for _, c := range cs { // all of them: the source opens each (cookie tossing)
			key.WriteString(c.Value + "\x00")
		}
	}
	if len(found) == 0 {
		return r
	}
	ctx := context.WithoutCancel(r.Context())
	live, err := mg.live(ctx, r)
	var res result
	switch {
	case err != nil:
		res.err = err
	case live:
		// The client has a chisess session already: the old ones are
		// left unread, and their cookies dropped.
		for _, f := range found {
			res.expire = append(res.expire, f.src.expire)
		}
	default:
		res = mg.share(key.String(), func() result { return mg.migrate(ctx, r, found) })
	}
	if res.err != nil {
		load(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mg.m.Error(w, r, res.err) })).ServeHTTP(w, r)
		return nil
	}
	if res.expire == nil && res.cookie == nil {
		return r // left as it is (see migrate)
	}
	h := w.Header()
	for _, line := range res.expire {
		h.Add("Set-Cookie", line)
	}
	value := ""
	if res.cookie != nil {
		h.Add("Set-Cookie", res.cookie.String())
		value = res.cookie.Value
	}
	h.Set("Cache-Control", "no-store")
	old := make([]string, len(found))
	for i, f := range found {
		old[i] = f.src.cookie
	}
	return withCookies(r, old, mg.m.CookieName(), value, res.cookie != nil)
}

// oldCookie is an old cookie a request carries, and its source.
type oldCookie struct {
	src   *Source
	value string
}

// live reports whether r carries a live chisess session.
func (mg *migrator) live(ctx context.Context, r *http.Request) (bool, error) {
	for _, c := range r.CookiesNamed(mg.m.CookieName()) {
		_, err := mg.m.Inspect(ctx, c.Value)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, chisess.ErrUnknownSession):
			return false, err
		}
	}
	return false, nil
}

// client names the client behind r as far as the server can tell: the
// address it connects from, without the port (a browser opens several
// connections), and its User-Agent. Requests from two clients never share
// a migration, so a client that brings an old cookie planted in another's
// browser at the same moment never gets the session the other is given.
func client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return host + "\x00" + r.UserAgent() + "\x00"
}

// share runs migrate once for the requests that bring the same old cookies
// from one client at the same time, in this process: each gets the one
// chisess session it made.
func (mg *migrator) share(key string, migrate func() result) result {
	mg.mu.Lock()
	if f, ok := mg.flights[key]; ok {
		mg.mu.Unlock()
		<-f.done
		return f.res
	}
	f := &flight{done: make(chan struct{})}
	mg.flights[key] = f
	mg.mu.Unlock()
	defer func() {
		mg.mu.Lock()
		delete(mg.flights, key)
		mg.mu.Unlock()
		close(f.done)
	}()
	f.res = migrate()
	return f.res
}

// migrate reads the old sessions behind the old cookies, stores their
// values as one new chisess session (a key two of them hold keeps the
// value of the source listed first), and ends the old ones, in that order:
// whatever fails, the user keeps one session or the other.
func (mg *migrator) migrate(ctx context.Context, r *http.Request, found []oldCookie) result {
	ctx, cancel := context.WithTimeout(ctx, mg.timeout)
	defer cancel()
	olds := make([]oldSession, len(found))
	values := map[string]any{}
	var remember bool
	var names []string
	for i, f := range found {
		old, err := f.src.open(ctx, r, f.value)
		if err != nil {
			return result{err: err}
		}
		olds[i] = old
		if !old.found {
			if old.warning != "" {
				mg.conv.log.Warn("migrate: "+old.warning, "source", f.src.name)
			}
			continue
		}
		names = append(names, f.src.name)
		remember = remember || old.remember
		for k, v := range mg.conv.convert(f.src.name, old.values) {
			if _, ok := values[k]; !ok {
				values[k] = v
			}
		}
	}
	source := strings.Join(names, ",")
	var res result
	for len(values) > 0 {
		var err error
		res.cookie, err = mg.m.Issue(ctx, values)
		var ve *chisess.ValueError
		if errors.As(err, &ve) && !errors.Is(err, chisess.ErrTooLarge) {
			// A value chisess's codec cannot encode (a NaN in JSON,
			// say): left out like one with no conversion.
			mg.conv.log.Warn("migrate: a value could not be stored; its key is left out", "source", source, "key", ve.Key, "type", fmt.Sprintf("%T", values[ve.Key]))
			delete(values, ve.Key)
			res.cookie = nil
			continue
		}
		switch {
		case errors.Is(err, chisess.ErrTooLarge), errors.Is(err, chisess.ErrReservedKey), errors.Is(err, chisess.ErrCookieTooLarge):
			// It will never fit: say so, and leave the old sessions as
			// they are for a configuration that lets them fit.
			mg.conv.log.Warn("migrate: an old session does not fit in chisess; it is left as it is", "source", source, "keys", slices.Sorted(maps.Keys(values)), "err", err)
			return result{}
		case err != nil:
			return result{err: err}
		}
		break
	}
	if res.cookie != nil && (remember || mg.owner != nil) {
		var err error
		if res.cookie, err = mg.finish(ctx, r, res.cookie, remember, source); err != nil {
			return result{err: err} // the old sessions are kept; the new one is never sent
		}
	}
	ended := false // an old session found has been ended
	for i, old := range olds {
		expire, err := old.end(ctx)
		switch {
		case err != nil && !ended:
			return result{err: err} // the new session, if any, is never sent
		case err != nil:
			// An old session before this one is gone, and its values
			// live only in the new session: it is sent. This one's
			// cookie is kept, to be expired unread by the next request
			// (it has a live chisess session then); its session stays
			// in its store until it expires. The error may name the
			// token: it is not logged.
			mg.conv.log.Warn("migrate: an old session could not be ended after another was; it is left in its store", "source", found[i].src.name)
			continue
		}
		ended = ended || old.found
		res.expire = append(res.expire, expire...)
	}
	return res
}

// finish gives the new session that cookie carries what Issue cannot: the
// RememberMe the user asked the old library for, and its owner
// (Options.Owner; one SetOwner can never take is left out and logged). It
// returns the cookie that carries the session now.
// chisess changes a session only inside a request: this one is r with the
// new cookie alone, at the cookie's Path, in a context of its own, served
// through chisess.Load to a writer that keeps only the headers.
//
// chisess saves the session detached from ctx, within Config.Timeout, so
// the request runs on its own goroutine and finish returns at ctx's
// deadline (Options.Timeout) without it: what it then saves is never sent,
// and the old sessions stay for the next request.
func (mg *migrator) finish(ctx context.Context, r *http.Request, cookie *http.Cookie, remember bool, source string) (*http.Cookie, error) {
	type finished struct {
		cookie *http.Cookie
		err    error
	}
	done := make(chan finished, 1)
	go func() {
		c, err := mg.serveFinish(ctx, r, cookie, remember, source)
		done <- finished{c, err}
	}()
	select {
	case f := <-done:
		return f.cookie, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("migrate: finish the new session: %w", ctx.Err())
	}
}

// serveFinish serves finish's request.
func (mg *migrator) serveFinish(ctx context.Context, r *http.Request, cookie *http.Cookie, remember bool, source string) (*http.Cookie, error) {
	// A context of its own, with ctx's deadline: the Loads that serve r
	// (another manager's, say) are not this request's.
	own := context.Background()
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		own, cancel = context.WithDeadline(own, d)
		defer cancel()
	}
	r = r.Clone(own)
	r.URL = &url.URL{Path: cmp.Or(cookie.Path, "/")} // inside the cookie's Path, where the session can change
	r.Header = http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
	r.Body, r.ContentLength = http.NoBody, 0
	var err error
	changed := false
	w := &headersOnly{header: http.Header{}}
	chisess.Load(mg.m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := mg.m.From(r.Context())
		if err = s.Load(r.Context()); err != nil {
			return
		}
		if remember {
			if err = s.RememberMe(true); err != nil {
				return
			}
			changed = true
		}
		if mg.owner != nil {
			if owner := mg.owner(s); owner != "" {
				switch err := s.SetOwner(owner); {
				case errors.Is(err, chisess.ErrTooLarge):
					// It will never fit, nor will an owner SetOwner
					// refuses become valid: the session is taken over
					// without one, as without Options.Owner.
					mg.conv.log.Warn("migrate: the session is taken over without the owner Options.Owner named, which does not fit", "source", source, "err", err)
				case err != nil: // the error quotes the owner: not logged
					mg.conv.log.Warn("migrate: the session is taken over without the owner Options.Owner named, which is not valid UTF-8 without NUL bytes", "source", source)
				default:
					changed = true
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})).ServeHTTP(w, r)
	switch {
	case err != nil:
		return nil, fmt.Errorf("migrate: finish the new session: %w", err)
	case w.status != http.StatusNoContent:
		return nil, fmt.Errorf("migrate: finish the new session: saving it answered %d", w.status)
	case !changed:
		return cookie, nil
	}
	for _, c := range (&http.Response{Header: w.header}).Cookies() {
		if c.Name == cookie.Name {
			return c, nil
		}
	}
	return cookie, nil // the token and the cookie's lifetime stay
}

// headersOnly is a ResponseWriter that keeps the status and the headers,
// and drops the body.
type headersOnly struct {
	header http.Header
	status int
}

func (w *headersOnly) Header() http.Header { return w.header }

func (w *headersOnly) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *headersOnly) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}
