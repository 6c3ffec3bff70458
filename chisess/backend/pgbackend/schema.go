package pgbackend

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultTable is the table [New] uses when [Options.Table] is empty.
const DefaultTable = "chisess_sessions"

// maxIdentLen is PostgreSQL's limit on identifier length (NAMEDATALEN-1);
// longer names are silently truncated by the server, so New rejects them.
const maxIdentLen = 63

// SchemaSQL returns the statements that create the session table, the index
// on its expiry column and the owner index, for apps that run their own
// migrations and leave [Options.CreateTable] unset. An empty table means
// [DefaultTable]. For the default table it returns:
//
//	CREATE TABLE IF NOT EXISTS "chisess_sessions" (
//		key        text        PRIMARY KEY,
//		data       bytea       NOT NULL,
//		expires_at timestamptz NOT NULL,
//		owner      text
//	);
//	CREATE INDEX IF NOT EXISTS "chisess_sessions_expires_at_idx"
//		ON "chisess_sessions" (expires_at);
//	ALTER TABLE "chisess_sessions" ADD COLUMN IF NOT EXISTS owner text;
//	CREATE INDEX IF NOT EXISTS "chisess_sessions_owner_idx"
//		ON "chisess_sessions" (owner) WHERE owner IS NOT NULL;
//
// key holds the 43-character hash chisess makes of a session token (never
// the token), data the encoded session, and expires_at the moment the row
// stops being returned. The expiry index serves the sweeper. owner is the
// owner index of [Store.Index], NULL for a session without an owner; its
// partial index holds only the rows that have one and serves [Store.Owned].
//
// A table created before the owner index existed lacks the owner column.
// The ALTER TABLE statement and the last index add it, and are all a
// migration of such a table needs (adding a nullable column without a
// default rewrites nothing). Until it runs, the table keeps working for
// sessions; only Index, Unindex and Owned fail.
//
// table follows the rules of [Options.Table]; SchemaSQL panics when it does
// not, as it is meant to be called with a constant.
func SchemaSQL(table string) string {
	if table == "" {
		table = DefaultTable
	}
	ident, err := parseTable(table)
	if err != nil {
		panic("chisess: pgbackend.SchemaSQL: " + err.Error())
	}
	return tableSQL(ident) + addOwnerSQL(ident) + ownerIndexSQL(ident)
}

// tableSQL creates the table, owner column included, and its expiry index.
func tableSQL(ident pgx.Identifier) string {
	t := ident.Sanitize()
	idx := pgx.Identifier{indexName(ident[len(ident)-1], "_expires_at_idx")}.Sanitize()
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
	key        text        PRIMARY KEY,
	data       bytea       NOT NULL,
	expires_at timestamptz NOT NULL,
	owner      text
);
CREATE INDEX IF NOT EXISTS %s
	ON %s (expires_at);
`, t, idx, t)
}

// addOwnerSQL adds the owner column to a table created without it.
func addOwnerSQL(ident pgx.Identifier) string {
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS owner text;\n", ident.Sanitize())
}

// ownerIndexSQL creates the partial index that [Store.Owned] reads.
func ownerIndexSQL(ident pgx.Identifier) string {
	t := ident.Sanitize()
	idx := pgx.Identifier{indexName(ident[len(ident)-1], "_owner_idx")}.Sanitize()
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s
	ON %s (owner) WHERE owner IS NOT NULL;
`, idx, t)
}

// indexName names an index after its table. PostgreSQL puts an index in its
// table's schema, so only the table part counts. A name that would pass the
// identifier limit is shortened and given a hash of the full table name, so
// that two long table names never share one index name (with IF NOT EXISTS
// the second index would silently not be created).
func indexName(table, suffix string) string {
	if len(table)+len(suffix) <= maxIdentLen {
		return table + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	tag := fmt.Sprintf("_%08x", h.Sum32())
	return table[:maxIdentLen-len(suffix)-len(tag)] + tag + suffix
}

// parseTable splits a plain ("sessions") or schema-qualified
// ("app.sessions") table name and checks that each part is an unquoted SQL
// identifier of at most 63 bytes.
func parseTable(table string) (pgx.Identifier, error) {
	parts := strings.Split(table, ".")
	ok := len(parts) <= 2
	for _, p := range parts {
		ok = ok && isIdent(p)
	}
	if !ok {
		return nil, fmt.Errorf("%q is not a plain or schema-qualified SQL identifier "+
			"(table or schema.table; letters, digits, _ and $, not starting with a digit, at most %d bytes a part)",
			table, maxIdentLen)
	}
	return pgx.Identifier(parts), nil
}

func isIdent(s string) bool {
	if s == "" || len(s) > maxIdentLen || !identStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !identStart(c) && !('0' <= c && c <= '9') && c != '$' {
			return false
		}
	}
	return true
}

func identStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}
