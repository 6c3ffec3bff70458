package chisess

import "net/http"

// Deprecated names. Each stays for one minor version after its
// replacement arrived (see CHANGELOG.md), then goes.

// Rotate is the former name of the [RenewToken] middleware.
//
// Deprecated: use [RenewToken]; chisess calls a change of token "renew"
// everywhere (RenewToken, Config.RenewEvery, EventRenewed).
func Rotate(next http.Handler) http.Handler { return RenewToken(next) }

// RenewID is the former name of [Session.RenewToken].
//
// Deprecated: use [Session.RenewToken], which also returns the error that
// RenewID dropped.
func (s *Session) RenewID() { _ = s.RenewToken() }

// ID is the former name of [Session.Token].
//
// Deprecated: use [Session.Token]. The value is the secret the cookie
// carries; the new name says so, so that it is not logged by accident. To
// show or compare sessions, use [Session.Handle].
func (s *Session) ID() string { return s.Token() }

var (
	// ErrSessionGone is the former name of [ErrStaleSession].
	//
	// Deprecated: use [ErrStaleSession]; errors.Is matches either.
	ErrSessionGone = ErrStaleSession

	// ErrCommitted is the former name of [ErrResponseStarted].
	//
	// Deprecated: use [ErrResponseStarted]; errors.Is matches either.
	ErrCommitted = ErrResponseStarted

	// ErrCommitFailed is the former name of [ErrResponseReplaced].
	//
	// Deprecated: use [ErrResponseReplaced]; errors.Is matches either.
	ErrCommitFailed = ErrResponseReplaced

	// ErrNoSession is the former name of [ErrUnknownSession].
	//
	// Deprecated: use [ErrUnknownSession]; errors.Is matches either.
	ErrNoSession = ErrUnknownSession
)
