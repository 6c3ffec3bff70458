package chisess

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"time"
)

// Every stored value starts with a tag byte that names its kind. The built-in
// kinds are encoded without reflection; everything else goes through the
// Codec. The tag lets Get report a value of the wrong type instead of
// converting it: an int stored is an int read back, never a float64.
const (
	tagString  byte = 's'
	tagInt     byte = 'i'
	tagInt64   byte = 'l'
	tagBool    byte = 'b'
	tagFloat64 byte = 'f'
	tagBytes   byte = 'y'
	tagTime    byte = 't'
	tagCodec   byte = 'c'
)

func tagName(tag byte) string {
	switch tag {
	case tagString:
		return "string"
	case tagInt:
		return "int"
	case tagInt64:
		return "int64"
	case tagBool:
		return "bool"
	case tagFloat64:
		return "float64"
	case tagBytes:
		return "[]byte"
	case tagTime:
		return "time.Time"
	case tagCodec:
		return "codec-encoded value"
	}
	return fmt.Sprintf("unknown tag %#x", tag)
}

// encodeValue returns the stored form of v.
func encodeValue(v any, codec Codec) ([]byte, error) {
	switch x := v.(type) {
	case string:
		b := make([]byte, 1+len(x))
		b[0] = tagString
		copy(b[1:], x)
		return b, nil
	case int:
		return binary.AppendVarint([]byte{tagInt}, int64(x)), nil
	case int64:
		return binary.AppendVarint([]byte{tagInt64}, x), nil
	case bool:
		if x {
			return []byte{tagBool, 1}, nil
		}
		return []byte{tagBool, 0}, nil
	case float64:
		return binary.BigEndian.AppendUint64([]byte{tagFloat64}, math.Float64bits(x)), nil
	case []byte:
		b := make([]byte, 1+len(x))
		b[0] = tagBytes
		copy(b[1:], x)
		return b, nil
	case time.Time:
		tb, err := x.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return append([]byte{tagTime}, tb...), nil
	case nil:
		return nil, fmt.Errorf("nil is not a session value; use Delete to remove a key")
	}
	b, err := codec.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+len(b))
	out[0] = tagCodec
	copy(out[1:], b)
	return out, nil
}

// decodeValue decodes a stored value as a T. It reports a tag that does not
// match T. The built-in kinds are decoded without reflection or boxing.
func decodeValue[T any](stored []byte, codec Codec) (T, error) {
	var zero T
	if len(stored) == 0 {
		return zero, errBadRecord
	}
	tag, p := stored[0], stored[1:]
	switch any(zero).(type) {
	case string:
		if tag != tagString {
			break
		}
		return any(string(p)).(T), nil
	case int:
		if tag != tagInt {
			break
		}
		n, k := binary.Varint(p)
		if k <= 0 || k != len(p) || int64(int(n)) != n {
			return zero, errBadRecord
		}
		return any(int(n)).(T), nil
	case int64:
		if tag != tagInt64 {
			break
		}
		n, k := binary.Varint(p)
		if k <= 0 || k != len(p) {
			return zero, errBadRecord
		}
		return any(n).(T), nil
	case bool:
		if tag != tagBool {
			break
		}
		if len(p) != 1 || p[0] > 1 {
			return zero, errBadRecord
		}
		return any(p[0] == 1).(T), nil
	case float64:
		if tag != tagFloat64 {
			break
		}
		if len(p) != 8 {
			return zero, errBadRecord
		}
		return any(math.Float64frombits(binary.BigEndian.Uint64(p))).(T), nil
	case []byte:
		if tag != tagBytes {
			break
		}
		return any(append([]byte{}, p...)).(T), nil
	case time.Time:
		if tag != tagTime {
			break
		}
		var t time.Time
		if err := t.UnmarshalBinary(p); err != nil {
			return zero, errBadRecord
		}
		return any(t).(T), nil
	default:
		if any(zero) == nil { // T is an interface type, such as any
			d, err := decodeAny(tag, p, codec)
			if err != nil {
				return zero, err
			}
			if t, ok := d.(T); ok {
				return t, nil
			}
			break
		}
		if tag != tagCodec {
			break
		}
		return decodeCodec[T](p, codec)
	}
	return zero, fmt.Errorf("%w: holds %s, not %s", ErrWrongType, tagName(tag), reflect.TypeFor[T]())
}

// decodeCodec decodes a codec-encoded value; only here does a T escape.
func decodeCodec[T any](p []byte, codec Codec) (T, error) {
	var v T
	if err := codec.Unmarshal(p, &v); err != nil {
		return v, fmt.Errorf("%w: %s cannot be decoded as %s: %v", ErrWrongType, tagName(tagCodec), reflect.TypeFor[T](), err)
	}
	return v, nil
}

// decodeAny decodes a stored value into its natural Go type, for Get[any].
func decodeAny(tag byte, p []byte, codec Codec) (any, error) {
	stored := append([]byte{tag}, p...)
	switch tag {
	case tagString:
		return decodeValue[string](stored, codec)
	case tagInt:
		return decodeValue[int](stored, codec)
	case tagInt64:
		return decodeValue[int64](stored, codec)
	case tagBool:
		return decodeValue[bool](stored, codec)
	case tagFloat64:
		return decodeValue[float64](stored, codec)
	case tagBytes:
		return decodeValue[[]byte](stored, codec)
	case tagTime:
		return decodeValue[time.Time](stored, codec)
	case tagCodec:
		var v any
		if err := codec.Unmarshal(p, &v); err != nil {
			return nil, errBadRecord
		}
		return v, nil
	}
	return nil, errBadRecord
}
