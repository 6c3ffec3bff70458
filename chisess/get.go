package chisess

import "fmt"

// Get returns the value stored under key, decoded as a T. It returns an error
// wrapping [ErrNoKey] when the key is absent, and one wrapping
// [ErrWrongType] when the stored value is not a T: an int is read back as an
// int, and a string stored under "visits" is reported, never converted.
//
// Built-in kinds (string, bool, int, int64, float64, []byte, time.Time) must
// be read as exactly that type; other values are decoded by the Codec. Get
// with T = any returns the value in its natural Go type. Values are decoded
// only when asked for, so a session with many keys costs little to load.
//
// Get panics if the session is not loaded.
//
//	n, err := chisess.Get[int](s, "visits")
//	if err != nil && !errors.Is(err, chisess.ErrNoKey) {
//		return err
//	}
func Get[T any](s *Session, key string) (T, error) {
	v, ok := s.value(key)
	if !ok {
		var zero T
		return zero, fmt.Errorf("%w %q", ErrNoKey, key)
	}
	t, err := decodeValue[T](v, s.m.cfg.Codec)
	if err != nil {
		return t, fmt.Errorf("chisess: get %q: %w", key, err)
	}
	return t, nil
}

// Pop is [Get] followed by [Session.Delete]: it returns the value under key
// and removes it, for one-time values. A value of the wrong type is reported
// and left in place. Like every change, it fails after the response has
// started ([ErrResponseStarted]), leaving the value in place.
func Pop[T any](s *Session, key string) (T, error) {
	var t T
	if err := checkKey(key); err != nil {
		return t, fmt.Errorf("chisess: pop: %w", err)
	}
	err := s.mutate("Pop", func() error {
		i := s.rec.find(key)
		if i < 0 {
			return fmt.Errorf("%w %q", ErrNoKey, key)
		}
		v, err := decodeValue[T](s.rec.entries[i].val, s.m.cfg.Codec)
		if err != nil {
			return fmt.Errorf("chisess: pop %q: %w", key, err)
		}
		t = v
		s.remove(key)
		return nil
	})
	return t, err
}
