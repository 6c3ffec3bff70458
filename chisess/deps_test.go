package chisess_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// An app that imports only chisess (or its backend contract, or the test
// kit) pulls in no database driver: go-redis, pgx and bbolt stay in the
// packages that need them.
func TestCoreImportsNoDriver(t *testing.T) {
	is := is.New(t)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-deps", "./chisess", "./chisess/backend", "./chisess/sessiontest")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	is.NoErr(err) // go list -deps
	deps := strings.Fields(string(out))
	is.True(len(deps) > 20) // the list is real: the standard library alone is longer
	for _, d := range deps {
		for _, driver := range []string{"github.com/redis/go-redis", "github.com/jackc/pgx", "go.etcd.io/bbolt", "github.com/chromedp"} {
			is.True(!strings.HasPrefix(d, driver)) // a driver in the core's dependencies
		}
	}
}
