package sim

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSmallClusterSpreadsEvent runs a small cluster in real time on a
// lossy network: it converges, a user event reaches everyone, and the
// network counted what it carried.
func TestSmallClusterSpreadsEvent(t *testing.T) {
	conf := DefaultClusterConfig(12)
	conf.Net.Loss = 0.05
	c, err := StartCluster(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	if _, err := c.WaitConverged(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	res, err := c.UserEvent("hello", 3, 60*time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reached != c.Size() {
		t.Fatalf("event reached %d of %d members", res.Reached, c.Size())
	}
	cnt := c.Net().Counters()
	if cnt.Packets == 0 || cnt.Streams == 0 || cnt.StreamBytes == 0 || cnt.Dropped == 0 {
		t.Errorf("counters %+v: want packets, streams and some losses", cnt)
	}
}

// epidemicBound is the reference time for a user event to reach 99.99%
// of a cluster at Serf's LAN defaults: about 1.8 s at 100 members and
// 2.5 s at 10,000, growing with the logarithm of the size.
func epidemicBound(n int) time.Duration {
	s := 1.8 + 0.35*math.Log10(float64(n)/100)
	return time.Duration(s * float64(time.Second))
}

// TestSimFigures prints the simulation figures for each size in
// SERF_SIM_SIZES (e.g. 2000,10000). It is a measurement, not a check:
//
//	SERF_SIM_SIZES=2000 go test -run '^TestSimFigures$' -count=1 -v -timeout 60m ./internal/sim
//
// SERF_SIM_SCALE overrides the time stretch (default size/100),
// SERF_SIM_WINDOW the simulated steady-state window (default 30s), and
// SERF_SIM_PUSH=off turns pushes off (Serf 0.10's spread by gossip alone).
func TestSimFigures(t *testing.T) {
	sizes := os.Getenv("SERF_SIM_SIZES")
	if sizes == "" {
		t.Skip("set SERF_SIM_SIZES=2000,10000 to run the simulations")
	}
	window := 30 * time.Second
	if w, err := time.ParseDuration(os.Getenv("SERF_SIM_WINDOW")); err == nil {
		window = w
	}
	var rows []string
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("bad size %q", f)
		}
		conf := DefaultClusterConfig(n)
		if s, err := strconv.ParseFloat(os.Getenv("SERF_SIM_SCALE"), 64); err == nil {
			conf.Scale = s
		}
		conf.NoPush = os.Getenv("SERF_SIM_PUSH") == "off"
		row, err := simulate(t, conf, window)
		if err != nil {
			t.Errorf("N=%d: %v", n, err)
			rows = append(rows, fmt.Sprintf("| %6d | did not run: %v |", n, err))
			continue
		}
		rows = append(rows, row)
	}
	t.Logf("simulated figures (times in simulated seconds)\n"+
		"|      N | scale | full views %% | converge s | event 99.99%% s (bound) | event all s | push-pull B/node/min | join push-pull MiB | deepest intent q | deepest event q (burst) | dropped pkts | heap MiB | wall s |\n%s",
		strings.Join(rows, "\n"))
}

// simulate runs one size and formats its row.
func simulate(t *testing.T, conf ClusterConfig, window time.Duration) (string, error) {
	wall := time.Now()
	stop := make(chan struct{})
	depths := make(chan QueueDepths, 1)
	conf.Logf = t.Logf
	c, err := StartCluster(conf)
	if err != nil {
		return "", err
	}
	defer c.Shutdown()
	go func() { depths <- c.Watch(500*time.Millisecond, stop) }()
	t.Logf("N=%d: created and joined in %v wall (scale %.1f)", conf.Size, time.Since(wall).Round(time.Second), conf.Scale)
	// Members that a starved probe declared dead come back by refuting,
	// which can take a push-pull interval; the figures do not wait for
	// every last view, only for most of the cluster.
	convWall, err := c.WaitConverged(convergeWait)
	if err != nil {
		t.Logf("N=%d: going on: %v", conf.Size, err)
	}
	full := c.Converged()
	converge := c.Sim(time.Since(wall))
	joinBytes := c.Net().Counters().StreamBytes
	t.Logf("N=%d: %d members saw all after %v wall; push-pull so far %d MiB", conf.Size, full, convWall.Round(time.Second), joinBytes>>20)

	// Every join left an intent to retransmit on every member, and Serf
	// sends intents before user events, so an event fired now measures
	// the backlog, not the epidemic. Wait (bounded) for it to drain.
	drainStart := time.Now()
	for c.queueDepths().Intent > 16 && time.Since(drainStart) < c.scaled(90*time.Second) {
		time.Sleep(500 * time.Millisecond) // polling a simulation
	}
	t.Logf("N=%d: intent backlog %d after %v simulated of draining", conf.Size, c.queueDepths().Intent, c.Sim(time.Since(drainStart)).Round(time.Second))

	// Steady state: push-pull bytes over a window, with user events
	// spreading meanwhile.
	before := c.Net().Counters()
	start := time.Now()
	var q9999, all []time.Duration
	for i := 0; i < 3; i++ {
		res, err := c.UserEvent(fmt.Sprintf("spread-%d", i), i*7%c.Size(), c.scaled(15*time.Second), 0.9999)
		if err != nil {
			return "", err
		}
		t.Logf("N=%d: event %d reached %d, 99.99%% in %v, all in %v", conf.Size, i, res.Reached, res.Quantile, res.All)
		q9999 = append(q9999, res.Quantile)
		all = append(all, res.All)
	}
	if rest := c.scaled(window) - time.Since(start); rest > 0 {
		time.Sleep(rest) // the window is a span of simulated time
	}
	after := c.Net().Counters()
	simWindow := c.Sim(time.Since(start))
	ppPerNodeMin := float64(after.StreamBytes-before.StreamBytes) / float64(conf.Size) / simWindow.Minutes()

	// A burst of user events from one member, for the event queue.
	for i := 0; i < 100; i++ {
		_ = c.nodes[0].serf.UserEvent(fmt.Sprintf("burst-%d", i), []byte("b"), false)
	}
	time.Sleep(c.scaled(5 * time.Second)) // let the burst spread while the depths are sampled
	close(stop)
	deep := <-depths

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("| %6d | %5.1f | %12.2f | %10.1f | %6.2f (%.2f) | %11.2f | %20.0f | %18.1f | %16d | %23d | %12d | %8d | %6.0f |",
		conf.Size, conf.Scale, 100*float64(full)/float64(conf.Size), converge.Seconds(), median(q9999).Seconds(), epidemicBound(conf.Size).Seconds(),
		median(all).Seconds(), ppPerNodeMin, float64(joinBytes)/(1<<20), deep.Intent, deep.Event, after.Dropped,
		ms.HeapInuse>>20, time.Since(wall).Seconds()), nil
}

// convergeWait bounds the wait for every member to see every other.
const convergeWait = 2 * time.Minute

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
