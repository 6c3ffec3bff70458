package chisess

import (
	"net/http"
	"strings"
)

// requestCookie returns the value of the first cookie called name in r's
// Cookie headers, and whether there was one. Unlike r.Cookie it allocates
// nothing: it runs on every request that loads a session. Surrounding
// double quotes are removed as RFC 6265 allows; the value is otherwise
// returned as sent, and every caller validates it before use.
func requestCookie(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
