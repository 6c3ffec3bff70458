package chisess

import (
	"errors"
	"fmt"

	"github.com/chisess/kit/chisess/backend"
)

// ErrInvalidConfig is returned by [New] when a [Config] field is invalid. The
// wrapping error names the field, for example
// "chisess: invalid config: Config.CookieName ...".
var ErrInvalidConfig = errors.New("chisess: invalid config")

// ErrNoKey is returned by [Get] and [Pop] when the session holds no value
// under the key. Most handlers treat it as "use the zero value".
var ErrNoKey = errors.New("chisess: no value for key")

// ErrWrongType is returned by [Get] and [Pop] when the stored value cannot be
// read as the requested type, for example a string read as an int. chisess
// reports the mismatch rather than converting the value.
var ErrWrongType = errors.New("chisess: stored value has another type")

// ErrReservedKey is returned by [Session.Set], [Session.Delete], [Pop] and
// [Manager.Issue] for a key that starts with a NUL byte: chisess keeps such
// keys for itself (the owner, the description, flash messages), and they
// change only through their own methods, such as [Session.SetOwner].
var ErrReservedKey = errors.New("chisess: key is reserved")

// ErrTooLarge is returned when a change would take a session past
// Config.MaxKeys, MaxSize or MaxValueSize, or past the cookie backend's
// Config.MaxCookieSize: by [Session.Set] and the other changes, with the
// session unchanged, and by a commit (through Config.ErrorHandler) when
// merging concurrent requests' changes takes the stored session past them.
// What a commit saves is always within the limits, so it can always be
// read back.
var ErrTooLarge = errors.New("chisess: session too large")

// ErrStaleSession is returned (and reported through Config.ErrorHandler)
// when a request commits changes to a session that another request ended
// or gave a new token (with [Session.RenewToken]) after this one loaded it.
// The changes are not saved, and the session is not brought back: a logout
// stays a logout even when a slower request that started before it
// finishes after it.
var ErrStaleSession = errors.New("chisess: session was ended or renewed by another request since it was loaded")

// ErrResponseStarted is returned by the methods that change a session when
// they are called after the response has started. The session was saved
// when the first byte went out, so the change cannot be kept; make the
// change before the first write, or before a Flush, or, with a server-side
// backend, in [Session.Save], which saves it at once.
var ErrResponseStarted = errors.New("chisess: session changed after the response started")

// ErrHeadersSent is returned by [Session.Save] after the response has
// started when the save would have to change what the client holds, which
// the response's headers, sent already, can no longer carry: with the
// cookie backend, where the session lives in the cookie, every Save; with
// a server-side backend, a change that needs a new token (a new
// session, values set after Destroy, RenewToken) or a new cookie lifetime
// (RememberMe, SetLifetime, ResetLifetime). Nothing of the change is saved. It also matches
// [ErrResponseStarted].
var ErrHeadersSent = errors.New("chisess: the response's headers are sent, and this save would need them")

// ErrReadOnly is returned by the methods that change a session when the
// session came from [Manager.Inspect], which only reads.
var ErrReadOnly = errors.New("chisess: session is read-only")

// ErrOutsidePath is returned by the methods that change a session on a
// request outside Config.Path. The browser does not send the session cookie
// with such a request, so the session there is new and empty whatever the
// browser holds, and a cookie set there would replace the session it holds
// for the Path without either being seen. Change the session on routes
// under the Path, or widen the Path.
var ErrOutsidePath = errors.New("chisess: request is outside the session cookie's Path")

// ErrResponseReplaced is returned by the response writer's Write, Flush and
// ReadFrom after saving the session failed: the response has already been
// replaced by the error response of Config.ErrorHandler, and the handler's
// own output is dropped.
var ErrResponseReplaced = errors.New("chisess: saving the session failed; the response was replaced by an error response")

// ErrUnknownSession is returned by [Manager.Inspect] when a cookie value or
// token leads to no live session: it is malformed, tampered, expired, or
// unknown to the backend. The error also wraps the [RejectReason] that
// says which; errors.As finds it.
var ErrUnknownSession = errors.New("chisess: no live session for this token")

// ErrCookieTooLarge is returned when a session stored in the cookie backend
// would make a cookie larger than Config.MaxCookieSize (by default 4096
// bytes, the most browsers keep): by [Session.Set] (wrapped together with
// [ErrTooLarge]), and by a commit as a last resort. Store less, or use a
// server-side backend.
var ErrCookieTooLarge = backend.ErrCookieTooLarge

// ValueError is the error [Manager.Issue] returns for a value it cannot
// store: one the Codec cannot encode, or one that would take the session
// past a limit (the error then wraps [ErrTooLarge] too). Key names the
// value; the error never holds the value itself. Find it with errors.As.
type ValueError struct {
	Key string
	Err error
}

func (e *ValueError) Error() string { return fmt.Sprintf("value for %q: %v", e.Key, e.Err) }

// Unwrap returns the reason the value could not be stored.
func (e *ValueError) Unwrap() error { return e.Err }
