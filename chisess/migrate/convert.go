package migrate

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"
)

// A Converter turns an old session's values of one type into what the new
// session holds. Make one with [Convert] and list it in Options.Converters.
type Converter struct {
	typ reflect.Type
	fn  func(any) (any, error)
}

// Convert returns a [Converter] for the values of type T: fn receives each
// one and returns what the new session stores under its key, a value
// chisess can store (a built-in kind, or one its Codec encodes). When fn
// returns an error, or nil, the key is left out; an error is logged with
// the key's name, never with the value or the error's text.
//
// Use it for the types the old sessions hold that do not convert as they
// are (structs, maps, slices other than []string), and for the ones that
// should change on the way, such as an old struct replaced by a new one.
// The old library decodes the values before fn sees them, so the types
// registered with encoding/gob must stay registered until Options.Until.
func Convert[T any](fn func(T) (any, error)) Converter {
	return Converter{typ: reflect.TypeFor[T](), fn: func(v any) (any, error) { return fn(v.(T)) }}
}

// entry is one key and value of an old session.
type entry struct {
	key   any // a string, except in some gorilla sessions
	value any
}

// converter applies the Options to an old session's values.
type converter struct {
	rename map[string]string
	by     map[reflect.Type]func(any) (any, error)
	log    *slog.Logger
}

func newConverter(opts Options) converter {
	c := converter{rename: opts.Rename, by: map[reflect.Type]func(any) (any, error){}, log: opts.Logger}
	for _, cv := range opts.Converters {
		if cv.fn == nil {
			panic("migrate: Options.Converters holds a zero Converter: make each with migrate.Convert")
		}
		c.by[cv.typ] = cv.fn
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// convert returns the values of the new session, logging by name the keys
// it leaves out for want of a conversion.
func (c converter) convert(source string, old []entry) map[string]any {
	values := make(map[string]any, len(old))
	for _, e := range old {
		name, ok := e.key.(string)
		if !ok {
			c.log.Warn("migrate: a key that is not a string is left out", "source", source, "key", fmt.Sprint(e.key), "type", fmt.Sprintf("%T", e.key))
			continue
		}
		if to, ok := c.rename[name]; ok {
			if to == "" {
				continue
			}
			name = to
		}
		if strings.HasPrefix(name, "\x00") {
			c.log.Warn("migrate: a key chisess reserves (it starts with a NUL byte) is left out", "source", source, "key", name)
			continue
		}
		v, err := c.value(e.value)
		switch {
		case err != nil:
			c.log.Warn("migrate: a value could not be converted; its key is left out", "source", source, "key", name, "type", fmt.Sprintf("%T", e.value))
		case v != nil:
			values[name] = v
		}
	}
	return values
}

// errNoConversion is returned for a value of a type that is neither taken
// as it is nor registered with Convert.
var errNoConversion = fmt.Errorf("migrate: no conversion for the type")

// value converts one value: through the Converter registered for its type,
// else as it is when it is one of the kinds every chisess codec stores.
func (c converter) value(v any) (any, error) {
	if fn, ok := c.by[reflect.TypeOf(v)]; ok {
		return fn(v)
	}
	switch v.(type) {
	case string, bool, []byte, time.Time, []string,
		int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64,
		float32, float64:
		return v, nil
	}
	return nil, errNoConversion
}
