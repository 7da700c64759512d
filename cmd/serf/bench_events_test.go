package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// TestEventAndQuerySpeed prints how fast user events and queries travel
// through a cluster of real agents on loopback, with pushes on (the
// default) and off (disable_push: Serf's gossip alone), as the shipped
// binary runs them on the default LAN profile:
//
//   - handlers: from starting `serf event` on one member until the
//     event's handler (one shell command) has started on every member
//     and reported so; on a small machine this is bound by the CPU that
//     N handler processes starting at once take;
//   - agents: the same until every agent has logged the event's arrival
//     (seen through one `serf monitor` per agent), for an event no handler
//     takes, in a later phase, so that the monitors' printing does not
//     weigh on the handler figure;
//   - query: how long `serf query` takes to return with every member's
//     response, with the agent's default timeout;
//   - packets: UDP datagrams sent per event by the whole cluster, above
//     the idle rate of probes.
//
// It is a figure, not a check, so it only runs with SERF_MEASURE_EVENTS=1;
// SERF_MEASURE_SIZES picks the cluster sizes (default "16,64"):
//
//	SERF_MEASURE_EVENTS=1 go test -run '^TestEventAndQuerySpeed$' -count=1 -v -timeout 30m ./cmd/serf
//
// Packets are only counted when it can run the agents in a network
// namespace of their own (as root, with ip(8)), whose counters then see
// this cluster alone.
func TestEventAndQuerySpeed(t *testing.T) {
	if os.Getenv("SERF_MEASURE_EVENTS") != "1" {
		t.Skip("set SERF_MEASURE_EVENTS=1 to measure event and query speed")
	}
	sizes := []int{16, 64}
	if v := os.Getenv("SERF_MEASURE_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 {
				t.Fatalf("bad SERF_MEASURE_SIZES %q", v)
			}
			sizes = append(sizes, n)
		}
	}
	bin := buildShippedBinary(t)

	var rows []string
	for _, n := range sizes {
		for _, push := range []bool{true, false} {
			r := measureCluster(t, bin, n, push)
			rows = append(rows, r.String())
		}
	}
	t.Logf("\n%-6s %-6s %14s %14s %14s %14s %12s\n%s", "N", "push", "agents p50", "handlers p50", "handlers max", "query p50", "pkts/event",
		strings.Join(rows, "\n"))
}

// speedResult is one row of figures.
type speedResult struct {
	n            int
	push         bool
	events       []time.Duration
	arrivals     []time.Duration
	queries      []time.Duration
	queryTimeout string
	packets      float64 // -1 when not counted
}

func (r speedResult) String() string {
	pk := "n/a"
	if r.packets >= 0 {
		pk = fmt.Sprintf("%.0f", r.packets)
	}
	mode := "off"
	if r.push {
		mode = "on"
	}
	return fmt.Sprintf("%-6d %-6s %14v %14v %14v %14v %12s", r.n, mode,
		median(r.arrivals).Round(time.Millisecond),
		median(r.events).Round(time.Millisecond), maxOf(r.events).Round(time.Millisecond),
		median(r.queries).Round(time.Millisecond), pk)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		if d > m {
			m = d
		}
	}
	return m
}

// benchNet runs commands on loopback, inside a network namespace of its
// own when one could be made.
type benchNet struct {
	ns string
}

func newBenchNet(t *testing.T) *benchNet {
	if os.Geteuid() != 0 {
		return &benchNet{}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return &benchNet{}
	}
	ns := fmt.Sprintf("serfbench-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Logf("no network namespace (%v: %s); packets are not counted", err, out)
		return &benchNet{}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", ns, err, out)
	}
	return &benchNet{ns: ns}
}

// wrap returns the program and arguments that run bin with args here.
func (b *benchNet) wrap(bin string, args ...string) (string, []string) {
	if b.ns == "" {
		return bin, args
	}
	return "ip", append([]string{"netns", "exec", b.ns, bin}, args...)
}

// udpSent returns the datagrams sent so far in the namespace, or -1.
func (b *benchNet) udpSent() int64 {
	if b.ns == "" {
		return -1
	}
	out, err := exec.Command("ip", "netns", "exec", b.ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		return -1
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "OutDatagrams" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return -1
}

// ports hands out loopback ports: fixed ones in a fresh namespace, free
// ones otherwise.
func (b *benchNet) ports(t *testing.T, n int) []int {
	if b.ns != "" {
		out := make([]int, n)
		for i := range out {
			out[i] = 20000 + i
		}
		return out
	}
	p, err := testutil.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	benchEvents  = 5
	benchQueries = 3
	// benchSettle is how long after an event the cluster is left to
	// finish its retransmissions before the next: the window in which its
	// packets are counted.
	benchSettle = 4 * time.Second
)

func measureCluster(t *testing.T, bin string, n int, push bool) speedResult {
	t.Helper()
	res := speedResult{n: n, push: push, packets: -1}
	bn := newBenchNet(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf.json")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`{"disable_push": %v}`, !push)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The handler is one shell command that reports its start through a
	// FIFO, and this test takes the time as it reads the line: no second
	// program (bash for its clock, date(1)) starts per member, which on a
	// small machine running N handlers at once would weigh on the figure.
	stamps := newHandlerStamps(t, filepath.Join(dir, "stamps"))
	eventHandler := `user:bench=read -r p; echo "$SERF_SELF_NAME $p" > ` + stamps.path
	queryHandler := `query:benchq=echo ok`

	ports := bn.ports(t, 2*n)
	var rpcs []string
	var procs []*testutil.Process
	t.Cleanup(func() {
		for _, p := range procs {
			p.Kill()
		}
	})
	first := "127.0.0.1:" + strconv.Itoa(ports[0])
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("b%02d", i)
		bind := "127.0.0.1:" + strconv.Itoa(ports[2*i])
		rpc := "127.0.0.1:" + strconv.Itoa(ports[2*i+1])
		args := []string{"agent", "-node=" + name, "-bind=" + bind, "-rpc-addr=" + rpc,
			"-config-file=" + conf, "-event-handler", eventHandler, "-event-handler", queryHandler}
		if i > 0 {
			args = append(args, "-join="+first)
		}
		prog, full := bn.wrap(bin, args...)
		p, err := testutil.StartProcess(prog, dir, nil, full...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		if err := p.WaitOutput("Log data will now stream in as it occurs", 60*time.Second); err != nil {
			t.Fatal(err)
		}
		rpcs = append(rpcs, rpc)
	}
	cli := func(rpc string, timeout time.Duration, args ...string) (string, int) {
		full := append([]string{args[0], "-rpc-addr=" + rpc}, args[1:]...)
		prog, wrapped := bn.wrap(bin, full...)
		out, errOut, code, err := testutil.Run(prog, dir, nil, timeout, wrapped...)
		if err != nil {
			t.Fatalf("serf %v: %v", args, err)
		}
		return out + errOut, code
	}
	// Every member sees every other alive.
	for _, rpc := range []string{rpcs[0], rpcs[n/2], rpcs[n-1]} {
		testutil.WaitFor(t, 120*time.Second, func() error {
			out, code := cli(rpc, 20*time.Second, "members", "-status=alive")
			if code != 0 {
				return fmt.Errorf("members: %d %s", code, out)
			}
			if got := len(strings.Split(strings.TrimSpace(out), "\n")); got != n {
				return fmt.Errorf("%d alive members, want %d", got, n)
			}
			return nil
		})
	}
	time.Sleep(2 * time.Second) // let the joins' gossip die down

	// Idle packet rate over one settle window.
	idleFrom := bn.udpSent()
	time.Sleep(benchSettle)
	idle := bn.udpSent() - idleFrom

	// Handlers first, with nothing else watching: N monitor processes
	// printing logs at the same moment would take the CPU that the N
	// handler processes need, and slow the very figure they measure.
	var eventPackets int64
	for e := 0; e < benchEvents; e++ {
		payload := fmt.Sprintf("e%d", e)
		origin := rpcs[(e*7)%n]
		before := bn.udpSent()
		start := time.Now()
		if out, code := cli(origin, 20*time.Second, "event", "-coalesce=false", "bench", payload); code != 0 {
			t.Fatalf("event: %d %s", code, out)
		}
		var first, last time.Time
		deadline := time.Now().Add(60 * time.Second)
		testutil.WaitFor(t, 61*time.Second, func() error {
			seen, err := stamps.of(payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) < n {
				if time.Now().After(deadline) {
					reportMissing(t, procs, seen, payload)
				}
				return fmt.Errorf("%d of %d handlers ran for %s", len(seen), n, payload)
			}
			first, last = time.Time{}, time.Time{}
			for _, at := range seen {
				if at.After(last) {
					last = at
				}
				if first.IsZero() || at.Before(first) {
					first = at
				}
			}
			return nil
		})
		t.Logf("N=%d push=%v %s: first handler after %v, last after %v", n, push, payload,
			first.Sub(start).Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
		res.events = append(res.events, last.Sub(start))
		if wait := benchSettle - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		eventPackets += bn.udpSent() - before
	}
	if idleFrom >= 0 {
		res.packets = float64(eventPackets)/benchEvents - float64(idle)
	}

	// Then arrivals at the agents, seen through one `serf monitor` each,
	// for events no handler subscribes to.
	arrivals := watchArrivals(t, bn, bin, dir, rpcs)
	time.Sleep(time.Second) // every monitor attached
	for e := 0; e < benchEvents; e++ {
		origin := rpcs[(e*7)%n]
		start := time.Now()
		if out, code := cli(origin, 20*time.Second, "event", "-coalesce=false", arrivalEvent, fmt.Sprintf("a%d", e)); code != 0 {
			t.Fatalf("event: %d %s", code, out)
		}
		res.arrivals = append(res.arrivals, arrivals.waitAll(t, e, n).Sub(start))
		time.Sleep(time.Second) // retransmissions die down
	}

	for q := 0; q < benchQueries; q++ {
		origin := rpcs[(q*5)%n]
		start := time.Now()
		out, code := cli(origin, 120*time.Second, "query", "benchq")
		took := time.Since(start)
		if code != 0 {
			t.Fatalf("query: %d %s", code, out)
		}
		if !strings.Contains(out, fmt.Sprintf("Total Responses: %d", n)) {
			t.Logf("query %d did not get all %d responses:\n%s", q, n, out)
		}
		res.queries = append(res.queries, took)
	}
	for _, p := range procs {
		p.Kill()
	}
	procs = nil
	return res
}

// reportMissing fails the test naming the members whose handler did not
// run for payload, with the end of each one's log.
func reportMissing(t *testing.T, procs []*testutil.Process, seen map[string]time.Time, payload string) {
	t.Helper()
	for i, p := range procs {
		name := fmt.Sprintf("b%02d", i)
		if _, ok := seen[name]; ok {
			continue
		}
		log := p.Stdout() + p.Stderr()
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		t.Logf("%s ran no handler for %s; the end of its log:\n%s", name, payload, log)
	}
	t.Fatalf("%d of %d handlers ran for %s", len(seen), len(procs), payload)
}

// handlerStamps reads "member payload" lines that handlers write to a
// FIFO and keeps when each arrived.
type handlerStamps struct {
	path string
	mu   sync.Mutex
	at   map[string]map[string]time.Time // payload -> member -> first start
	dups []string
}

func newHandlerStamps(t *testing.T, path string) *handlerStamps {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
	// Read and write: the FIFO never reads as ended between writers.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := &handlerStamps{path: path, at: map[string]map[string]time.Time{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			now := time.Now()
			fields := strings.Fields(sc.Text())
			if len(fields) != 2 {
				continue
			}
			h.mu.Lock()
			byMember := h.at[fields[1]]
			if byMember == nil {
				byMember = map[string]time.Time{}
				h.at[fields[1]] = byMember
			}
			if _, dup := byMember[fields[0]]; dup {
				h.dups = append(h.dups, fields[0]+" ran the handler of "+fields[1]+" twice")
			} else {
				byMember[fields[0]] = now
			}
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = f.Close()
		<-done
	})
	return h
}

// of returns when each member's handler started for payload, or an error
// if one ran twice.
func (h *handlerStamps) of(payload string) (map[string]time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dups) > 0 {
		return nil, errors.New(strings.Join(h.dups, "; "))
	}
	out := make(map[string]time.Time, len(h.at[payload]))
	for k, v := range h.at[payload] {
		out[k] = v
	}
	return out, nil
}

// arrivalEvent is the user event the arrival phase sends; no handler
// takes it.
const arrivalEvent = "arrival"

// arrivalWatch timestamps the "Received event: user-event: bench" lines
// of one `serf monitor` per agent: arrival k of an agent is event k.
type arrivalWatch struct {
	mu   sync.Mutex
	seen []map[int]time.Time // per event: agent index -> arrival
}

func watchArrivals(t *testing.T, bn *benchNet, bin, dir string, rpcs []string) *arrivalWatch {
	t.Helper()
	w := &arrivalWatch{}
	var readers sync.WaitGroup
	var cmds []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
		}
		readers.Wait()
		for _, c := range cmds {
			_ = c.Wait()
		}
	})
	for i, rpc := range rpcs {
		prog, args := bn.wrap(bin, "monitor", "-log-level=info", "-rpc-addr="+rpc)
		c := exec.Command(prog, args...)
		c.Dir = dir
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(out)
			count := 0
			for sc.Scan() {
				if !strings.Contains(sc.Text(), "Received event: user-event: "+arrivalEvent) {
					continue
				}
				now := time.Now()
				w.mu.Lock()
				for len(w.seen) <= count {
					w.seen = append(w.seen, map[int]time.Time{})
				}
				w.seen[count][i] = now
				w.mu.Unlock()
				count++
			}
		}()
	}
	return w
}

// waitAll waits until event e arrived at all n agents and returns the
// last arrival.
func (w *arrivalWatch) waitAll(t *testing.T, e, n int) time.Time {
	t.Helper()
	var last time.Time
	testutil.WaitFor(t, 60*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.seen) <= e || len(w.seen[e]) < n {
			got := 0
			if len(w.seen) > e {
				got = len(w.seen[e])
			}
			return fmt.Errorf("event %d logged by %d of %d agents", e, got, n)
		}
		for _, at := range w.seen[e] {
			if at.After(last) {
				last = at
			}
		}
		return nil
	})
	return last
}
