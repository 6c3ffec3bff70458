package main

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestUsageErrors: bad flags, arguments and configuration exit with code
// 2 and a message that says what to do, before any store is touched.
func TestUsageErrors(t *testing.T) {
	secret := map[string]string{"SESSION_SECRET": secretNew}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"no command", secret, nil, "no command: choose one of decode, sessions"},
		{"unknown command", secret, []string{"list"}, `unknown command "list"`},
		{"missing argument", secret, []string{"sessions"}, "sessions takes 1 argument(s): sessions <owner>"},
		{"extra argument", secret, []string{"count", "x"}, "count takes 0 argument(s)"},
		{"unknown backend", secret, []string{"-backend", "mongo", "count"}, `-backend "mongo": choose one of cookie, redis, postgres, bolt`},
		{"count on the cookie backend", secret, []string{"count"}, "the cookie backend keeps each session in its browser"},
		{"sessions on the cookie backend", secret, []string{"sessions", "ada"}, "the cookie backend keeps each session in its browser"},
		{"redis without an address", nil, []string{"-backend", "redis", "count"}, "-backend redis needs -redis-addr or CHISESS_REDIS_ADDR"},
		{"postgres without a URL", nil, []string{"-backend", "postgres", "count"}, "-backend postgres needs -postgres-url or CHISESS_POSTGRES_URL"},
		{"a bolt file that is not there", nil, []string{"-backend", "bolt", "-bolt-path", filepath.Join(t.TempDir(), "typo.db"), "count"}, "-bolt-path: stat"},
		{"a bad duration", map[string]string{"CHISESS_IDLE": "soon"}, []string{"count"}, `CHISESS_IDLE="soon"`},
		{"a missing secret file", nil, []string{"-secret-file", filepath.Join(t.TempDir(), "none"), "decode", "x"}, "-secret-file: open"},
		{"a short secret", map[string]string{"SESSION_SECRET": "short"}, []string{"decode", "x"}, "Secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			r := ctl(tt.env, tt.args...)
			is.Equal(r.code, exitUsage) // a usage error
			t.Log(r.stderr)
			is.True(strings.Contains(r.stderr, tt.wantErr)) // says what is wrong
			is.Equal(r.stdout, "")                          // and prints nothing else
		})
	}
}

// TestFlagsAnywhere: flags may follow the command and its arguments, and
// "--" lets an owner start with "-"; -h prints the help and exits 0.
func TestFlagsAnywhere(t *testing.T) {
	is := is.New(t)
	m := cookieManager(t, secretNew, 0)
	value := signIn(t, m, owned("ada", "laptop", false))
	env := map[string]string{"SESSION_SECRET": secretNew}
	r := ctl(env, "decode", value, "-json")
	is.Equal(r.code, exitOK)                  // -json after the arguments
	is.True(strings.HasPrefix(r.stdout, "{")) // is JSON
	r = ctl(env, "-backend", "cookie", "sessions", "--", "-ada")
	is.True(strings.Contains(r.stderr, "cookie backend")) // "-ada" is the owner, not a flag
	r = ctl(env, "-h")
	is.Equal(r.code, exitOK)                                       // help
	is.True(strings.Contains(r.stderr, "revoke <owner> <handle>")) // lists the commands
	is.True(strings.Contains(r.stderr, "Exit codes"))              // and the exit codes
}

// Tokens and handles are base64url: one in 64 starts with "-". Such an
// argument names no flag, so it is the command's argument, wherever the
// flags are; a flag's value may start with "-" too.
func TestArgumentsStartingWithADash(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		json bool
		ns   string
	}{
		{[]string{"decode", "-xVnfDqIDfcx0eY5cd8p-2jLPjlg9ORl-CK4pRzUfX0"}, []string{"decode", "-xVnfDqIDfcx0eY5cd8p-2jLPjlg9ORl-CK4pRzUfX0"}, false, ""},
		{[]string{"-json", "revoke", "ada", "-Kq3", "-namespace", "app"}, []string{"revoke", "ada", "-Kq3"}, true, "app"},
		{[]string{"revoke", "-namespace=-odd", "ada", "--json", "-Kq3"}, []string{"revoke", "ada", "-Kq3"}, true, "-odd"},
		{[]string{"-namespace", "-odd", "count"}, []string{"count"}, false, "-odd"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			is := is.New(t)
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			json := fs.Bool("json", false, "")
			ns := fs.String("namespace", "", "")
			pos, err := parseInterleaved(fs, tt.args)
			is.NoErr(err)
			is.Equal(pos, tt.pos) // the arguments, in order
			is.Equal(*json, tt.json)
			is.Equal(*ns, tt.ns)
		})
	}
}
