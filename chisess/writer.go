package chisess

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
)

// writer wraps the ResponseWriter of a request under [Load] and commits the
// session just before the first byte of the response, whichever way it is
// sent: WriteHeader with a final status, Write, WriteString, ReadFrom, Flush,
// FlushError or Hijack. Informational 1xx statuses (103 Early Hints) pass
// through without committing. Nothing is buffered.
//
// It always has Flush, FlushError, Hijack and ReadFrom methods, whatever the
// wrapped writer supports, so that every one of them commits first. When the
// wrapped writer lacks the capability, Flush does nothing after committing,
// FlushError and Hijack return an error wrapping http.ErrNotSupported, and
// ReadFrom falls back to io.Copy. Everything else, such as read and write
// deadlines and EnableFullDuplex, is reached through Unwrap by
// http.ResponseController.
type writer struct {
	rw          http.ResponseWriter
	st          *requestState
	wroteHeader bool // a final status went out, or the error response did
	failed      bool // the commit failed and the error response replaced ours
}

var (
	_ http.ResponseWriter                       = (*writer)(nil)
	_ http.Flusher                              = (*writer)(nil)
	_ http.Hijacker                             = (*writer)(nil)
	_ io.ReaderFrom                             = (*writer)(nil)
	_ io.StringWriter                           = (*writer)(nil)
	_ interface{ FlushError() error }           = (*writer)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*writer)(nil)
)

func (w *writer) Header() http.Header { return w.rw.Header() }

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.rw }

// start commits the session before the response begins with status. It
// reports whether the caller may go on writing: after a failed commit the
// ErrorHandler has answered instead.
func (w *writer) start(status int) bool {
	if w.wroteHeader {
		return !w.failed
	}
	w.wroteHeader = true
	if err := w.st.commit(status); err != nil {
		w.fail(err)
		return false
	}
	return true
}

// fail replaces the response with the ErrorHandler's after a failed commit.
// The error response must not carry the headers the handler set, such as a
// redirect's Location or a half-built Set-Cookie, but keeps those that
// middlewares outside Load set (a Content-Security-Policy, HSTS), and those
// of the sessions of other managers' Loads nested inside this one, which
// were saved before this one failed.
func (w *writer) fail(err error) {
	w.failed = true
	h := w.rw.Header()
	clear(h)
	for k, v := range w.st.outer {
		h[k] = v
	}
	addHeaders(h, w.st.kept) // the sessions nested inside this one were saved
	if !w.st.m.fail(w.rw, w.st.r, err) {
		// The save failed while the ErrorHandler itself was answering
		// through this writer: its answer is lost with the save, so the
		// request gets the plain 500 rather than an empty 200.
		http.Error(w.rw, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

func (w *writer) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		if !w.wroteHeader {
			w.rw.WriteHeader(code)
		}
		return
	}
	if w.failed {
		return
	}
	if w.wroteHeader {
		w.rw.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if w.start(code) {
		w.rw.WriteHeader(code)
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if !w.start(http.StatusOK) {
		return 0, ErrResponseReplaced
	}
	return w.rw.Write(p)
}

func (w *writer) WriteString(s string) (int, error) {
	if !w.start(http.StatusOK) {
		return 0, ErrResponseReplaced
	}
	return io.WriteString(w.rw, s)
}

// ReadFrom commits, then hands src to the wrapped writer's ReadFrom when it
// has one (so sendfile keeps working), or copies.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if !w.start(http.StatusOK) {
		return 0, ErrResponseReplaced
	}
	if rf, ok := w.rw.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.rw}, src)
}

// writerOnly hides every method but Write, so io.Copy cannot loop back into
// ReadFrom.
type writerOnly struct{ io.Writer }

func (w *writer) Flush() { _ = w.FlushError() }

// FlushError commits, then flushes the wrapped writer. It returns the
// commit's failure as ErrResponseReplaced, or the flush's own error.
func (w *writer) FlushError() error {
	if !w.start(http.StatusOK) {
		return ErrResponseReplaced
	}
	return http.NewResponseController(w.rw).Flush()
}

// Hijack saves the session, then hands over the connection. A hijacked
// response never carries chisess's Set-Cookie, so a handler that hijacks
// should not change the session ID or start a new session, and in cookie
// mode, where the data lives in the cookie, changes made before Hijack are
// lost. When the connection cannot be hijacked (HTTP/2, or a writer without
// the capability) Hijack returns an error wrapping http.ErrNotSupported and
// saves nothing, so the handler can still answer normally.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !canHijack(w.rw) {
		return nil, nil, fmt.Errorf("chisess: hijack: %w", http.ErrNotSupported)
	}
	if !w.wroteHeader {
		w.wroteHeader = true
		if err := w.st.commit(http.StatusSwitchingProtocols); err != nil {
			w.fail(err)
			return nil, nil, fmt.Errorf("chisess: hijack: %w", err)
		}
	}
	return http.NewResponseController(w.rw).Hijack()
}

// canHijack reports whether rw, or a writer it wraps, is an http.Hijacker,
// looking the way http.ResponseController does.
func canHijack(rw http.ResponseWriter) bool {
	for {
		switch t := rw.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			rw = t.Unwrap()
		default:
			return false
		}
	}
}

// finish commits a session whose handler returned without writing.
func (w *writer) finish() {
	w.start(http.StatusOK)
}
