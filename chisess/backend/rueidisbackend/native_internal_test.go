package rueidisbackend

import (
	"testing"

	"github.com/matryer/is"
)

// TestHasIfeq reads the INFO server section of the servers that have
// SET … IFEQ and of those that do not. Only Redis 7.0 runs here, so the
// native path itself is tried on no server; this pins the detection.
func TestHasIfeq(t *testing.T) {
	tests := []struct {
		name string
		info string
		want bool
	}{
		{"redis 7.0", "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n", false},
		{"redis 8.2", "# Server\r\nredis_version:8.2.1\r\n", false},
		{"redis 8.4", "# Server\r\nredis_version:8.4.0\r\n", true},
		{"redis 9", "redis_version:9.0.0\n", true},
		{"valkey 8.0", "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.2\r\n", false},
		{"valkey 8.1", "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.0\r\n", true},
		{"valkey 9", "redis_version:7.2.4\r\nvalkey_version:9.0.0\r\n", true},
		{"valkey without its version", "redis_version:8.4.0\r\nserver_name:valkey\r\n", false},
		{"no version", "# Server\r\nredis_mode:standalone\r\n", false},
		{"unreadable version", "redis_version:eight\r\n", false},
		{"major only", "redis_version:9\r\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(hasIfeq(tt.info), tt.want) // whether the server has SET … IFEQ
		})
	}
}
