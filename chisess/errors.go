package chisess

import (
	"errors"

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

// ErrSessionGone is returned (and reported through Config.ErrorHandler)
// when a request commits changes to a session that another request has
// destroyed or given a new ID since this one loaded it. The changes are not
// saved, and the session is not brought back: a logout stays a logout even
// when a slower request that started before it finishes after it.
var ErrSessionGone = errors.New("chisess: session was destroyed or renewed by another request")

// ErrCommitted is returned (and reported through Config.ErrorHandler) when a
// handler changes a session after its response has started. The session was
// saved when the first byte went out, so the change cannot be kept; move the
// change before the first write, or before a Flush.
var ErrCommitted = errors.New("chisess: session changed after the response started")

// ErrCommitFailed is returned by the response writer's Write, Flush and
// ReadFrom after saving the session failed: the response has already been
// replaced by the error response of Config.ErrorHandler, and the handler's
// own output is dropped.
var ErrCommitFailed = errors.New("chisess: session commit failed, response replaced by an error response")

// ErrCookieTooLarge is returned when a session stored in the cookie backend
// would make a cookie larger than browsers keep (4096 bytes). The commit
// fails rather than losing the session silently; store less, or use a
// server-side backend.
var ErrCookieTooLarge = backend.ErrCookieTooLarge
