package rediskit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"chisess:session:", true},
		{"app{}:", true}, // an empty tag is no tag
		{"a}{b", true},
		{"my app:", false},
		{"app\t", false},
		{"app\x00", false},
		{"app\xff", false},
		{"{app}:", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			is := is.New(t)
			is.Equal(CheckPrefix(tt.prefix) == nil, tt.ok) // whether the prefix is allowed
		})
	}
}

func TestPxMillis(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want int64
	}{{time.Millisecond, 1}, {time.Nanosecond, 1}, {1500 * time.Microsecond, 2}, {time.Minute, 60000}}
	for _, tt := range tests {
		t.Run(tt.ttl.String(), func(t *testing.T) {
			is := is.New(t)
			is.Equal(PxMillis(tt.ttl), tt.want) // rounded up to a whole millisecond
		})
	}
}

func TestOpError(t *testing.T) {
	is := is.New(t)
	cause := errors.New("i/o timeout")
	err := OpError(context.Background(), "read", cause)
	is.Equal(err.Error(), "chisess: redis read: i/o timeout")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = OpError(ctx, "write", cause)
	is.True(errors.Is(err, context.Canceled)) // the context's error is found
	is.True(errors.Is(err, cause))            // and the cause
}

func TestOwnerKey(t *testing.T) {
	is := is.New(t)
	k := OwnerKey("p:", "{x}")
	is.Equal(len(k), len("p:owner:")+43) // the prefix, "owner:" and 43 base64url characters
	is.True(k != OwnerKey("p:", "{y}"))  // owners differ
}
