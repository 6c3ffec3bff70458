package modeltest

import (
	"context"
	"errors"
	"time"

	"github.com/chisess/kit/chisess"
)

// Every call the checker makes to the Session API goes through one of the
// small functions below, so that a change of the API is absorbed here and
// nowhere else.

// token returns the token of a loaded session.
func token(s *chisess.Session) string { return s.Token() }

func set(s *chisess.Session, key, value string) error { return s.Set(key, value) }

func del(s *chisess.Session, key string) error { return s.Delete(key) }

func clearAll(s *chisess.Session) error { return s.Clear() }

func destroy(s *chisess.Session) error { return s.Destroy() }

func renewID(s *chisess.Session) error { return s.RenewToken() }

func setOwner(s *chisess.Session, owner string) error { return s.SetOwner(owner) }

func addFlash(s *chisess.Session, message string) error { return s.AddFlash("info", message) }

func setLifetime(s *chisess.Session, d time.Duration) error { return s.SetLifetime(d) }

// ownLifetime returns the session's own lifetime, "" for none: one that is
// not the configured lifetime, which the checker's lifetimes never are.
func ownLifetime(s *chisess.Session, configured time.Duration) string {
	if d := s.Lifetime(); d != configured {
		return d.String()
	}
	return ""
}

// saveSet sets key with Session.Save, after the response has started.
func saveSet(ctx context.Context, s *chisess.Session, key, value string) error {
	return s.Save(ctx, func(s *chisess.Session) error { return s.Set(key, value) })
}

// takeFlashes returns the messages of the queued flashes and removes them.
func takeFlashes(s *chisess.Session) ([]string, error) {
	fs, err := s.Flashes()
	return messages(fs), err
}

// queuedFlashes returns the messages of the queued flashes without taking
// them, so that it works on the read-only sessions of Manager.Inspect.
func queuedFlashes(s *chisess.Session) []string { return messages(s.PeekFlashes()) }

func messages(fs []chisess.Flash) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Message)
	}
	return out
}

// values returns the session's keys and their string values.
func values(s *chisess.Session) map[string]string {
	out := map[string]string{}
	for _, k := range s.Keys() {
		v, err := chisess.Get[string](s, k)
		if err != nil {
			v = "?" + err.Error()
		}
		out[k] = v
	}
	return out
}

// isStale reports whether err is the error of a commit that found its
// session ended or renewed by another request: the one failure the docs
// allow a request that overlapped another.
func isStale(err error) bool { return errors.Is(err, chisess.ErrStaleSession) }

// isHeadersSent reports whether err is Session.Save's refusal of a change
// that needs the response's headers: the one it gives a new session.
func isHeadersSent(err error) bool { return errors.Is(err, chisess.ErrHeadersSent) }

// isNoSession reports whether err is Manager.Inspect's "no live session".
func isNoSession(err error) bool { return errors.Is(err, chisess.ErrUnknownSession) }
