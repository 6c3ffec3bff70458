package pgbackend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"
)

func TestSchemaSQL(t *testing.T) {
	is := is.New(t)
	long := strings.Repeat("s", 63)

	tests := []struct {
		name           string
		table          string
		wantTable      string
		wantIndex      string
		wantOwnerIndex string
	}{
		{name: "default", table: "", wantTable: `"chisess_sessions"`, wantIndex: `"chisess_sessions_expires_at_idx"`, wantOwnerIndex: `"chisess_sessions_owner_idx"`},
		{name: "plain", table: "sessions", wantTable: `"sessions"`, wantIndex: `"sessions_expires_at_idx"`, wantOwnerIndex: `"sessions_owner_idx"`},
		{name: "upper case kept", table: "Sessions", wantTable: `"Sessions"`, wantIndex: `"Sessions_expires_at_idx"`, wantOwnerIndex: `"Sessions_owner_idx"`},
		{name: "schema", table: "app.sessions", wantTable: `"app"."sessions"`, wantIndex: `"sessions_expires_at_idx"`, wantOwnerIndex: `"sessions_owner_idx"`},
		{name: "63 bytes", table: long, wantTable: `"` + long + `"`, wantIndex: `"` + long[:39] + `_142931f4_expires_at_idx"`, wantOwnerIndex: `"` + long[:44] + `_142931f4_owner_idx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			sql := pgbackend.SchemaSQL(tt.table)
			is.True(strings.Contains(sql, "CREATE TABLE IF NOT EXISTS "+tt.wantTable+" ("))                       // the quoted table
			is.True(strings.Contains(sql, "CREATE INDEX IF NOT EXISTS "+tt.wantIndex+"\n"))                       // the index, named after the table
			is.True(strings.Contains(sql, "ON "+tt.wantTable+" (expires_at)"))                                    // on the expiry column
			is.True(strings.Contains(sql, "\towner      text\n"))                                                 // a new table has the owner column
			is.True(strings.Contains(sql, "ALTER TABLE "+tt.wantTable+" ADD COLUMN IF NOT EXISTS owner text;\n")) // and an old one gets it
			is.True(strings.Contains(sql, "CREATE INDEX IF NOT EXISTS "+tt.wantOwnerIndex+"\n"))                  // the owner index, named after the table
			is.True(strings.Contains(sql, "ON "+tt.wantTable+" (owner) WHERE owner IS NOT NULL;\n"))              // partial: only rows with an owner
		})
	}

	defer func() {
		r := recover()
		is.True(r != nil)                                                      // a bad name panics
		is.True(strings.HasPrefix(r.(string), "chisess: pgbackend.SchemaSQL")) // saying where
	}()
	pgbackend.SchemaSQL("bad name")
}

// Two long table names that share their first 39 bytes still get one index
// each: with IF NOT EXISTS, a shared index name would silently leave the
// second table without one.
func TestCreateTableLongNames(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	pool := pgPool(t)
	prefix := randomTable() + strings.Repeat("x", 32)
	for _, table := range []string{prefix + "_a", prefix + "_b"} {
		is.Equal(len(table), 63) // as long as PostgreSQL allows
		t.Cleanup(func() {
			_, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize())
			if err != nil {
				t.Errorf("drop %s: %v", table, err)
			}
		})
		s, err := pgbackend.New(t.Context(), pool, pgbackend.Options{Table: table, CreateTable: true, SweepInterval: -1})
		is.NoErr(err) // create a table with a 63-byte name
		is.NoErr(s.Close())

		var n int
		err = pool.QueryRow(t.Context(),
			"SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(expires_at)'", table).Scan(&n)
		is.NoErr(err)  // look up its indexes
		is.Equal(n, 1) // it has its own expiry index
		err = pool.QueryRow(t.Context(),
			"SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(owner) WHERE (owner IS NOT NULL)'", table).Scan(&n)
		is.NoErr(err)  // look up its indexes
		is.Equal(n, 1) // and its own owner index
	}
}
