package chisess

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Flash is a one-time message kept in the session until the next page shows
// it, such as "Saved." after a form post that redirects.
type Flash struct {
	// Kind is an app-chosen category such as "info" or "error".
	Kind string `json:"k"`
	// Message is the text to show.
	Message string `json:"m"`
}

// Each queued flash message is an entry of its own, under flashPrefix, then
// the time it was added (Unix nanoseconds, 8 bytes big-endian, and always
// later than the messages already queued, whatever the clock's resolution)
// and 4 random bytes: keys sort in the order messages were added, and no
// two requests pick the same key, so messages added by concurrent requests
// merge like any other keys instead of one queue overwriting the other.
const flashPrefix = "\x00fm"

// legacyFlashKey held the whole queue as one JSON list in earlier versions
// of chisess; such a queue is still shown (and consumed).
const legacyFlashKey = "\x00flash"

// AddFlash queues a flash message for the next page. Messages queue up until
// [Session.Flashes] takes them; each counts as one key towards
// Config.MaxKeys. It returns an error when the session can no longer be
// changed, or is full.
func (s *Session) AddFlash(kind, message string) error {
	b, err := json.Marshal(Flash{Kind: kind, Message: message})
	if err != nil {
		return fmt.Errorf("chisess: add flash: %w", err)
	}
	val := append([]byte{tagCodec}, b...)
	return s.mutate("AddFlash", func() error { return s.put(s.nextFlashKey(), val) })
}

// nextFlashKey returns the key of a message added now. Callers hold s.mu.
func (s *Session) nextFlashKey() string {
	var r [4]byte
	rand.Read(r[:])
	return flashKey(max(uint64(s.m.now().UnixNano()), lastFlash(s.rec)+1), r[:])
}

// flashKey is the key of a message added at the time at; the last 4 bytes
// of suffix (random bytes, or an earlier key of the message) tell apart
// messages of the same time.
func flashKey(at uint64, suffix []byte) string {
	key := make([]byte, len(flashPrefix), len(flashPrefix)+12)
	copy(key, flashPrefix)
	key = binary.BigEndian.AppendUint64(key, at)
	return string(append(key, suffix[len(suffix)-4:]...))
}

// flashTime returns the time in a message's key, and whether key is one.
func flashTime(key []byte) (uint64, bool) {
	if len(key) != len(flashPrefix)+12 || string(key[:len(flashPrefix)]) != flashPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(flashPrefix):]), true
}

// lastFlash returns the latest time among the messages r holds, or 0.
func lastFlash(r record) uint64 {
	var last uint64
	for _, e := range r.entries {
		if at, ok := flashTime(e.key); ok {
			last = max(last, at)
		}
	}
	return last
}

// Flashes returns the queued flash messages, oldest first (in the order
// they were saved, when concurrent requests added some), and removes them
// from the session. It returns nil when there are none. Taking them is a
// change: after the response has started Flashes returns no messages and an
// error wrapping [ErrResponseStarted] (they stay queued for a later page),
// so show flashes before the first write. Two concurrent requests may both
// show a message that neither had taken when it loaded the session.
func (s *Session) Flashes() ([]Flash, error) {
	var flashes []Flash
	err := s.mutate("Flashes", func() error {
		var keys []string
		flashes, keys = s.queued()
		for _, k := range keys {
			s.remove(k)
		}
		return nil
	})
	return flashes, err
}

// PeekFlashes returns the queued flash messages, oldest first, without
// taking them: for a count of pending messages, or on a read-only session
// from [Manager.Inspect].
func (s *Session) PeekFlashes() []Flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	flashes, _ := s.queued()
	return flashes
}

// queued returns the queued messages and the keys they are stored under.
// Callers hold s.mu.
func (s *Session) queued() ([]Flash, []string) {
	var keys []string
	for _, e := range s.rec.entries {
		if k := string(e.key); strings.HasPrefix(k, flashPrefix) || k == legacyFlashKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // the legacy queue, if any, sorts first: it is older
	var flashes []Flash
	for _, k := range keys {
		flashes = append(flashes, decodeFlashes(s.rec.entries[s.rec.find(k)].val)...)
	}
	return flashes, keys
}

// decodeFlashes decodes a flash entry: one message, or a legacy queue.
func decodeFlashes(v []byte) []Flash {
	if len(v) < 2 || v[0] != tagCodec {
		return nil
	}
	var one Flash
	if v[1] == '{' && json.Unmarshal(v[1:], &one) == nil {
		return []Flash{one}
	}
	var list []Flash
	if json.Unmarshal(v[1:], &list) != nil {
		return nil
	}
	return list
}
