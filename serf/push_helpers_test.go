package serf

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/testutil"
)

// The push and query-completion tests run their own small clusters on
// loopback, all joined to all at the start, so that they can turn gossip
// off and see what pushes alone deliver. Not memberlist's in-memory
// transport: its packet sends block until the receiver reads, so two
// members pushing to each other from their packet handlers would wait on
// each other forever, which real UDP never does.

// fastNode is one member of such a cluster with a reader of its events.
type fastNode struct {
	s    *Serf
	sink *metrics.InmemSink

	mu     sync.Mutex
	events map[string]int // user event "name/payload" -> times delivered
	silent bool           // if set, queries are not answered
	reply  func(q *Query) []byte
}

// fastOptions tune a cluster of fastNodes.
type fastOptions struct {
	noGossip bool                // no gossip rounds and no periodic push-pull
	noJoin   bool                // members start alone; the test joins them
	tweak    func(int, *Config)  // per node, before Create
	reply    func(*Query) []byte // answer to queries; default "ok from <name>"
	silent   func(i int) bool    // nodes that never answer queries
	tags     func(i int) map[string]string
}

// fastCluster starts n members on one MockNetwork, each joined to every
// other, and waits until each sees all.
func fastCluster(t *testing.T, n int, opts fastOptions) []*fastNode {
	t.Helper()
	nodes := make([]*fastNode, n)
	var readers sync.WaitGroup
	stop := make(chan struct{})
	for i := range nodes {
		name := "fast-" + strconv.FormatInt(nodeCounter.Add(1), 10)
		conf := DefaultConfig()
		conf.NodeName = name
		ml := memberlist.DefaultLocalConfig()
		ml.BindAddr = "127.0.0.1"
		ml.BindPort = 0
		ml.AdvertiseAddr = "127.0.0.1"
		ml.ProbeInterval = 200 * time.Millisecond
		ml.ProbeTimeout = 100 * time.Millisecond
		ml.GossipInterval = 20 * time.Millisecond
		ml.RetransmitMult = 4
		if opts.noGossip {
			// Probes would carry broadcasts piggybacked.
			ml.GossipNodes = 0
			ml.PushPullInterval = 0
			ml.ProbeInterval = 0
		}
		logs := &testutil.SyncBuffer{}
		ml.LogOutput = logs
		conf.LogOutput = logs
		conf.MemberlistConfig = ml
		conf.BroadcastTimeout = 2 * time.Second
		conf.LeavePropagateDelay = 0
		sink := metrics.NewInmemSink(time.Hour, time.Hour)
		mcfg := metrics.DefaultConfig("test")
		mcfg.EnableRuntimeMetrics = false
		mcfg.EnableHostname = false
		m, err := metrics.New(mcfg, sink)
		if err != nil {
			t.Fatal(err)
		}
		conf.Metrics = m
		if opts.tags != nil {
			conf.Tags = opts.tags(i)
		}
		if opts.tweak != nil {
			opts.tweak(i, conf)
		}
		ch := make(chan Event, 1024)
		conf.EventCh = ch
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("logs of %s:\n%s", name, logs.String())
			}
		})

		fn := &fastNode{sink: sink, events: map[string]int{}, reply: opts.reply}
		if opts.silent != nil {
			fn.silent = opts.silent(i)
		}
		s, err := Create(conf)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		fn.s = s
		nodes[i] = fn
		readers.Add(1)
		go func() {
			defer readers.Done()
			fn.read(ch, stop)
		}()
	}
	t.Cleanup(func() {
		for _, fn := range nodes {
			fn.s.Shutdown()
		}
		close(stop)
		readers.Wait()
	})

	if opts.noJoin {
		return nodes
	}
	var addrs []string
	for _, fn := range nodes {
		addrs = append(addrs, fn.addr())
	}
	for _, fn := range nodes[1:] {
		if _, err := fn.s.Join(addrs, false); err != nil {
			t.Fatalf("join: %v", err)
		}
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		for _, fn := range nodes {
			if alive := fn.alive(); alive != n {
				return fmt.Errorf("%s sees %d alive members, want %d", fn.s.config.NodeName, alive, n)
			}
		}
		return nil
	})
	if opts.noGossip {
		// With gossip off only what the test sends travels, but for the
		// state exchange each join schedules (a push-pull, which carries
		// recent events): wait until every member's has been made.
		testutil.WaitFor(t, 3*DefaultJoinSyncDelay+10*time.Second, func() error {
			for _, fn := range nodes {
				if fn.s.joinSyncPending.Load() {
					return fmt.Errorf("%s has not made its exchange after the join yet", fn.name())
				}
			}
			return nil
		})
	}
	return nodes
}

func (f *fastNode) addr() string {
	ln := f.s.memberlist.LocalNode()
	return ln.Address()
}

func (f *fastNode) name() string { return f.s.config.NodeName }

func (f *fastNode) alive() int {
	n := 0
	for _, m := range f.s.Members() {
		if m.Status == StatusAlive {
			n++
		}
	}
	return n
}

// read records user events and answers queries until stop.
func (f *fastNode) read(ch <-chan Event, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case e := <-ch:
			switch ev := e.(type) {
			case UserEvent:
				f.mu.Lock()
				f.events[ev.Name+"/"+string(ev.Payload)]++
				f.mu.Unlock()
			case *Query:
				if f.silent {
					continue
				}
				out := []byte("ok from " + f.name())
				if f.reply != nil {
					out = f.reply(ev)
				}
				_ = ev.Respond(out)
			}
		}
	}
}

// seen returns how often the event key was delivered.
func (f *fastNode) seen(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events[key]
}

// counter sums a Serf counter (a key such as "serf.push.sent") over every
// interval the sink kept.
func (f *fastNode) counter(key string) int {
	total := 0
	for _, iv := range f.sink.Data() {
		iv.RLock()
		for k, c := range iv.Counters {
			if k == "test."+key || strings.HasPrefix(k, "test."+key+";") {
				total += int(c.Sum)
			}
		}
		iv.RUnlock()
	}
	return total
}
