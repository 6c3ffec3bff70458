// Package sessiontest provides utilities for testing apps that use chisess
// and backends written for it, in the manner of net/http/httptest.
//
// App authors get building blocks that need no *testing.T:
//
//   - [Backend], an in-memory backend that records every call, can be made
//     to fail ([Backend.FailNext]) or to stop a call at a [Gate] until the
//     test lets it go ([Backend.Hold]), and shows what it stores
//     ([Backend.Sessions]);
//   - [NewRequest], an httptest.NewRequest that already carries a session
//     holding given values;
//   - [SessionOf], which reads the session a response leaves the browser
//     with, on any backend, the sealed cookie included;
//
// a [Client] for flows of several requests (log in, visit, log out) with a
// cookie jar, over an httptest server that [NewClient] closes with
// t.Cleanup; and a few assertions that take testing.TB and call t.Helper:
// [AssertValue], [AssertAbsent], [AssertRenewed], [AssertDestroyed],
// [AssertNoSession] and [AssertCookie]. The package does not depend on any
// assertion library, so its assertions sit beside matryer/is, testify or
// plain if statements.
//
//	func TestLogin(t *testing.T) {
//		m, _ := chisess.New(chisess.Config{Backend: sessiontest.NewBackend()})
//		c := sessiontest.NewClient(t, newApp(m))
//		resp := c.PostForm("/login", url.Values{"user": {"ada"}, "password": {"secret"}})
//		sessiontest.AssertValue(t, m, resp, "user", "ada")
//
//		before := c.Cookie(m.CookieName())
//		resp = c.PostForm("/logout", nil)
//		sessiontest.AssertDestroyed(t, m, before, resp)
//	}
//
// Backend authors run [RunConformance] in their tests: it checks a backend
// against every rule of the backend.Backend contract, one named subtest per
// rule, and says with each failure which rule broke and why chisess needs it.
package sessiontest
