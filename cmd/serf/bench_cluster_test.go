package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/testutil"
)

// The cluster figures: N agents as separate processes on loopback, with
// the LAN profile, measured the same way for every N and every round.
// They are figures, not checks, so the test only runs when asked:
//
//	SERF_BENCH_CLUSTER=16,64 SERF_BENCH_ROUNDS=3 go test -run '^TestClusterFigures$' -count=1 -v -timeout 60m ./cmd/serf
//
// SERF_BENCH_BIN measures a prebuilt binary instead of building this tree
// (how the figures of an older build are taken). SERF_BENCH_SKIP lists
// figures to leave out (rpc, event, fail), for the large clusters, and
// SERF_BENCH_PROFILE picks another timing profile than lan.
const (
	// clusterIdleRSS is how long the converged cluster idles before its
	// memory is read.
	clusterIdleRSS = 15 * time.Second
	// clusterIdleCPU is the window over which idle CPU time is counted.
	clusterIdleCPU = 20 * time.Second
	// clusterRPCWindow is how long the members RPC is driven.
	clusterRPCWindow = 3 * time.Second
	// clusterPoll is how often each agent is asked what it sees, in a
	// cluster of up to 64; larger clusters are asked less often, so the
	// polling does not swamp the machine.
	clusterPoll = 50 * time.Millisecond
	// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
	clockTicks = 100
)

// benchProfile is the agents' timing profile: SERF_BENCH_PROFILE, or lan.
func benchProfile() string {
	if p := os.Getenv("SERF_BENCH_PROFILE"); p != "" {
		return p
	}
	return "lan"
}

// clusterFigures is one round's measurements.
type clusterFigures struct {
	join, event, fail time.Duration
	rssMiB, cpuSec    float64
	rpc               float64
	// rpcCPU is the answering agent's own CPU time per members request
	// during the RPC window, in µs: what a request costs the agent,
	// whatever the clients' speed or the round trip's latency.
	rpcCPU float64
}

func TestClusterFigures(t *testing.T) {
	sizes := os.Getenv("SERF_BENCH_CLUSTER")
	if sizes == "" {
		t.Skip("set SERF_BENCH_CLUSTER=16,64 to measure multi-process cluster figures")
	}
	rounds := 3
	if r, err := strconv.Atoi(os.Getenv("SERF_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	skip := os.Getenv("SERF_BENCH_SKIP")
	bin := os.Getenv("SERF_BENCH_BIN")
	if bin == "" {
		bin = buildForFigures(t)
	}
	var rows []string
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			t.Fatalf("bad cluster size %q", f)
		}
		var all []clusterFigures
		for r := 0; r < rounds; r++ {
			fig := runClusterRound(t, bin, n, skip)
			t.Logf("N=%d round %d: %s (load %s)", n, r+1, fig, loadAvg())
			all = append(all, fig)
		}
		rows = append(rows, fmt.Sprintf("| %4d | %s | %s |", n, medianFigures(all), loadAvg()))
	}
	t.Logf("medians of %d rounds, binary %s\n"+
		"|    N | join s | event s | fail s | RSS MiB | CPU s/20s | members req/s | agent µs/req | load |\n%s",
		rounds, bin, strings.Join(rows, "\n"))
}

func (f clusterFigures) String() string {
	return fmt.Sprintf("join %.2fs event %.2fs fail %.2fs rss %.1fMiB cpu %.3fs rpc %.0f/s (%.1fµs of agent CPU each)",
		f.join.Seconds(), f.event.Seconds(), f.fail.Seconds(), f.rssMiB, f.cpuSec, f.rpc, f.rpcCPU)
}

// medianFigures formats the median of each figure across rounds.
func medianFigures(all []clusterFigures) string {
	med := func(get func(clusterFigures) float64) float64 {
		v := make([]float64, len(all))
		for i, f := range all {
			v[i] = get(f)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return fmt.Sprintf("%6.2f | %7.2f | %6.2f | %7.1f | %9.3f | %13.0f | %12.1f",
		med(func(f clusterFigures) float64 { return f.join.Seconds() }),
		med(func(f clusterFigures) float64 { return f.event.Seconds() }),
		med(func(f clusterFigures) float64 { return f.fail.Seconds() }),
		med(func(f clusterFigures) float64 { return f.rssMiB }),
		med(func(f clusterFigures) float64 { return f.cpuSec }),
		med(func(f clusterFigures) float64 { return f.rpc }),
		med(func(f clusterFigures) float64 { return f.rpcCPU }))
}

// buildForFigures builds the binary the way `make dev` does.
func buildForFigures(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "serf")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/serf")
	build.Dir = filepath.Join(wd, "..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// clusterAgent is one agent process of a measured cluster.
type clusterAgent struct {
	name, bind, rpc string
	proc            *testutil.Process
	client          *client.RPCClient
}

// runClusterRound starts n agents, measures one round and stops them.
func runClusterRound(t *testing.T, bin string, n int, skip string) clusterFigures {
	t.Helper()
	dir := t.TempDir()
	ports, err := testutil.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	agents := make([]*clusterAgent, n)
	defer func() {
		var wg sync.WaitGroup
		for _, a := range agents {
			if a == nil {
				continue
			}
			wg.Add(1)
			go func(a *clusterAgent) {
				defer wg.Done()
				if a.client != nil {
					_ = a.client.Close()
				}
				a.proc.Kill()
			}(a)
		}
		wg.Wait()
	}()
	evDir := filepath.Join(dir, "events")
	if err := os.MkdirAll(evDir, 0o755); err != nil {
		t.Fatal(err)
	}
	handler := fmt.Sprintf("user=date +%%s%%N > %s/$SERF_SELF_NAME", evDir)
	for i := range agents {
		a := &clusterAgent{
			name: fmt.Sprintf("fig-%04d", i),
			bind: "127.0.0.1:" + strconv.Itoa(ports[2*i]),
			rpc:  "127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
		}
		p, err := testutil.StartProcess(bin, dir, nil, "agent", "-node="+a.name,
			"-bind="+a.bind, "-rpc-addr="+a.rpc, "-log-level=warn", "-event-handler="+handler,
			"-profile="+benchProfile())
		if err != nil {
			t.Fatal(err)
		}
		a.proc = p
		agents[i] = a
	}
	for _, a := range agents {
		if err := testutil.Poll(120*time.Second, 50*time.Millisecond, func() error {
			c, err := client.NewRPCClient(a.rpc)
			if err != nil {
				if a.proc.Exited() {
					return fmt.Errorf("agent %s exited: %s%s", a.name, a.proc.Stdout(), a.proc.Stderr())
				}
				return err
			}
			a.client = c
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	var fig clusterFigures
	// Join convergence: every agent joins the first at once; the figure
	// is the time until the last watched agent (every agent up to
	// maxWatched, a spread sample beyond) sees all n alive.
	// Beyond 64 agents, hundreds of joins at one agent at once time out
	// on a small machine, so at most maxJoining are in flight.
	start := time.Now()
	var wg sync.WaitGroup
	joinLimit := maxJoining
	if n > maxJoining {
		// Hundreds of agents on a small machine: fewer at once, or the
		// joins starve the probes and the cluster flaps.
		joinLimit = maxJoining / 4
	}
	joining := make(chan struct{}, joinLimit)
	for _, a := range agents[1:] {
		wg.Add(1)
		go func(a *clusterAgent) {
			defer wg.Done()
			joining <- struct{}{}
			defer func() { <-joining }()
			// A join refused under load (memberlist turns away push-pulls
			// past 128 pending) is tried again, as retry_join would.
			// An overloaded agent may also drop the RPC connection, so
			// every attempt has a connection of its own.
			var err error
			for attempt := 0; attempt < joinAttempts; attempt++ {
				var c *client.RPCClient
				if c, err = client.NewRPCClient(a.rpc); err == nil {
					_, err = c.Join([]string{agents[0].bind}, false)
					_ = c.Close()
					if err == nil {
						return
					}
				}
				time.Sleep(time.Second) // a retry_join-like pause before the next attempt
			}
			t.Errorf("join %s: %v", a.name, err)
		}(a)
	}
	fig.join = waitAll(t, sampleAgents(agents, maxWatched), start, func(ms []client.Member) bool {
		return countStatus(ms, "alive") == n
	})
	wg.Wait()

	// Idle memory and CPU, with nobody polling.
	time.Sleep(clusterIdleRSS) // an idle cluster is what is measured
	var rss float64
	before := make([]int, n)
	for i, a := range agents {
		kb, _, err := procMemory(a.proc.Cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		rss += float64(kb) / 1024
		before[i] = procCPUTicks(t, a.proc.Cmd.Process.Pid)
	}
	fig.rssMiB = rss / float64(n)
	time.Sleep(clusterIdleCPU) // the window over which idle CPU is counted
	var ticks int
	for i, a := range agents {
		ticks += procCPUTicks(t, a.proc.Cmd.Process.Pid) - before[i]
	}
	fig.cpuSec = float64(ticks) / clockTicks / float64(n)

	if !strings.Contains(skip, "rpc") {
		pid := agents[0].proc.Cmd.Process.Pid
		ticks := procCPUTicks(t, pid)
		fig.rpc = membersThroughput(t, agents[0].rpc, 2, clusterRPCWindow)
		if reqs := fig.rpc * clusterRPCWindow.Seconds(); reqs > 0 {
			spent := float64(procCPUTicks(t, pid)-ticks) / clockTicks
			fig.rpcCPU = spent / reqs * 1e6
		}
	}
	if !strings.Contains(skip, "event") {
		start = time.Now()
		if err := agents[0].client.UserEvent("fig", []byte("x"), false); err != nil {
			t.Fatalf("user event: %v", err)
		}
		fig.event = waitEvents(t, evDir, agents, start)
	}
	if !strings.Contains(skip, "fail") {
		victim := agents[n-1]
		start = time.Now()
		_ = victim.proc.Signal(9)
		victim.proc.Kill()
		_ = victim.client.Close()
		victim.client = nil
		fig.fail = waitAll(t, agents[:n-1], start, func(ms []client.Member) bool {
			for _, m := range ms {
				if m.Name == victim.name {
					return m.Status == "failed"
				}
			}
			return false
		})
	}
	return fig
}

// waitAll polls every agent until done holds for what it sees, and returns
// the time from start to the last agent's first success.
func waitAll(t *testing.T, agents []*clusterAgent, start time.Time, done func([]client.Member) bool) time.Duration {
	t.Helper()
	var last atomic.Int64
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func(a *clusterAgent) {
			defer wg.Done()
			poll := clusterPoll * time.Duration(max(1, len(agents)/64))
			logged := false
			err := testutil.Poll(600*time.Second, poll, func() error {
				ms, err := a.client.Members()
				if err != nil {
					return err
				}
				if !done(ms) && !logged && time.Since(start) > slowWait {
					// A slow round is worth a look at what the laggard sees.
					logged = true
					t.Logf("%s after %v: %d members, by status %v; its warnings:\n%s", a.name, slowWait, len(ms),
						statusCounts(ms), warnings(a.proc.Stdout(), 20))
				}
				if !done(ms) {
					return fmt.Errorf("%s: not yet (%d members, %d alive)", a.name, len(ms), countStatus(ms, "alive"))
				}
				return nil
			})
			if err != nil {
				t.Errorf("%v", err)
				return
			}
			d := int64(time.Since(start))
			for {
				old := last.Load()
				if d <= old || last.CompareAndSwap(old, d) {
					break
				}
			}
		}(a)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return time.Duration(last.Load())
}

// waitEvents waits until every agent's handler has written its time stamp
// and returns the latest, less start.
func waitEvents(t *testing.T, dir string, agents []*clusterAgent, start time.Time) time.Duration {
	t.Helper()
	var latest int64
	testutil.WaitFor(t, 60*time.Second, func() error {
		latest = 0
		for _, a := range agents {
			data, err := os.ReadFile(filepath.Join(dir, a.name))
			if err != nil {
				return fmt.Errorf("no event yet on %s", a.name)
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %w", a.name, err) // the handler is mid-write
			}
			latest = max(latest, ns)
		}
		return nil
	})
	return time.Duration(latest - start.UnixNano())
}

// membersThroughput drives the members RPC of one agent from conns
// clients for window and returns requests per second.
func membersThroughput(t *testing.T, addr string, conns int, window time.Duration) float64 {
	t.Helper()
	var total atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(window)
	for i := 0; i < conns; i++ {
		c, err := client.NewRPCClient(addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for time.Now().Before(deadline) {
				if _, err := c.Members(); err != nil {
					t.Errorf("members: %v", err)
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(total.Load()) / window.Seconds()
}

// maxWatched bounds the agents whose view the join figure waits on: past
// it, a sample spread over the start order (the first and the last
// included) stands for the cluster, so that polling hundreds of agents
// for hundreds of members each does not take the CPU the joins need.
const maxWatched = 64

// sampleAgents picks at most k agents spread evenly over agents, the
// first and the last included.
func sampleAgents(agents []*clusterAgent, k int) []*clusterAgent {
	if len(agents) <= k {
		return agents
	}
	out := make([]*clusterAgent, 0, k)
	for i := 0; i < k; i++ {
		out = append(out, agents[i*(len(agents)-1)/(k-1)])
	}
	return out
}

// joinAttempts bounds the tries of one agent's join.
const joinAttempts = 10

// maxJoining bounds the joins in flight at once.
const maxJoining = 64

// slowWait is when a lagging agent's view is logged.
const slowWait = 10 * time.Second

// warnings returns the last n WARN and ERR lines of an agent's log.
func warnings(log string, n int) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "[WARN]") || strings.Contains(line, "[ERR]") {
			out = append(out, line)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

func statusCounts(ms []client.Member) map[string]int {
	out := make(map[string]int)
	for _, m := range ms {
		out[m.Status]++
	}
	return out
}

func countStatus(ms []client.Member, status string) int {
	n := 0
	for _, m := range ms {
		if m.Status == status {
			n++
		}
	}
	return n
}

// procCPUTicks reads user plus system time, in clock ticks, of a process
// and all its threads from /proc/PID/stat.
func procCPUTicks(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.Atoi(f[11])
	stime, err2 := strconv.Atoi(f[12])
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %q", pid, s)
	}
	return utime + stime
}

// loadAvg is the one-minute load average, noted with each figure because
// the machine is shared.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
