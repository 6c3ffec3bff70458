package chisess

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
)

// EventKind names a moment in the life of a session, reported to
// Config.OnEvent.
type EventKind uint8

const (
	// EventCreated: a new session was stored for the first time.
	EventCreated EventKind = iota + 1
	// EventLoaded: a request loaded a live session.
	EventLoaded
	// EventCommitted: a request saved changes to a session.
	EventCommitted
	// EventRenewed: a session got a new ID (Event.Previous is the old one).
	EventRenewed
	// EventDestroyed: a session was ended by Destroy, or emptied.
	EventDestroyed
	// EventRejected: a request carried a session cookie that leads to no
	// live session; Event.Reason says why.
	EventRejected
	// EventError: loading or saving failed; Event.Err says why (a backend
	// error, ErrStaleSession, ErrCookieTooLarge, ...).
	EventError
)

var eventNames = [...]string{"", "created", "loaded", "committed", "renewed", "destroyed", "rejected", "error"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// RejectReason says why a session cookie was rejected.
type RejectReason uint8

const (
	// ReasonMalformed: the value is not a token or sealed cookie at all, or
	// the stored record is corrupt.
	ReasonMalformed RejectReason = iota + 1
	// ReasonTampered: a sealed cookie failed authentication: modified, made
	// for another cookie name, or sealed with a removed secret.
	ReasonTampered
	// ReasonExpired: the session existed but its lifetime or idle timeout
	// has passed.
	ReasonExpired
	// ReasonUnknown: a well-formed token the backend does not know: never
	// issued, deleted, renewed by RenewToken, or expired and swept.
	ReasonUnknown
	// ReasonAmbiguous: the request carried several cookies of the session's
	// name that lead to different live sessions, as when a sibling
	// subdomain plants one for a deeper path (cookie tossing). None is
	// used, and none is deleted.
	ReasonAmbiguous
)

var reasonNames = [...]string{"", "malformed", "tampered", "expired", "unknown", "ambiguous"}

func (r RejectReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Error returns the reason's name. A RejectReason is an error so that the
// error of [Manager.Inspect] for a value that leads to no live session can
// carry it: errors.As finds it, and an admin tool can tell a wrong secret
// (ReasonTampered) from an ended session (ReasonExpired, ReasonUnknown).
func (r RejectReason) Error() string { return r.String() }

// Event reports a moment in the life of a session to Config.OnEvent. It
// never carries a session token: Session and Previous are salted hashes,
// stable for one ID and useless as a credential, so logs and metrics can
// follow a session without being able to hijack it.
type Event struct {
	Kind EventKind
	// Session is a salted hash of the session's ID, or "" when there is no
	// session (a rejected cookie). With Config.Secret set, the same ID
	// hashes the same in every process that shares the secret.
	Session string
	// Previous is the hash of the old ID, for EventRenewed.
	Previous string
	// Reason says why a cookie was rejected, for EventRejected.
	Reason RejectReason
	// Err is the failure, for EventError.
	Err error
}

// LogEvents returns a Config.OnEvent hook that writes every event to logger:
// loads and commits at Debug, creation, renewal and destruction at Info,
// rejected cookies at Warn and errors at Error. Use it as is, or as the
// model for a hook that counts events for metrics.
func LogEvents(logger *slog.Logger) func(context.Context, Event) {
	return func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		switch e.Kind {
		case EventLoaded, EventCommitted:
			level = slog.LevelDebug
		case EventRejected:
			level = slog.LevelWarn
		case EventError:
			level = slog.LevelError
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("event", e.Kind.String())}
		if e.Session != "" {
			attrs = append(attrs, slog.String("session", e.Session))
		}
		if e.Previous != "" {
			attrs = append(attrs, slog.String("previous", e.Previous))
		}
		if e.Reason != 0 {
			attrs = append(attrs, slog.String("reason", e.Reason.String()))
		}
		if e.Err != nil {
			attrs = append(attrs, slog.Any("err", e.Err))
		}
		logger.LogAttrs(ctx, level, "chisess: session "+e.Kind.String(), attrs...)
	}
}

// newEventKey returns the key that salts session hashes in events: derived
// from the secret when there is one, so every process agrees, else random.
func newEventKey(secret string) []byte {
	if secret != "" {
		if k, err := hkdf.Key(sha256.New, []byte(secret), nil, "chisess event session hash", 32); err == nil {
			return k
		}
	}
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// eventID is the salted hash of a session token that events carry.
func (m *Manager) eventID(token string) string {
	if m.eventKey == nil {
		return "" // only the Observer listens, and it gets no hashes
	}
	key, ok := m.storageKey(token)
	if !ok {
		return ""
	}
	return m.eventIDOfKey(key)
}

// eventIDOfKey is eventID from the session's storage key, for code that
// has the key but not the token (the owner index). Both hash the same
// thing, so one session has one ID in every event.
func (m *Manager) eventIDOfKey(key string) string {
	if m.eventKey == nil {
		return "" // only the Observer listens, and it gets no hashes
	}
	mac := hmac.New(sha256.New, m.eventKey)
	mac.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:12])
}

// emit queues an event; the session's owner fires queued events once its
// lock is released, so a hook may use the session.
func (s *Session) emit(e Event) {
	if s.m.events {
		s.events = append(s.events, e)
	}
}

// fire runs the queued events. Call it without s.mu held.
func (s *Session) fire(ctx context.Context) {
	s.mu.Lock()
	events := s.events
	s.events = nil
	s.mu.Unlock()
	for _, e := range events {
		s.m.tell(ctx, e)
	}
}

// tell reports e to Config.OnEvent, then to the Observer.
func (m *Manager) tell(ctx context.Context, e Event) {
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(ctx, e)
	}
	if o := m.cfg.Observer; o != nil {
		o.Event(ctx, m, e)
	}
}
