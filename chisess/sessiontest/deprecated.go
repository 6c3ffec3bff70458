package sessiontest

import (
	"net/http"
	"testing"

	"github.com/chisess/kit/chisess"
)

// Deprecated names. Each stays for one minor version after its
// replacement arrived (see CHANGELOG.md), then goes.

// AssertRotated is the former name of [AssertRenewed].
//
// Deprecated: use [AssertRenewed]; chisess calls a change of token "renew"
// everywhere.
func AssertRotated(t testing.TB, m *chisess.Manager, before *http.Cookie, resp *http.Response) {
	t.Helper()
	AssertRenewed(t, m, before, resp)
}
