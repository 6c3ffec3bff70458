package rueidisbackend

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
)

// nativeCompare asks every node that client knows (INFO server) whether
// it has SET … IFEQ, and reports whether all of them do.
func nativeCompare(ctx context.Context, client rueidis.Client) (bool, error) {
	nodes := client.Nodes()
	if len(nodes) == 0 {
		return false, nil
	}
	for _, node := range nodes {
		info, err := node.Do(ctx, node.B().Info().Section("server").Build()).ToString()
		if err != nil {
			return false, err
		}
		if !hasIfeq(info) {
			return false, nil
		}
	}
	return true, nil
}

// hasIfeq reports whether a server whose INFO server section is info has
// SET … IFEQ: Valkey 8.1 and later (valkey_version), Redis 8.4 and later
// (redis_version, on a server that does not say it is Valkey).
func hasIfeq(info string) bool {
	fields := map[string]string{}
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if v, ok := fields["valkey_version"]; ok {
		return atLeast(v, 8, 1)
	}
	if fields["server_name"] == "valkey" {
		return false // a Valkey that does not give its own version
	}
	v, ok := fields["redis_version"]
	return ok && atLeast(v, 8, 4)
}

// atLeast reports whether the version "major.minor.patch" is at least
// major.minor. A version it cannot read is not.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
