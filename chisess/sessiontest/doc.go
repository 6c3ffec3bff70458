// Package sessiontest provides utilities for testing apps that use chisess
// and backends written for it.
//
// Backend authors run [RunConformance] in their tests: it checks a backend
// against every rule of the backend.Backend contract, one named subtest per
// rule, and says with each failure which rule broke and why chisess needs it.
package sessiontest
