// Command chisessctl looks at and ends chisess sessions from a shell: it
// decodes a session cookie, lists an owner's sessions, revokes one or all
// of them, counts the sessions of a store and sweeps the expired ones.
//
//	chisessctl [flags] decode <cookie value | ->
//	chisessctl [flags] sessions <owner>
//	chisessctl [flags] revoke <owner> <handle>
//	chisessctl [flags] revoke-all <owner>
//	chisessctl [flags] count
//	chisessctl [flags] sweep
//
// It is configured like the app whose sessions it handles, with the same
// flags and environment variables as cmd/demo: -backend (cookie, redis,
// postgres or bolt), -redis-addr, -postgres-url, -bolt-path, and the
// session settings that decide when a session ends (-idle, -lifetime,
// -rolling, -max-lifetime, -remember-for). The secret comes from
// SESSION_SECRET, or from the file that -secret-file names, never from a
// flag, so it does not show in ps; older secrets that still open cookies
// come from SESSION_PREVIOUS_SECRETS (comma-separated) or the next lines
// of the file.
//
// Every command prints a table, or JSON with -json. Exit codes: 0 done;
// 1 the store failed (unreachable, a query error); 2 bad flags,
// arguments or configuration, or a command the backend cannot do; 3 no
// such session (decode of a cookie that is tampered, expired or unknown;
// revoke of a handle that is not one of the owner's live sessions).
//
// See docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1 // the store failed
	exitUsage    = 2 // bad flags, arguments or configuration
	exitNotFound = 3 // no such session
)

// errNotFound marks the errors that exit with exitNotFound.
var errNotFound = errors.New("no such session")

// usageError marks the errors that exit with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// run runs the command that args name and returns the exit code. Output
// goes to stdout, errors to stderr; decode reads its value from stdin when
// given "-".
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, cmd, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		defer cancel()
		err = cmd.run(ctx, cfg, stdin, stdout)
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "chisessctl:", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "run chisessctl -h for help")
		return exitUsage
	case errors.Is(err, errNotFound):
		return exitNotFound
	}
	return exitFailed
}
