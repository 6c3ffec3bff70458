package chisess

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// Internal tests of the pure value functions encodeValue, decodeValue and
// decodeAny.

type valuePoint struct {
	X, Y int
	Tags []string `json:",omitempty"`
}

var valueTime = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)

// decodeAs returns a decoder of stored values into T, boxed for tables.
func decodeAs[T any]() func([]byte) (any, error) {
	return func(b []byte) (any, error) { return decodeValue[T](b, JSONCodec) }
}

func sameTime(a, b any) bool { return a.(time.Time).Equal(b.(time.Time)) }
func sameBytes(a, b any) bool {
	x, y := a.([]byte), b.([]byte)
	return x != nil && y != nil && bytes.Equal(x, y) // a []byte always reads back non-nil
}
func sameFloatBits(a, b any) bool {
	return math.Float64bits(a.(float64)) == math.Float64bits(b.(float64))
}

var valueRoundTrips = []struct {
	name   string
	v      any
	tag    byte
	decode func([]byte) (any, error)
	eq     func(a, b any) bool // nil: is.Equal
}{
	{"string", "alice", tagString, decodeAs[string](), nil},
	{"empty string", "", tagString, decodeAs[string](), nil},
	{"string with NUL and UTF-8", "a\x00é\xff", tagString, decodeAs[string](), nil},
	{"int zero", 0, tagInt, decodeAs[int](), nil},
	{"int negative", -1, tagInt, decodeAs[int](), nil},
	{"int max", math.MaxInt, tagInt, decodeAs[int](), nil},
	{"int min", math.MinInt, tagInt, decodeAs[int](), nil},
	{"int64 max", int64(math.MaxInt64), tagInt64, decodeAs[int64](), nil},
	{"int64 min", int64(math.MinInt64), tagInt64, decodeAs[int64](), nil},
	{"bool true", true, tagBool, decodeAs[bool](), nil},
	{"bool false", false, tagBool, decodeAs[bool](), nil},
	{"float64", 1.5, tagFloat64, decodeAs[float64](), nil},
	{"float64 negative zero", math.Copysign(0, -1), tagFloat64, decodeAs[float64](), sameFloatBits},
	{"float64 NaN", math.NaN(), tagFloat64, decodeAs[float64](), sameFloatBits},
	{"float64 +Inf", math.Inf(1), tagFloat64, decodeAs[float64](), sameFloatBits},
	{"float64 smallest", math.SmallestNonzeroFloat64, tagFloat64, decodeAs[float64](), sameFloatBits},
	{"bytes", []byte{0, 1, 0xff}, tagBytes, decodeAs[[]byte](), sameBytes},
	{"empty bytes", []byte{}, tagBytes, decodeAs[[]byte](), sameBytes},
	{"time UTC", valueTime, tagTime, decodeAs[time.Time](), sameTime},
	{"time with zone", valueTime.In(time.FixedZone("X", -7*3600)), tagTime, decodeAs[time.Time](), sameTime},
	{"zero time", time.Time{}, tagTime, decodeAs[time.Time](), sameTime},
	{"struct via JSONCodec", valuePoint{X: 1, Y: -2, Tags: []string{"a"}}, tagCodec, decodeAs[valuePoint](), nil},
	{"pointer to struct via JSONCodec", &valuePoint{X: 3}, tagCodec, decodeAs[*valuePoint](), nil},
	{"map via JSONCodec", map[string]int{"a": 1}, tagCodec, decodeAs[map[string]int](), nil},
	{"slice via JSONCodec", []string{"x", "y"}, tagCodec, decodeAs[[]string](), nil},
	{"named string via JSONCodec", valueName("bob"), tagCodec, decodeAs[valueName](), nil},
	{"uint via JSONCodec", uint(7), tagCodec, decodeAs[uint](), nil},
}

type valueName string

func TestValueRoundTrip(t *testing.T) {
	is := is.New(t)
	for _, tt := range valueRoundTrips {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b, err := encodeValue(tt.v, JSONCodec)
			is.NoErr(err)          // every supported kind encodes
			is.Equal(b[0], tt.tag) // and is tagged with its kind
			got, err := tt.decode(b)
			is.NoErr(err) // and decodes as the type it was stored as
			if tt.eq != nil {
				is.True(tt.eq(got, tt.v)) // the value survives the round trip
			} else {
				is.Equal(got, tt.v) // the value survives the round trip
			}
		})
	}
}

func TestEncodeValueRejects(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"channel", make(chan int)},
		{"func", func() {}},
		{"NaN inside a struct", struct{ F float64 }{math.NaN()}},
		{"time with an offset MarshalBinary cannot hold", time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 600*3600))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b, err := encodeValue(tt.v, JSONCodec)
			is.True(err != nil) // a value that cannot be stored is an error at encode time
			is.Equal(b, nil)    // and yields no stored bytes
		})
	}
}

func TestDecodeValueWrongType(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name   string
		v      any
		decode func([]byte) (any, error)
		want   string // the types named in the message
	}{
		{"string as int", "1", decodeAs[int](), "holds string, not int"},
		{"int as string", 1, decodeAs[string](), "holds int, not string"},
		{"int as int64", 1, decodeAs[int64](), "holds int, not int64"},
		{"int64 as int", int64(1), decodeAs[int](), "holds int64, not int"},
		{"int as float64", 1, decodeAs[float64](), "holds int, not float64"},
		{"float64 as int", 1.0, decodeAs[int](), "holds float64, not int"},
		{"float64 as int64", 1.0, decodeAs[int64](), "holds float64, not int64"},
		{"int as bool", 1, decodeAs[bool](), "holds int, not bool"},
		{"bool as int", true, decodeAs[int](), "holds bool, not int"},
		{"bool as string", true, decodeAs[string](), "holds bool, not string"},
		{"string as bool", "true", decodeAs[bool](), "holds string, not bool"},
		{"bytes as string", []byte("x"), decodeAs[string](), "holds []byte, not string"},
		{"string as bytes", "x", decodeAs[[]byte](), "holds string, not []uint8"},
		{"time as string", valueTime, decodeAs[string](), "holds time.Time, not string"},
		{"string as time", "2024-02-29T23:59:58Z", decodeAs[time.Time](), "holds string, not time.Time"},
		{"time as int64", valueTime, decodeAs[int64](), "holds time.Time, not int64"},
		{"struct as string", valuePoint{X: 1}, decodeAs[string](), "holds codec-encoded value, not string"},
		{"struct as int", valuePoint{X: 1}, decodeAs[int](), "holds codec-encoded value, not int"},
		{"string as struct", "x", decodeAs[valuePoint](), "holds string, not chisess.valuePoint"},
		{"int as struct", 1, decodeAs[valuePoint](), "holds int, not chisess.valuePoint"},
		{"int as uint", 1, decodeAs[uint](), "holds int, not uint"},
		{"slice as struct", []string{"a"}, decodeAs[valuePoint](), "codec-encoded value cannot be decoded as chisess.valuePoint"},
		{"struct as slice", valuePoint{X: 1}, decodeAs[[]string](), "codec-encoded value cannot be decoded as []string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b, err := encodeValue(tt.v, JSONCodec)
			is.NoErr(err) // the value itself is storable
			_, err = tt.decode(b)
			is.True(errors.Is(err, ErrWrongType))           // reading it as another type is ErrWrongType, never a conversion
			is.True(strings.Contains(err.Error(), tt.want)) // and the message names both types
		})
	}
}

func TestDecodeValueMalformed(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name   string
		stored []byte
		decode func([]byte) (any, error)
	}{
		{"empty as string", nil, decodeAs[string]()},
		{"empty as any", nil, decodeAs[any]()},
		{"int with trailing byte", []byte{tagInt, 2, 0}, decodeAs[int]()},
		{"int with overlong varint", append([]byte{tagInt}, bytes.Repeat([]byte{0xff}, 11)...), decodeAs[int]()},
		{"int64 with trailing byte", []byte{tagInt64, 2, 0}, decodeAs[int64]()},
		{"bool 2", []byte{tagBool, 2}, decodeAs[bool]()},
		{"bool with no payload", []byte{tagBool}, decodeAs[bool]()},
		{"bool with two bytes", []byte{tagBool, 1, 1}, decodeAs[bool]()},
		{"float64 of 7 bytes", []byte{tagFloat64, 1, 2, 3, 4, 5, 6, 7}, decodeAs[float64]()},
		{"float64 of 9 bytes", []byte{tagFloat64, 1, 2, 3, 4, 5, 6, 7, 8, 9}, decodeAs[float64]()},
		{"time garbage", []byte{tagTime, 9, 9}, decodeAs[time.Time]()},
		{"unknown tag as any", []byte{'z', 1}, decodeAs[any]()},
		{"bad JSON as any", []byte{tagCodec, '{'}, decodeAs[any]()},
		{"bool 2 as any", []byte{tagBool, 2}, decodeAs[any]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			_, err := tt.decode(tt.stored)
			is.True(errors.Is(err, errBadRecord)) // a corrupt stored value is reported as malformed
		})
	}
}

// TestDecodeValueRejectsEmptyInteger: a stored int or int64 with no varint
// after its tag is corrupt, and must not read back as 0.
func TestDecodeValueRejectsEmptyInteger(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name   string
		stored []byte
		decode func([]byte) (any, error)
	}{
		{"int", []byte{tagInt}, decodeAs[int]()},
		{"int64", []byte{tagInt64}, decodeAs[int64]()},
		{"int as any", []byte{tagInt}, decodeAs[any]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			_, err := tt.decode(tt.stored)
			is.True(errors.Is(err, errBadRecord)) // a tag with no number after it is malformed, not 0
		})
	}
}

func TestDecodeValueUnknownTagIsWrongType(t *testing.T) {
	is := is.New(t)
	_, err := decodeValue[string]([]byte{'z', 'x'}, JSONCodec)
	is.True(errors.Is(err, ErrWrongType))                      // an unknown tag cannot be read as a string
	is.True(strings.Contains(err.Error(), "unknown tag 0x7a")) // and the message names the tag
}

func TestDecodeValueAnyNaturalTypes(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		v    any
		want any
		eq   func(a, b any) bool
	}{
		{"string", "s", "s", nil},
		{"int", 7, 7, nil},
		{"int64", int64(7), int64(7), nil},
		{"bool", true, true, nil},
		{"float64", 2.5, 2.5, nil},
		{"bytes", []byte("b"), []byte("b"), sameBytes},
		{"time", valueTime, valueTime, sameTime},
		{"struct as JSON object", valuePoint{X: 1, Y: 2}, map[string]any{"X": 1.0, "Y": 2.0}, nil},
		{"slice as JSON array", []int{1, 2}, []any{1.0, 2.0}, nil},
		{"named string as JSON string", valueName("n"), "n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b, err := encodeValue(tt.v, JSONCodec)
			is.NoErr(err) // storable
			got, err := decodeValue[any](b, JSONCodec)
			is.NoErr(err) // Get[any] reads every kind
			if tt.eq != nil {
				is.True(tt.eq(got, tt.want)) // in its natural Go type
			} else {
				is.Equal(got, tt.want) // in its natural Go type
			}
		})
	}
}

// FuzzDecodeValue feeds arbitrary stored bytes to every decoder: none may
// panic, and a built-in kind that decodes must re-encode to a value that
// decodes the same.
func FuzzDecodeValue(f *testing.F) {
	for _, tt := range valueRoundTrips {
		b, err := encodeValue(tt.v, JSONCodec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{tagInt, 0x80})
	f.Add([]byte{'z'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeValue[string](b, JSONCodec); err == nil {
			fuzzReencode(t, v, func(x string) bool { return x == v })
		}
		if v, err := decodeValue[int](b, JSONCodec); err == nil {
			fuzzReencode(t, v, func(x int) bool { return x == v })
		}
		if v, err := decodeValue[int64](b, JSONCodec); err == nil {
			fuzzReencode(t, v, func(x int64) bool { return x == v })
		}
		if v, err := decodeValue[bool](b, JSONCodec); err == nil {
			fuzzReencode(t, v, func(x bool) bool { return x == v })
		}
		if v, err := decodeValue[float64](b, JSONCodec); err == nil {
			fuzzReencode(t, v, func(x float64) bool { return math.Float64bits(x) == math.Float64bits(v) })
		}
		if v, err := decodeValue[[]byte](b, JSONCodec); err == nil {
			fuzzReencode(t, v, func(x []byte) bool { return bytes.Equal(x, v) })
		}
		if v, err := decodeValue[time.Time](b, JSONCodec); err == nil {
			if _, merr := v.MarshalBinary(); merr == nil {
				fuzzReencode(t, v, func(x time.Time) bool { return x.Equal(v) })
			}
		}
		_, _ = decodeValue[any](b, JSONCodec)
		_, _ = decodeValue[valuePoint](b, JSONCodec)
		_, _ = decodeValue[map[string]any](b, JSONCodec)
	})
}

func fuzzReencode[T any](t *testing.T, v T, same func(T) bool) {
	t.Helper()
	b, err := encodeValue(v, JSONCodec)
	if err != nil {
		t.Fatalf("decoded %T %v does not re-encode: %v", v, v, err)
	}
	got, err := decodeValue[T](b, JSONCodec)
	if err != nil {
		t.Fatalf("re-encoded %T %v does not decode: %v", v, v, err)
	}
	if !same(got) {
		t.Fatalf("%T changed on re-encode: %v, then %v", v, v, got)
	}
}
