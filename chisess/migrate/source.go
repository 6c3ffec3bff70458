package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// A Source is the library whose sessions [Load] takes over: [SCS] or
// [Gorilla].
type Source struct {
	name   string // for the logs
	cookie string // the old cookie's name
	// open reads the old session that the cookie's value leads to, once.
	open func(ctx context.Context, r *http.Request, value string) (oldSession, error)
	// expire is the Set-Cookie value that expires the old cookie.
	expire string
}

// oldSession is what a Source found behind an old cookie.
type oldSession struct {
	found    bool    // false: the cookie leads to no session, or does not verify
	values   []entry // when found
	remember bool    // the user asked the old library to keep them signed in
	warning  string  // for the log, when not found: why, never a token or a value
	// end ends the old session where it is stored, if it is stored
	// anywhere, and returns the Set-Cookie values that expire its cookie.
	end func(ctx context.Context) ([]string, error)
}

// SCS returns the [Source] for the sessions of old, an scs session
// manager configured as it was before the switch: its Store (redisstore,
// goredisstore, postgresstore, any scs.Store), Codec, HashTokenInStore and
// Cookie (the name, Path and Domain to expire) are used as they are.
// LoadAndSave must no longer be mounted.
//
// The token in the old cookie is looked up through old's Store: a token the
// store does not know, or holds as expired, is never adopted. A session
// found is deleted from the store once its values are stored in chisess.
// A session scs remembered (SessionManager.RememberMe) gets
// Session.RememberMe(true) in chisess, and scs's key for it is not a value.
//
// SCS panics if old is nil.
func SCS(old *scs.SessionManager) Source {
	if old == nil {
		panic("migrate: SCS needs the *scs.SessionManager the application used, got nil")
	}
	c := old.Cookie
	line := (&http.Cookie{
		Name: c.Name, Path: c.Path, Domain: c.Domain,
		MaxAge: -1, Expires: time.Unix(1, 0),
		Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite, Partitioned: c.Partitioned,
	}).String()
	expire := func(context.Context) ([]string, error) { return []string{line}, nil }
	return Source{name: "scs", cookie: c.Name, expire: line, open: oneLive(c.Name, func(ctx context.Context, _ *http.Request, token string) (oldSession, error) {
		sm := *old // old as it is, with its Codec's errors told apart from its Store's
		sm.Codec = markedCodec{old.Codec}
		ctx, err := sm.Load(ctx, token) // Store.Find, then Codec.Decode
		var undecodable decodeError
		switch {
		case errors.As(err, &undecodable):
			// It will never decode: a type no longer registered with
			// gob, a corrupt record. Taken as an unknown token is, so
			// the client is not answered with an error until Until.
			return oldSession{end: expire, warning: "an old session was not decoded, so it is not taken over; its cookie is expired"}, nil
		case err != nil:
			return oldSession{}, fmt.Errorf("migrate: read the scs session: %w", err)
		}
		if old.Token(ctx) == "" {
			return oldSession{end: expire}, nil // unknown or expired token
		}
		var values []entry
		for _, k := range old.Keys(ctx) {
			if k != scsRememberKey {
				values = append(values, entry{key: k, value: old.Get(ctx, k)})
			}
		}
		return oldSession{found: true, values: values, remember: old.GetBool(ctx, scsRememberKey), end: func(context.Context) ([]string, error) {
			if err := old.Destroy(ctx); err != nil { // Store.Delete
				return nil, fmt.Errorf("migrate: delete the scs session: %w", err)
			}
			return expire(ctx)
		}}, nil
	})}
}

// markedCodec is an scs Codec whose Decode errors are decodeErrors.
type markedCodec struct{ scs.Codec }

func (c markedCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	deadline, values, err := c.Codec.Decode(b)
	if err != nil {
		err = decodeError{err}
	}
	return deadline, values, err
}

// decodeError is an error of the old session's Codec: its record will
// never decode.
type decodeError struct{ error }

func (e decodeError) Unwrap() error { return e.error }

// scsRememberKey is the key under which scs keeps a session's RememberMe
// (scs v2.9.0's SessionManager.RememberMe).
const scsRememberKey = "__rememberMe"

// Gorilla returns the [Source] for the sessions called name in store, a
// gorilla/sessions store configured as it was before the switch: a
// CookieStore or FilesystemStore made with the same hash and block keys
// (older key pairs included), whose Options give the Path and Domain of
// the cookie to expire.
//
// The cookie is opened by store.New, that is by securecookie: a cookie
// whose signature does not verify, that does not decrypt, or whose
// timestamp is older than the store's MaxAge is never adopted. A
// FilesystemStore's file is removed once its values are stored in chisess.
// A CookieStore session lives in the cookie alone and cannot be deleted:
// a copy of the cookie taken before the switch still opens until Until or
// until the store's MaxAge ends, as it would have under gorilla.
//
// Gorilla panics if store is nil or name is empty.
func Gorilla(store sessions.Store, name string) Source {
	if store == nil || name == "" {
		panic("migrate: Gorilla needs the application's sessions.Store and the session's name")
	}
	opts := storeOptions(store)
	opts.MaxAge = -1
	line := sessions.NewCookie(name, "", &opts).String()
	expire := func(context.Context) ([]string, error) { return []string{line}, nil }
	return Source{name: "gorilla", cookie: name, expire: line, open: oneLive(name, func(_ context.Context, r *http.Request, value string) (oldSession, error) {
		r = onlyCookie(r, name, value) // store.New reads the first cookie of the name
		s, err := store.New(r, name)
		var scErr securecookie.Error
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// A FilesystemStore cookie whose file is gone: taken over by
			// another request or process, or cleaned up. The error names
			// the file, which holds the session ID: it is not passed on.
			return oldSession{end: expire}, nil
		case err != nil && !(errors.As(err, &scErr) && scErr.IsDecode()):
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
				err = fmt.Errorf("%s the session file: %w", pe.Op, pe.Err) // its name holds the session ID
			}
			return oldSession{}, fmt.Errorf("migrate: read the gorilla session: %w", err)
		case err != nil || s.IsNew:
			return oldSession{end: expire}, nil // forged, expired, or undecodable
		}
		values := make([]entry, 0, len(s.Values))
		for k, v := range s.Values {
			values = append(values, entry{key: k, value: v})
		}
		return oldSession{found: true, values: values, end: func(context.Context) ([]string, error) {
			if s.Options == nil {
				s.Options = &sessions.Options{Path: "/"}
			}
			s.Options.MaxAge = -1 // gorilla's way to delete: the file, if any, and the cookie
			var w headerWriter
			if err := store.Save(r, &w, s); err != nil {
				return nil, fmt.Errorf("migrate: delete the gorilla session: %w", err)
			}
			return w.h["Set-Cookie"], nil
		}}, nil
	})}
}

// maxOldCookies is how many cookies of an old cookie's name a request may
// carry for them to be opened, as chisess tries its own.
const maxOldCookies = 16

// oneLive returns a Source's open that opens, through open, every distinct
// value of the cookie called name that the request carries, and goes on
// with the one old session they lead to. This is cookie tossing
// (docs/security.md): a sibling subdomain, or a page over http, can plant
// an old cookie of its own (the attacker's, valid until Until) for a
// deeper Path, which the browser sends before the user's. A value that
// leads to no session is passed over; two that lead to different
// sessions, or more values than maxOldCookies, take nothing over and
// expire nothing, so that the user never lands in another's session.
func oneLive(name string, open func(ctx context.Context, r *http.Request, value string) (oldSession, error)) func(ctx context.Context, r *http.Request, value string) (oldSession, error) {
	return func(ctx context.Context, r *http.Request, value string) (oldSession, error) {
		var values []string
		for _, c := range r.CookiesNamed(name) {
			if !slices.Contains(values, c.Value) {
				values = append(values, c.Value)
			}
		}
		switch {
		case len(values) <= 1:
			return open(ctx, r, value)
		case len(values) > maxOldCookies:
			return oldSession{end: keepCookies}, nil
		}
		var live, dead oldSession
		n := 0
		for _, v := range values {
			s, err := open(ctx, r, v)
			switch {
			case err != nil:
				return oldSession{}, err
			case s.found:
				live, n = s, n+1
			default:
				dead = s
			}
		}
		switch n {
		case 0:
			return dead, nil
		case 1:
			return live, nil
		}
		return oldSession{end: keepCookies}, nil
	}
}

// keepCookies is the end of an old session that is not taken over and
// whose cookies stay as they are.
func keepCookies(context.Context) ([]string, error) { return nil, nil }

// onlyCookie returns r, or a copy of r whose Cookie header holds only
// name=value when r carries several cookies of that name.
func onlyCookie(r *http.Request, name, value string) *http.Request {
	if len(r.CookiesNamed(name)) <= 1 {
		return r
	}
	r = r.Clone(r.Context())
	r.Header["Cookie"] = []string{name + "=" + value}
	return r
}

// storeOptions returns the cookie options of store, for the stores
// gorilla/sessions ships, and Path=/ for any other.
func storeOptions(store sessions.Store) sessions.Options {
	var o *sessions.Options
	switch s := store.(type) {
	case *sessions.CookieStore:
		o = s.Options
	case *sessions.FilesystemStore:
		o = s.Options
	}
	if o == nil {
		return sessions.Options{Path: "/"}
	}
	return *o
}

// headerWriter catches the headers a store's Save sets, so that each
// request that shares one migration can send them.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}
