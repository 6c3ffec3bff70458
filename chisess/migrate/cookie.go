package migrate

import (
	"net/http"
	"slices"
	"strings"
)

// withCookies returns a copy of r whose Cookie header lacks the old
// cookies. When add is set, the chisess cookies it had are replaced by
// name=value, so that chisess.Load finds the session just made.
func withCookies(r *http.Request, old []string, name, value string, add bool) *http.Request {
	var kept []string
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			k, _, _ := strings.Cut(part, "=")
			if part != "" && !slices.Contains(old, k) && (!add || k != name) {
				kept = append(kept, part)
			}
		}
	}
	if add {
		kept = append(kept, name+"="+value)
	}
	r = r.Clone(r.Context())
	if len(kept) == 0 {
		r.Header.Del("Cookie")
	} else {
		r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
	}
	return r
}
