package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/matryer/is"
)

// The secret material in a store's address must not reach stderr: the
// tool redacts a redis:// URL's password when the connection fails
// (redact), but not when the URL does not parse, where redis.ParseURL's
// *url.Error quotes the whole URL.
func TestStoreURLPasswordNotInErrors(t *testing.T) {
	const pw = "hunter2-attack"
	for _, tt := range []struct{ name, backend, env, value string }{
		{"redis url, bad port", "redis", "CHISESS_REDIS_ADDR", "redis://:" + pw + "@localhost:notaport/0"},
		{"postgres url, bad port", "postgres", "CHISESS_POSTGRES_URL", "postgres://u:" + pw + "@localhost:notaport/db"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			r := ctl(map[string]string{"CHISESS_BACKEND": tt.backend, tt.env: tt.value}, "count")
			is.True(r.code != 0)
			is.True(!strings.Contains(r.stderr+r.stdout, pw)) // the password is printed
		})
	}
}

// "chisessctl starts no sweeper and creates no table" and "A missing file
// is an error, never a new empty store": with a -bolt-bucket the file does
// not hold (a typo), boltbackend.Open creates the bucket in the app's file
// and count reports an empty store with exit 0.
func TestBoltWrongBucketIsNotAnEmptyStore(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := boltbackend.Open(path, boltbackend.Options{SweepInterval: -1})
	is.NoErr(err)
	is.NoErr(s.Write(context.Background(), "k", []byte("v"), time.Hour))
	is.NoErr(s.Close())

	r := ctl(map[string]string{"CHISESS_BACKEND": "bolt", "CHISESS_BOLT_PATH": path}, "count")
	is.Equal(r.code, 0)
	is.True(strings.HasPrefix(r.stdout, "1 ")) // the right bucket: one record

	r = ctl(map[string]string{"CHISESS_BACKEND": "bolt", "CHISESS_BOLT_PATH": path, "CHISESS_BOLT_BUCKET": "chisess_sesions"}, "count")
	t.Logf("wrong bucket: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	is.True(r.code != 0) // a bucket the file lacks is reported, not created and counted as empty
}
