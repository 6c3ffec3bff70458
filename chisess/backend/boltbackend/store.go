package boltbackend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/sweeper"
)

// DefaultBucket is the bucket that holds the sessions when [Options.Bucket]
// is empty.
const DefaultBucket = "chisess_sessions"

// DefaultTimeout is how long [Open] waits for a file locked by another
// process when [Options.Timeout] is zero.
const DefaultTimeout = time.Second

// DefaultSweepInterval is how often the sweeper deletes expired records when
// [Options.SweepInterval] is zero.
const DefaultSweepInterval = 5 * time.Minute

// DefaultSweepBatch is how many expired records one sweep transaction
// deletes when [Options.SweepBatch] is zero.
const DefaultSweepBatch = 1000

// DefaultFileMode is the permission [Open] gives a new file when
// [Options.FileMode] is zero: readable and writable by its owner only.
const DefaultFileMode os.FileMode = 0o600

// ErrInvalidOptions is returned by [Open] and [New] when a field of
// [Options] is invalid. The wrapping error names the field, for example
// "chisess: invalid bolt options: Options.Timeout is -1s ...".
var ErrInvalidOptions = errors.New("chisess: invalid bolt options")

// headerLen is the size of the expiry that starts every stored value.
const headerLen = 8

// Options configures [Open] and [New]. The zero value is a working
// configuration: the bucket chisess_sessions in a file only its owner can
// read, swept every five minutes, with every write synced to disk.
type Options struct {
	// Timeout is how long Open waits for the file lock while another process
	// has the file open. When it runs out, Open fails with an error that says
	// the file is locked by another process and wraps bbolt's ErrTimeout
	// (go.etcd.io/bbolt/errors), instead of hanging. The default, zero,
	// means [DefaultTimeout] (one second). Raise it when a restarting
	// process may briefly overlap the one it replaces. It must not be
	// negative. New ignores it.
	Timeout time.Duration

	// Bucket is the bbolt bucket that holds the sessions; it is created if
	// missing. The default, empty, means [DefaultBucket]
	// ("chisess_sessions"). Change it when the file passed to New already
	// has a bucket of that name for something else. The Store owns the
	// bucket, so keep nothing else in it: a value too short to be a session
	// record makes Read fail, and the sweeper leaves it alone. The owner
	// index ([Store.Index]) is a second bucket named Bucket + "_owners",
	// created only when the first session gets an owner.
	Bucket string

	// SweepInterval is how often a background goroutine deletes expired
	// records. Read never returns an expired record even before it is swept;
	// sweeping only keeps the file from growing. The default, zero, means
	// [DefaultSweepInterval] (five minutes). A negative value starts no
	// sweeper: use it when a cron job or the app calls [Store.Sweep] itself.
	SweepInterval time.Duration

	// SweepBatch is the most expired records one sweep deletes in a single
	// write transaction; a sweep runs as many transactions as it needs. Small
	// batches keep the write lock, which every Write waits for, short. The
	// default, zero, means [DefaultSweepBatch] (1000). It must not be
	// negative.
	SweepBatch int

	// FileMode is the permission Open gives the file when it creates it.
	// The default, zero, means [DefaultFileMode] (0600), so other users on
	// the machine cannot read the sessions. New ignores it.
	FileMode os.FileMode

	// Now is the clock used to compute when a written record expires and
	// whether a stored one has. The default, nil, means time.Now. It exists
	// so that tests can move time forward without sleeping; production code
	// leaves it nil. It must be safe to call from several goroutines.
	Now func() time.Time

	// NoSync makes Open skip the fsync after each write. Writes get much
	// faster, but a crash or power cut can lose recent sessions or corrupt
	// the file, so leave it false in production; it is meant for tests and
	// benchmarks. New ignores it (set DB.NoSync on your own DB instead).
	NoSync bool

	// Logger receives the sweeper's errors and, at debug level, how many
	// records each sweep deleted. No token is ever logged: the file holds
	// only hashes. The default, nil, means slog.Default() at the time of
	// logging.
	Logger *slog.Logger
}

// Store is a [backend.Backend] over one bucket of a bbolt file, a
// [backend.Swapper]: [Store.Swap] replaces a record only if it still holds
// what the caller read, and a [backend.Indexer]: [Store.Owned] lists an
// owner's sessions from a second bucket. It is safe for concurrent use by
// any number of goroutines of one process.
//
// Create it with [Open] or [New]; release it with [Store.Close].
type Store struct {
	db     *bbolt.DB
	ownDB  bool // Open made db, so Close closes it
	bucket []byte
	now    func() time.Time
	batch  int

	sweeper  *sweeper.Sweeper
	once     sync.Once
	closeErr error
}

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Swapper = (*Store)(nil)
)

// Open opens the bbolt file at path, creating it (with [Options.FileMode])
// and the session bucket if they do not exist, and returns a [Store] that
// owns the file: [Store.Close] closes it. Most applications use Open.
//
// When another process has the file open, Open waits up to
// [Options.Timeout] and then returns an error that says so; any other
// failure to open the file, an empty path, a path that is a directory and
// an invalid option are errors too, which say what to pass instead.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New(`chisess: boltbackend.Open: path is empty; pass the path of the bbolt file to open or create, such as "/var/lib/myapp/sessions.db"`)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("chisess: boltbackend.Open: path %s is a directory; pass the path of a file in it, such as %s",
			path, filepath.Join(path, "sessions.db"))
	}
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	mode := opts.FileMode
	if mode == 0 {
		mode = DefaultFileMode
	}
	db, err := bbolt.Open(path, mode, &bbolt.Options{Timeout: timeout, NoSync: opts.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("chisess: bolt open %s: file is locked by another process: %w", path, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chisess: bolt open %s: the directory %s does not exist; create it, or pass a path in a directory that exists: %w",
			path, filepath.Dir(path), err)
	}
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrVersionMismatch) {
		return nil, fmt.Errorf("chisess: bolt open %s: the file is not a bbolt database; pass the path of a new file or of a bbolt file: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("chisess: bolt open %s: %w", path, err)
	}
	s, err := newStore(db, opts, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New returns a [Store] over a bbolt DB the app already has open, creating
// the session bucket ([Options.Bucket]) if it is missing. The DB belongs to
// the caller: [Store.Close] stops the sweeper but leaves the DB open, so
// close the Store first, then the DB. Use New to keep sessions in the same
// file as the app's own data; otherwise use [Open].
//
// New returns an error for a nil or read-only DB and for an invalid option.
// [Options.Timeout], [Options.FileMode] and [Options.NoSync] apply only to
// Open and are ignored.
func New(db *bbolt.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("chisess: boltbackend.New: db is nil; pass an open *bbolt.DB, or call Open with the path of a file")
	}
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	return newStore(db, opts, false)
}

func checkOptions(opts Options) error {
	if opts.Timeout < 0 {
		return fmt.Errorf("%w: Options.Timeout is %v, want zero (for the default of %v) or more",
			ErrInvalidOptions, opts.Timeout, DefaultTimeout)
	}
	if opts.SweepBatch < 0 {
		return fmt.Errorf("%w: Options.SweepBatch is %d, want zero (for the default of %d) or more",
			ErrInvalidOptions, opts.SweepBatch, DefaultSweepBatch)
	}
	return nil
}

func newStore(db *bbolt.DB, opts Options, ownDB bool) (*Store, error) {
	bucket := opts.Bucket
	if bucket == "" {
		bucket = DefaultBucket
	}
	s := &Store{
		db:     db,
		ownDB:  ownDB,
		bucket: []byte(bucket),
		now:    opts.Now,
		batch:  opts.SweepBatch,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.batch == 0 {
		s.batch = DefaultSweepBatch
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(s.bucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chisess: bolt create bucket %q in %s: %w", bucket, db.Path(), err)
	}

	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	s.sweeper = sweeper.Start(interval, s.Sweep, opts.Logger, "bolt", "path", db.Path())
	return s, nil
}

// Read implements [backend.Backend] with one read transaction, which never
// waits for writers. It returns a copy of the stored data, or
// [backend.ErrNotFound] when the key is absent or its expiry has passed by
// [Options.Now], whether or not the record has been swept. A stored value
// too short to hold an expiry, which this package never writes, is reported
// as an error rather than as a session. Any other failure, the context's and
// a closed file's included, is wrapped as "chisess: bolt read: ...".
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("chisess: bolt read: %w", err)
	}
	now := s.now().UnixNano()
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.bucket)
		if b == nil {
			return backend.ErrNotFound
		}
		v := b.Get([]byte(key))
		if v == nil {
			return backend.ErrNotFound
		}
		if len(v) < headerLen {
			return fmt.Errorf("malformed record of %d bytes, shorter than its %d-byte expiry", len(v), headerLen)
		}
		if expired(v, now) {
			return backend.ErrNotFound
		}
		// v lives in bbolt's memory map, valid only inside this transaction.
		out = make([]byte, len(v)-headerLen)
		copy(out, v[headerLen:])
		return nil
	})
	if errors.Is(err, backend.ErrNotFound) {
		return nil, backend.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chisess: bolt read: %w", err)
	}
	return out, nil
}

// Write implements [backend.Backend] with one write transaction, synced to
// disk before Write returns (unless [Options.NoSync]). It replaces any record
// under key with data, to expire at [Options.Now] plus ttl; a ttl of zero or
// less deletes the record instead. Failures, the context's included, are
// wrapped as "chisess: bolt write: ...".
func (s *Store) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chisess: bolt write: %w", err)
	}
	if ttl <= 0 {
		if err := s.delete(ctx, key); err != nil {
			return fmt.Errorf("chisess: bolt write: %w", err)
		}
		return nil
	}
	v := record(s.now().UnixNano(), ttl, data)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("chisess: bolt write: %w", err)
	}
	return nil
}

// Delete implements [backend.Backend] with one write transaction. A missing
// key is not an error. Failures, the context's included, are wrapped as
// "chisess: bolt delete: ...".
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chisess: bolt delete: %w", err)
	}
	if err := s.delete(ctx, key); err != nil {
		return fmt.Errorf("chisess: bolt delete: %w", err)
	}
	return nil
}

// update runs fn in a write transaction, unless ctx has ended by the time
// the transaction holds bbolt's one write lock: a call can wait for it
// behind other writers for longer than its request lasts, and must not
// then write for a request that has already given up (its client gone,
// its deadline passed, its error already answered). The caller checks ctx
// before it waits, too.
func (s *Store) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (s *Store) delete(ctx context.Context, key string) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.bucket)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// record returns a new stored value: the expiry, now (Unix nanoseconds) plus
// a positive ttl, then a copy of data.
func record(now int64, ttl time.Duration, data []byte) []byte {
	exp := now + int64(ttl)
	if exp < now { // overflow: a ttl of centuries
		exp = math.MaxInt64
	}
	v := make([]byte, headerLen+len(data))
	binary.BigEndian.PutUint64(v, uint64(exp))
	copy(v[headerLen:], data)
	return v
}

// expired reports whether the record v, at least headerLen bytes long, has
// expired at now (Unix nanoseconds).
func expired(v []byte, now int64) bool {
	return int64(binary.BigEndian.Uint64(v)) <= now
}

// Close stops the sweeper, interrupting a sweep in progress, and waits for
// it to exit. If [Open] created the Store, Close then closes the file, and
// every later call to the Store's methods returns an error; a Store made by
// [New] leaves the app's DB open and keeps working without background
// sweeps. Close is safe to call more than once, and from several goroutines;
// every call returns the result of the first.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.sweeper.Stop()
		if s.ownDB {
			if err := s.db.Close(); err != nil {
				s.closeErr = fmt.Errorf("chisess: bolt close %s: %w", s.db.Path(), err)
			}
		}
	})
	return s.closeErr
}
