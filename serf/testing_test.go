package serf

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/testutil"
)

// nodeCounter makes node names unique across the tests of one run.
var nodeCounter atomic.Int64

// testConfig returns a config with fast timings bound to a free loopback
// port, logging into a buffer shown if the test fails. Tests where the
// network is not the point use memConfig instead.
func testConfig(t testing.TB) *Config {
	t.Helper()
	conf := DefaultConfig()
	conf.NodeName = "node-" + strconv.FormatInt(nodeCounter.Add(1), 10)

	ml := memberlist.DefaultLocalConfig()
	ml.BindAddr = "127.0.0.1"
	ml.BindPort = 0
	ml.AdvertiseAddr = "127.0.0.1"
	ml.ProbeInterval = 100 * time.Millisecond
	ml.ProbeTimeout = 50 * time.Millisecond
	ml.SuspicionMult = 1
	ml.SuspicionMaxTimeoutMult = 1
	ml.GossipInterval = 10 * time.Millisecond
	ml.PushPullInterval = 2 * time.Second
	ml.TCPTimeout = 1 * time.Second
	ml.GossipToTheDeadTime = 2 * time.Second
	// The LAN retransmit count: the local profile's 2 copies of a
	// broadcast can all be lost when a loaded machine drops UDP.
	ml.RetransmitMult = 4
	conf.MemberlistConfig = ml

	conf.BroadcastTimeout = 2 * time.Second
	conf.LeavePropagateDelay = 200 * time.Millisecond
	conf.ReapInterval = 100 * time.Millisecond
	conf.ReconnectInterval = 100 * time.Millisecond
	conf.ReconnectTimeout = 1 * time.Hour
	conf.TombstoneTimeout = 1 * time.Hour
	conf.QueueCheckInterval = 1 * time.Second
	conf.Metrics = discardMetrics(t)

	logs := &testutil.SyncBuffer{}
	conf.LogOutput = logs
	ml.LogOutput = logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of %s:\n%s", conf.NodeName, logs.String())
		}
	})
	return conf
}

// memConfig is testConfig on an in-memory network instead of sockets, for
// tests of logic: every node of a test's cluster shares one network.
func memConfig(t testing.TB, network *testutil.MemNetwork) *Config {
	t.Helper()
	conf := testConfig(t)
	conf.MemberlistConfig.Transport = network.NewTransport()
	return conf
}

// discardMetrics returns a metrics instance on an in-memory sink, so tests
// neither touch the global sink nor each other.
func discardMetrics(t testing.TB) *metrics.Metrics {
	t.Helper()
	sink := metrics.NewInmemSink(time.Second, time.Minute)
	cfg := metrics.DefaultConfig("test")
	cfg.EnableRuntimeMetrics = false // its collector stops the world every second
	m, err := metrics.New(cfg, sink)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return m
}

// eventRecorder drains an event channel into a list the test can read.
type eventRecorder struct {
	ch     chan Event
	mu     sync.Mutex
	events []Event
	stop   chan struct{}
	done   chan struct{}
}

func newEventRecorder(t testing.TB) *eventRecorder {
	r := &eventRecorder{ch: make(chan Event, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case e := <-r.ch:
				if q, ok := e.(*Query); ok && q.Name != "" {
					r.answer(q)
				}
				r.mu.Lock()
				r.events = append(r.events, e)
				r.mu.Unlock()
			case <-r.stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(r.stop); <-r.done })
	return r
}

// answer responds to test queries whose name starts with "echo".
func (r *eventRecorder) answer(q *Query) {
	if len(q.Name) >= 4 && q.Name[:4] == "echo" {
		_ = q.Respond(append([]byte("re:"), q.Payload...))
	}
}

// userEvents returns the user events received so far.
func (r *eventRecorder) userEvents() []UserEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []UserEvent
	for _, e := range r.events {
		if u, ok := e.(UserEvent); ok {
			out = append(out, u)
		}
	}
	return out
}

// memberEvents returns the names of members in events of type t.
func (r *eventRecorder) memberEvents(t EventType) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if m, ok := e.(MemberEvent); ok && m.Type == t {
			for _, mem := range m.Members {
				out = append(out, mem.Name)
			}
		}
	}
	return out
}

// startNode creates a Serf instance that is shut down when the test ends.
func startNode(t testing.TB, conf *Config) *Serf {
	t.Helper()
	s, err := Create(conf)
	if err != nil {
		t.Fatalf("create %s: %v", conf.NodeName, err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s
}

// addrOf returns the join address of a node.
func addrOf(s *Serf) string {
	n := s.Memberlist().LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// join makes a join b's cluster.
func join(t testing.TB, a, b *Serf) {
	t.Helper()
	if _, err := a.Join([]string{addrOf(b)}, false); err != nil {
		t.Fatalf("join %s -> %s: %v", a.config.NodeName, b.config.NodeName, err)
	}
}

// waitStatus waits until every observer sees node in the given status.
func waitStatus(t testing.TB, timeout time.Duration, node string, want MemberStatus, observers ...*Serf) {
	t.Helper()
	testutil.WaitFor(t, timeout, func() error {
		for _, o := range observers {
			st := StatusNone
			for _, m := range o.Members() {
				if m.Name == node {
					st = m.Status
				}
			}
			if st != want {
				return fmt.Errorf("%s sees %s as %s, want %s", o.config.NodeName, node, st, want)
			}
		}
		return nil
	})
}

// waitMembers waits until every node sees exactly n alive members.
func waitMembers(t testing.TB, timeout time.Duration, n int, nodes ...*Serf) {
	t.Helper()
	testutil.WaitFor(t, timeout, func() error {
		for _, s := range nodes {
			alive := 0
			for _, m := range s.Members() {
				if m.Status == StatusAlive {
					alive++
				}
			}
			if alive != n {
				return fmt.Errorf("%s sees %d alive members, want %d", s.config.NodeName, alive, n)
			}
		}
		return nil
	})
}
