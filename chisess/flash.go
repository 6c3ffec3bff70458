package chisess

import (
	"encoding/json"
	"fmt"
)

// Flash is a one-time message kept in the session until the next page shows
// it, such as "Saved." after a form post that redirects.
type Flash struct {
	// Kind is an app-chosen category such as "info" or "error".
	Kind string `json:"k"`
	// Message is the text to show.
	Message string `json:"m"`
}

// AddFlash queues a flash message for the next page. Messages queue up until
// [Session.Flashes] takes them. It returns an error only when the session
// can no longer be changed (see [ErrCommitted]).
func (s *Session) AddFlash(kind, message string) error {
	flashes := s.peekFlashes()
	flashes = append(flashes, Flash{Kind: kind, Message: message})
	b, err := json.Marshal(flashes)
	if err != nil {
		return fmt.Errorf("chisess: add flash: %w", err)
	}
	return s.set(flashKey, append([]byte{tagCodec}, b...))
}

// Flashes returns the queued flash messages, oldest first, and removes them
// from the session. It returns nil when there are none.
func (s *Session) Flashes() []Flash {
	flashes := s.peekFlashes()
	if len(flashes) > 0 {
		s.Delete(flashKey)
	}
	return flashes
}

func (s *Session) peekFlashes() []Flash {
	v, ok := s.value(flashKey)
	if !ok || len(v) < 2 || v[0] != tagCodec {
		return nil
	}
	var flashes []Flash
	if err := json.Unmarshal(v[1:], &flashes); err != nil {
		return nil
	}
	return flashes
}
