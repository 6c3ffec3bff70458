package bench

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/rueidis"
)

// A floor is one row of BenchmarkFloor: a handler that does only what
// every library must, requested as scenario sc.
type floor struct {
	name       string
	sc         scenario
	needs      string // the environment variable of its service, or empty
	roundTrips int64  // Redis commands per request
	setup      func(tb testing.TB) instance
}

var floors = []floor{
	{"context-value", scUntouched, "", 0, func(tb testing.TB) instance {
		return contextFloor(tb, false)
	}},
	{"context-value+writer", scUntouched, "", 0, func(tb testing.TB) instance {
		return contextFloor(tb, true)
	}},
	{"redis-get", scRead, envRedis, 1, func(tb testing.TB) instance {
		return redisFloor(tb)
	}},
	{"redis-get+set", scRMW, envRedis, 2, func(tb testing.TB) instance {
		return redisFloor(tb)
	}},
	{"redis-set", scNew, envRedis, 1, func(tb testing.TB) instance {
		return redisFloor(tb)
	}},
	{"rueidis-swap", scRMW, envRedis, 1, func(tb testing.TB) instance {
		return rueidisFloor(tb)
	}},
	{"rueidis-set", scNew, envRedis, 1, func(tb testing.TB) instance {
		return rueidisFloor(tb)
	}},
}

// contextFloor is bare chi behind a middleware that adds a context value
// and, if wrap is set, wraps the ResponseWriter.
func contextFloor(tb testing.TB, wrap bool) instance {
	type key struct{}
	type wrapper struct{ http.ResponseWriter }
	inst := bare.setup(tb)
	next := inst.handler
	inst.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), key{}, 1))
		if wrap {
			w = &wrapper{w}
		}
		next.ServeHTTP(w, r)
	})
	return inst
}

// floorRecord stands for a stored session of the scenarios' size.
var floorRecord = bytes.Repeat([]byte{'r'}, 330)

// redisFloor serves /read with one GET of the visitor's record and /rmw
// with a GET and a SET of it, answering 500 if the record is not there;
// /seed and /new are storeFloor's, with one SET each.
func redisFloor(tb testing.TB) instance {
	client, rt := redisClient(tb, envRedis)
	prefix := redisPrefix(tb, envRedis, "floor")
	get := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			fail(w, "no cookie")
			return "", false
		}
		k := prefix + c.Value
		data, err := client.Get(r.Context(), k).Bytes()
		if err != nil || len(data) != len(floorRecord) {
			fail(w, "record not read")
			return "", false
		}
		return k, true
	}
	read := func(w http.ResponseWriter, r *http.Request) {
		if _, found := get(w, r); found {
			ok(w)
		}
	}
	rmw := func(w http.ResponseWriter, r *http.Request) {
		k, found := get(w, r)
		if !found {
			return
		}
		if err := client.Set(r.Context(), k, floorRecord, time.Hour).Err(); err != nil {
			fail(w, err.Error())
			return
		}
		ok(w)
	}
	set := func(ctx context.Context, k string) error {
		return client.Set(ctx, k, floorRecord, time.Hour).Err()
	}
	return storeFloor(tb, rt, prefix, set, read, rmw)
}

// storeFloor wires a floor's handlers around read and rmw, and around
// set, which stores a record under a key: /seed stores one under a new
// key and hands out its name in a cookie as long as a session token, and
// /new stores one under a new key.
func storeFloor(tb testing.TB, rt *roundTrips, prefix string, set func(ctx context.Context, k string) error, read, rmw http.HandlerFunc) instance {
	var created atomic.Int64
	store := func(w http.ResponseWriter, r *http.Request, k string) bool {
		if err := set(r.Context(), k); err != nil {
			fail(w, err.Error())
			return false
		}
		return true
	}
	return instance{rt: rt, handler: router(handlers{
		seed: func(w http.ResponseWriter, r *http.Request) {
			id := randHex(tb, 16) + strings.Repeat("x", 11) // 43 characters, as a token
			if store(w, r, prefix+id) {
				http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id})
				ok(w)
			}
		},
		untouched: func(w http.ResponseWriter, r *http.Request) { ok(w) },
		read:      read,
		rmw:       rmw,
		create: func(w http.ResponseWriter, r *http.Request) {
			if store(w, r, prefix+"new:"+strconv.FormatInt(created.Add(1), 10)) {
				ok(w)
			}
		},
		counter: read,
	})}
}

// TestFloorsServe checks that every floor answers its scenario and makes
// exactly the round trips it stands for, so that a floor is never lower
// than what it claims to measure.
func TestFloorsServe(t *testing.T) {
	for _, f := range floors {
		t.Run(f.name, func(t *testing.T) {
			is := is.New(t)
			if f.needs != "" {
				requireService(t, f.needs)
			}
			inst := f.setup(t)
			req := requests(t, inst, f.sc, 1)[0]
			before := inst.rt.load()
			rec := serve(inst.handler, req)
			is.Equal(rec.Code, http.StatusOK)                   // the floor serves its scenario
			is.Equal(rec.Body.String(), "ok")                   // in full
			is.Equal(inst.rt.load()-before, f.roundTrips)       // with the round trips it stands for
			is.Equal(len(rec.Header().Values("Set-Cookie")), 0) // and nothing else
		})
	}
}

// rueidisFloor is what chisess-rueidis sends, alone, on a rueidis client
// set up as rueidisbackend.New sets its own (one connection, broadcast
// tracking of the prefix with NOLOOP): /rmw is its swap of a cached
// session, one write of five commands (WATCH, EVAL of a compare, MULTI,
// SET … XX PX, EXEC), answering 500 unless the EXEC ran the SET; /seed
// and /new are storeFloor's, with one SET … PX each.
func rueidisFloor(tb testing.TB) instance {
	addr := requireService(tb, envRedis)
	rt := new(roundTrips)
	prefix := redisPrefix(tb, envRedis, "floor-rueidis")
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{addr}, DialCtxFn: rt.dial, PipelineMultiplex: -1,
		ClientTrackingOptions: []string{"BCAST", "PREFIX", prefix, "NOLOOP"},
		OnInvalidations:       func([]rueidis.RedisMessage) {},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(client.Close)
	// The compare rewrites a key that holds something else as it is,
	// which makes the EXEC fail, as rueidisbackend's does.
	const compare = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return 1 end
if v then redis.call('SET', KEYS[1], v, 'KEEPTTL') end
return 0`
	record := rueidis.BinaryString(floorRecord)
	ms := time.Hour.Milliseconds()
	set := func(ctx context.Context, k string) error {
		return client.Do(ctx, client.B().Set().Key(k).Value(record).PxMilliseconds(ms).Build()).Error()
	}
	rmw := func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			fail(w, "no cookie")
			return
		}
		k := prefix + c.Value
		res := client.DoMulti(r.Context(),
			client.B().Watch().Key(k).Build(),
			client.B().Eval().Script(compare).Numkeys(1).Key(k).Arg(record).Build(),
			client.B().Multi().Build(),
			client.B().Set().Key(k).Value(record).Xx().PxMilliseconds(ms).Build(),
			client.B().Exec().Build())
		if exec, err := res[4].ToArray(); err != nil || len(exec) != 1 || exec[0].Error() != nil {
			fail(w, "record not swapped")
			return
		}
		ok(w)
	}
	return storeFloor(tb, rt, prefix, set, rmw, rmw)
}
