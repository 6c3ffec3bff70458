package chisess

// Key is a session key with its value type, declared once so that every
// handler reads and writes it as the same type:
//
//	var userID = chisess.NewKey[int64]("user_id")
//
//	userID.Set(s, 42)
//	id, err := userID.Get(s)
//
// Reading a Key can never ask for the wrong type; the value is still
// checked, so a value stored under the same name as another type by other
// code is reported with [ErrWrongType].
type Key[T any] struct{ name string }

// NewKey declares a session key called name holding values of type T.
func NewKey[T any](name string) Key[T] { return Key[T]{name: name} }

// Name returns the key's name in the session.
func (k Key[T]) Name() string { return k.name }

// Get returns the key's value, as [Get] does.
func (k Key[T]) Get(s *Session) (T, error) { return Get[T](s, k.name) }

// Set stores v under the key, as [Session.Set] does.
func (k Key[T]) Set(s *Session, v T) error { return s.Set(k.name, v) }

// Pop returns the key's value and removes it, as [Pop] does.
func (k Key[T]) Pop(s *Session) (T, error) { return Pop[T](s, k.name) }

// Delete removes the key from the session, as [Session.Delete] does.
func (k Key[T]) Delete(s *Session) error { return s.Delete(k.name) }

// Has reports whether the session holds the key.
func (k Key[T]) Has(s *Session) bool { return s.Has(k.name) }
