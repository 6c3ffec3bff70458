package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// config is what every command needs: where the sessions are and how the
// app's manager is set up. parseConfig fills it from flags, falling back to
// environment variables.
type config struct {
	Backend       string // cookie, redis, postgres or bolt
	RedisAddr     string // host:port, host:port,... (Cluster) or redis:// URL
	RedisPrefix   string // redisbackend Options.Prefix
	PostgresURL   string
	PostgresTable string // pgbackend Options.Table
	BoltPath      string
	BoltBucket    string // boltbackend Options.Bucket

	CookieName  string
	Namespace   string
	Idle        time.Duration
	Lifetime    time.Duration
	MaxLifetime time.Duration
	RememberFor time.Duration
	Rolling     bool

	// Secret and PreviousSecrets come from SESSION_SECRET and
	// SESSION_PREVIOUS_SECRETS, or from the file -secret-file names;
	// never from a flag's value.
	Secret          string
	PreviousSecrets []string

	JSON    bool
	Timeout time.Duration
}

// backendNames lists the -backend values, in the order the help shows them.
var backendNames = []string{"cookie", "redis", "postgres", "bolt"}

// parseConfig reads the flags and the command in args. Flags may come
// before the command or among its arguments; "--" ends them, for an owner
// that starts with "-". Help output and flag errors go to stderr.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, command, error) {
	var cfg config
	var envErr error
	envDuration := func(key string) time.Duration {
		v := getenv(key)
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil && envErr == nil {
			envErr = usagef("%s=%q: %v", key, v, err)
		}
		return d
	}
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var secretFile string

	fs := flag.NewFlagSet("chisessctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr, fs) }
	fs.StringVar(&cfg.Backend, "backend", envOr("CHISESS_BACKEND", "cookie"),
		"session `store`: "+strings.Join(backendNames, ", ")+" (env CHISESS_BACKEND)")
	fs.StringVar(&cfg.RedisAddr, "redis-addr", getenv("CHISESS_REDIS_ADDR"),
		"Redis `host:port`, several comma-separated for a Cluster, or a redis:// URL (env CHISESS_REDIS_ADDR)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", getenv("CHISESS_REDIS_PREFIX"),
		"the app's redisbackend Options.Prefix; empty for its default, chisess:session: (env CHISESS_REDIS_PREFIX)")
	fs.StringVar(&cfg.PostgresURL, "postgres-url", getenv("CHISESS_POSTGRES_URL"),
		"PostgreSQL connection `URL` (env CHISESS_POSTGRES_URL)")
	fs.StringVar(&cfg.PostgresTable, "postgres-table", getenv("CHISESS_POSTGRES_TABLE"),
		"the app's pgbackend Options.Table; empty for its default, chisess_sessions (env CHISESS_POSTGRES_TABLE)")
	fs.StringVar(&cfg.BoltPath, "bolt-path", getenv("CHISESS_BOLT_PATH"),
		"bbolt `file`; the app must not have it open (env CHISESS_BOLT_PATH)")
	fs.StringVar(&cfg.BoltBucket, "bolt-bucket", getenv("CHISESS_BOLT_BUCKET"),
		"the app's boltbackend Options.Bucket; empty for its default, chisess_sessions (env CHISESS_BOLT_BUCKET)")
	fs.StringVar(&cfg.CookieName, "cookie-name", getenv("CHISESS_COOKIE_NAME"),
		"the app's Config.CookieName; empty for chisess's default, __Host-session (env CHISESS_COOKIE_NAME)")
	fs.StringVar(&cfg.Namespace, "namespace", getenv("CHISESS_NAMESPACE"),
		"the app's Config.Namespace; empty for the cookie name (env CHISESS_NAMESPACE)")
	fs.DurationVar(&cfg.Idle, "idle", envDuration("CHISESS_IDLE"), "the app's Config.IdleTimeout (env CHISESS_IDLE)")
	fs.DurationVar(&cfg.Lifetime, "lifetime", envDuration("CHISESS_LIFETIME"), "the app's Config.Lifetime (env CHISESS_LIFETIME)")
	fs.DurationVar(&cfg.MaxLifetime, "max-lifetime", envDuration("CHISESS_MAX_LIFETIME"), "the app's Config.MaxLifetime (env CHISESS_MAX_LIFETIME)")
	fs.DurationVar(&cfg.RememberFor, "remember-for", envDuration("CHISESS_REMEMBER_FOR"), "the app's Config.RememberFor (env CHISESS_REMEMBER_FOR)")
	fs.BoolVar(&cfg.Rolling, "rolling", getenv("CHISESS_ROLLING") == "1" || getenv("CHISESS_ROLLING") == "true",
		"the app's Config.Rolling (env CHISESS_ROLLING=1)")
	fs.StringVar(&secretFile, "secret-file", getenv("CHISESS_SECRET_FILE"),
		"read the secret from this `file`: the first line is the secret, the next lines previous secrets (env CHISESS_SECRET_FILE)")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON instead of a table")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "give up after this `long`")
	if envErr != nil {
		return cfg, command{}, envErr
	}

	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return cfg, command{}, err
		}
		return cfg, command{}, usageError{err.Error()}
	}
	if !slices.Contains(backendNames, cfg.Backend) {
		return cfg, command{}, usagef("-backend %q: choose one of %s", cfg.Backend, strings.Join(backendNames, ", "))
	}
	if err := cfg.readSecrets(secretFile, getenv); err != nil {
		return cfg, command{}, err
	}
	if len(pos) == 0 {
		return cfg, command{}, usagef("no command: choose one of %s", strings.Join(commandNames(), ", "))
	}
	cmd, ok := commands[pos[0]]
	if !ok {
		return cfg, command{}, usagef("unknown command %q: choose one of %s", pos[0], strings.Join(commandNames(), ", "))
	}
	if len(pos)-1 != len(cmd.args) {
		return cfg, command{}, usagef("%s takes %d argument(s): %s %s", pos[0], len(cmd.args), pos[0], strings.Join(cmd.args, " "))
	}
	cmd.argv = pos[1:]
	return cfg, cmd, nil
}

// parseInterleaved parses the flags of fs wherever they are among args
// and returns the other arguments in order. After "--" every argument is
// positional. An argument that starts with "-" but names no flag of fs is
// positional too: tokens and handles are base64url, and one in 64 starts
// with "-".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		a := args[0]
		name, value, isFlag := flagName(a)
		f := fs.Lookup(name)
		switch {
		case a == "--":
			return append(pos, args[1:]...), nil
		case isFlag && (f != nil || name == "h" || name == "help"):
			n := 1
			if f != nil && !value && !isBoolFlag(f) && len(args) > 1 {
				n = 2 // -name value
			}
			if err := fs.Parse(args[:n]); err != nil {
				return nil, err
			}
			args = args[n:]
		default:
			pos, args = append(pos, a), args[1:]
		}
	}
	return pos, nil
}

// flagName returns the name of the flag that a spells (-name, --name,
// -name=value) and whether it carries its value.
func flagName(a string) (name string, value, ok bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", false, false
	}
	name, _, value = strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
	return name, value, name != ""
}

// isBoolFlag reports whether f takes no value (-json).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// readSecrets fills Secret and PreviousSecrets from file, when one is
// named, else from the environment.
func (cfg *config) readSecrets(file string, getenv func(string) string) error {
	if file == "" {
		cfg.Secret = getenv("SESSION_SECRET")
		for p := range strings.SplitSeq(getenv("SESSION_PREVIOUS_SECRETS"), ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.PreviousSecrets = append(cfg.PreviousSecrets, p)
			}
		}
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return usagef("-secret-file: %v", err)
	}
	var lines []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return usagef("-secret-file %s holds no secret", file)
	}
	cfg.Secret, cfg.PreviousSecrets = lines[0], lines[1:]
	return nil
}

// usage prints the help.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: chisessctl [flags] <command> [arguments]

Looks at and ends chisess sessions. Configure it as the app is configured.

Commands:
`)
	for _, name := range commandNames() {
		c := commands[name]
		fmt.Fprintf(w, "  %-32s %s\n", strings.TrimSpace(name+" "+strings.Join(c.args, " ")), c.help)
	}
	fmt.Fprint(w, `
The secret comes from SESSION_SECRET (and SESSION_PREVIOUS_SECRETS, comma-
separated), or from -secret-file; never from a flag.

Exit codes: 0 done, 1 the store failed, 2 bad usage or configuration,
3 no such session.

Flags:
`)
	fs.PrintDefaults()
}
