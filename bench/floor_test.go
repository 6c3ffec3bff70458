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

// redisFloor serves /read with one GET of the visitor's record, /rmw with
// a GET and a SET of it, answering 500 if the record is not there, and
// /new with a SET of a record under a new key; /seed stores a record under a new key and
// hands out its name in a cookie as long as a session token.
func redisFloor(tb testing.TB) instance {
	client, rt := redisClient(tb)
	prefix := redisPrefix(tb, "floor")
	var created atomic.Int64
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
	return instance{rt: rt, handler: router(handlers{
		seed: func(w http.ResponseWriter, r *http.Request) {
			id := randHex(tb, 16) + strings.Repeat("x", 11) // 43 characters, as a token
			if err := client.Set(r.Context(), prefix+id, floorRecord, time.Hour).Err(); err != nil {
				fail(w, err.Error())
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id})
			ok(w)
		},
		untouched: func(w http.ResponseWriter, r *http.Request) { ok(w) },
		read:      read,
		rmw:       rmw,
		create: func(w http.ResponseWriter, r *http.Request) {
			k := prefix + "new:" + strconv.FormatInt(created.Add(1), 10)
			if err := client.Set(r.Context(), k, floorRecord, time.Hour).Err(); err != nil {
				fail(w, err.Error())
				return
			}
			ok(w)
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
