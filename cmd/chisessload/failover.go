package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The failover faults: a primary killed with SIGKILL and its replica
// promoted in its place, by Redis Cluster itself or by Redis Sentinel.
const (
	faultClusterFailover  = "cluster-failover"
	faultSentinelFailover = "sentinel-failover"
)

// replicationWindow is the span before a kill in which the tool counts a
// lost change as inside the window of asynchronous replication. Redis
// acknowledges a write before its replicas have it, and documents no
// bound on the lag (the Redis Cluster specification, "Write safety";
// Redis replication, "How Redis replication works"); a replica reports
// its lag from an acknowledgement it sends once a second. On this
// machine's loopback a replica is milliseconds behind, so one second is
// a wide bound; a loss outside it is counted as unexpected.
const replicationWindow = time.Second

// replicatedWindow is the loss window of a failover.
var replicatedWindow = lossWindow{before: replicationWindow,
	desc: "asynchronous replication: sessions last changed in the 1 s before the primary was killed"}

// waitFor polls cond every 10 ms until it holds, for up to limit.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var err error
	for {
		var ok bool
		if ok, err = cond(ctx); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("%s: not within %v: %w", what, limit, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// admin sends one command to the server at addr and returns its answer.
func admin(ctx context.Context, addr string, args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: time.Second, PoolSize: 1})
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

// info returns the fields of an INFO section of the server at addr.
func info(ctx context.Context, addr, section string) (map[string]string, error) {
	v, err := admin(ctx, addr, "info", section)
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	fields := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// isReplica reports whether the server at addr replicates a primary with
// its link up; isPrimary whether it is a primary.
func isReplica(ctx context.Context, addr string) (bool, error) {
	f, err := info(ctx, addr, "replication")
	return f["role"] == "slave" && f["master_link_status"] == "up", err
}

func isPrimary(ctx context.Context, addr string) (bool, error) {
	f, err := info(ctx, addr, "replication")
	return f["role"] == "master", err
}

// failoverRig is what both failovers share: the primary the fault kills
// and the replica that must take its place.
type failoverRig struct {
	primary *redisServer
	replica string // its address
	// rejoin are the options the killed primary starts again with, to
	// come back as a replica.
	rejoin []string
	// switched reports whether every server clients ask for the primary
	// (the Sentinels, the cluster's other nodes) names the new one.
	switched func(context.Context) (bool, error)
}

// strike kills the primary, notes when the replica was last seen a
// replica (rec.relaunchAt), and when it answers as the primary and every
// server clients ask names it (rec.upAt). Then, once down has passed
// since the kill, it starts the killed server again on its port and
// directory, as a replica, and notes when it replicates the new primary
// (rec.rejoinAt). It restarts it only once the switch is known
// everywhere: a client that still found it named would read its data
// before the resync, which are stale.
func (f failoverRig) strike(ctx context.Context, rec *recorder, down time.Duration) error {
	f.primary.kill()
	killed := time.Now()
	rec.note(&rec.killAt, killed)
	// The failover is timed even if the run ends first. The replica was
	// promoted after the last poll that found it a replica was sent: no
	// server took writes from the kill until then.
	stillReplica := killed
	promoted := func(ctx context.Context) (bool, error) {
		sent := time.Now()
		ok, err := isPrimary(ctx, f.replica)
		if err == nil && !ok {
			stillReplica = sent
		}
		return ok, err
	}
	if err := waitFor(context.WithoutCancel(ctx), 30*time.Second, "the replica's promotion", promoted); err != nil {
		return err
	}
	rec.note(&rec.relaunchAt, stillReplica)
	if err := waitFor(context.WithoutCancel(ctx), 30*time.Second, "the new primary named everywhere", f.switched); err != nil {
		return err
	}
	rec.note(&rec.upAt, time.Now())
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(killed.Add(down))):
	}
	f.primary.args = slices.Concat(f.primary.args, f.rejoin)
	if err := f.primary.start(ctx); err != nil {
		return fmt.Errorf("restart the killed primary: %w", err)
	}
	rejoined := func(ctx context.Context) (bool, error) { return isReplica(ctx, f.primary.addr()) }
	if err := waitFor(ctx, 30*time.Second, "the killed primary back as a replica", rejoined); err != nil {
		if ctx.Err() != nil {
			return nil // the run ended first
		}
		return err
	}
	rec.note(&rec.rejoinAt, time.Now())
	return nil
}

// closeAll stops the servers and removes their files.
func closeAll(servers []*redisServer) error {
	var errs []error
	for _, s := range servers {
		if s != nil {
			errs = append(errs, s.close())
		}
	}
	return errors.Join(errs...)
}

// replicated are the options of the failovers' servers: no persistence,
// and a primary that sends its data to a new replica at once (by default
// it waits five seconds for more replicas to share the transfer).
var replicated = []string{"--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"}

// clusterRig is a Redis Cluster of three primaries, each with a replica,
// that the tool starts: the fault kills the primary of slot 0.
type clusterRig struct {
	failoverRig
	nodes []*redisServer
}

// clusterNodeTimeout is how long the cluster waits before it counts a
// silent node as failed and lets its replica take over: short, so that
// a run of seconds sees the failover (the default is 15 s).
const clusterNodeTimeout = "1000"

// startCluster starts six redis-servers in cluster mode, joins them with
// redis-cli --cluster create --cluster-replicas 1, and waits until every
// replica is in sync.
func startCluster(ctx context.Context) (_ *clusterRig, err error) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, fmt.Errorf("-fault %s needs redis-cli on the PATH: %w", faultClusterFailover, err)
	}
	r := &clusterRig{}
	defer func() {
		if err != nil {
			closeAll(r.nodes)
		}
	}()
	var addrs []string
	for range 6 {
		bus, err := freePort()
		if err != nil {
			return nil, err
		}
		n, err := launchRedis(ctx, "redis-server", "", slices.Concat(replicated, []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", clusterNodeTimeout,
			// The other primaries keep serving their slots while one is
			// away.
			"--cluster-require-full-coverage", "no",
			// A replica may take over however long its link was down.
			"--cluster-replica-validity-factor", "0"})...)
		if err != nil {
			return nil, err
		}
		r.nodes = append(r.nodes, n)
		addrs = append(addrs, n.addr())
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, lastLines(string(out), 5))
	}
	ready := func(ctx context.Context) (bool, error) {
		for _, a := range addrs {
			f, err := info(ctx, a, "cluster")
			if err != nil || f["cluster_enabled"] != "1" {
				return false, err
			}
			v, err := admin(ctx, a, "cluster", "info")
			s, _ := v.(string)
			if err != nil || !strings.Contains(s, "cluster_state:ok") || !strings.Contains(s, "cluster_known_nodes:6") {
				return false, err
			}
		}
		primary, replica, err := slotZero(ctx, addrs[0])
		if err != nil || replica == "" {
			return false, err
		}
		for _, n := range r.nodes {
			if n.addr() == primary {
				r.primary = n
			}
		}
		r.replica = replica
		for _, a := range addrs {
			if ok, err := isPrimary(ctx, a); err != nil {
				return false, err
			} else if !ok {
				if ok, err := isReplica(ctx, a); !ok || err != nil {
					return false, err
				}
			}
		}
		return r.primary != nil, nil
	}
	if err := waitFor(ctx, 60*time.Second, "the cluster up, its replicas in sync", ready); err != nil {
		return nil, err
	}
	r.switched = func(ctx context.Context) (bool, error) {
		for _, n := range r.nodes {
			if n == r.primary {
				continue
			}
			if primary, _, err := slotZero(ctx, n.addr()); primary != r.replica || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	return r, nil
}

// slotZero asks the node at addr which primary serves slot 0, and which
// replica replicates it.
func slotZero(ctx context.Context, addr string) (primary, replica string, err error) {
	v, err := admin(ctx, addr, "cluster", "nodes")
	if err != nil {
		return "", "", err
	}
	s, _ := v.(string)
	var primaryID string
	type node struct{ id, addr, master string }
	var nodes []node
	for line := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		// <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot> ...
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		a, _, _ := strings.Cut(f[1], "@")
		nodes = append(nodes, node{f[0], a, f[3]})
		if strings.Contains(f[2], "master") && slices.ContainsFunc(f[8:], func(r string) bool { return r == "0" || strings.HasPrefix(r, "0-") }) {
			primaryID, primary = f[0], a
		}
	}
	for _, n := range nodes {
		if primaryID != "" && n.master == primaryID {
			replica = n.addr
		}
	}
	return primary, replica, nil
}

func (r *clusterRig) point(st *stores) {
	st.ClusterAddrs = nil
	for _, n := range r.nodes {
		st.ClusterAddrs = append(st.ClusterAddrs, n.addr())
	}
}

func (r *clusterRig) close() error { return closeAll(r.nodes) }

// sentinelRig is a primary, its replica and three Sentinels that watch
// them, which the tool starts.
type sentinelRig struct {
	failoverRig
	replicaSrv *redisServer
	sentinels  []*redisServer
}

// sentinelMaster is the name the Sentinels know the primary by.
const sentinelMaster = "chisess"

// startSentinel starts a primary, a replica and three Sentinels (a
// quorum of two) that fail over after a second of silence, and waits
// until the Sentinels know the replica and each other.
func startSentinel(ctx context.Context) (_ *sentinelRig, err error) {
	r := &sentinelRig{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.primary, err = launchRedis(ctx, "redis-server", "", replicated...); err != nil {
		return nil, err
	}
	port := strconv.Itoa(r.primary.port)
	if r.replicaSrv, err = launchRedis(ctx, "redis-server", "", slices.Concat(replicated, []string{"--replicaof", "127.0.0.1", port})...); err != nil {
		return nil, err
	}
	r.replica = r.replicaSrv.addr()
	// Started again as a primary, the killed server would take the
	// writes of any client still pointed at it until the Sentinels
	// demote it, then drop them: it starts as the new primary's replica.
	r.rejoin = []string{"--replicaof", "127.0.0.1", strconv.Itoa(r.replicaSrv.port)}
	conf := "sentinel monitor " + sentinelMaster + " 127.0.0.1 " + port + " 2\n" +
		"sentinel down-after-milliseconds " + sentinelMaster + " 1000\n" +
		"sentinel failover-timeout " + sentinelMaster + " 10000\n"
	for range 3 {
		s, err := launchRedis(ctx, "redis-sentinel", conf)
		if err != nil {
			return nil, err
		}
		r.sentinels = append(r.sentinels, s)
	}
	ready := func(ctx context.Context) (bool, error) {
		if ok, err := isReplica(ctx, r.replica); !ok || err != nil {
			return false, err
		}
		for _, s := range r.sentinels {
			v, err := admin(ctx, s.addr(), "sentinel", "master", sentinelMaster)
			if err != nil {
				return false, err
			}
			m := sentinelFields(v)
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return false, nil
			}
		}
		return true, nil
	}
	if err := waitFor(ctx, 60*time.Second, "the Sentinels watching the primary, its replica and each other", ready); err != nil {
		return nil, err
	}
	r.switched = func(ctx context.Context) (bool, error) {
		for _, s := range r.sentinels {
			v, err := admin(ctx, s.addr(), "sentinel", "get-master-addr-by-name", sentinelMaster)
			if a, ok := v.([]any); !ok || len(a) != 2 || fmt.Sprint(a[0], ":", a[1]) != r.replica || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	return r, nil
}

// sentinelFields turns SENTINEL MASTER's answer, a flat list of names and
// values (RESP2) or a map (RESP3), into a map.
func sentinelFields(v any) map[string]string {
	m := map[string]string{}
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			m[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, val := range v {
			m[fmt.Sprint(k)] = fmt.Sprint(val)
		}
	}
	return m
}

func (r *sentinelRig) point(st *stores) {
	st.SentinelAddrs = nil
	for _, s := range r.sentinels {
		st.SentinelAddrs = append(st.SentinelAddrs, s.addr())
	}
	st.MasterName = sentinelMaster
}

func (r *sentinelRig) close() error {
	return closeAll(append([]*redisServer{r.primary, r.replicaSrv}, r.sentinels...))
}
