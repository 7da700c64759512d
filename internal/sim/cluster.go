package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/serf"
)

// ClusterConfig is a simulated cluster.
type ClusterConfig struct {
	// Size is the number of members.
	Size int
	// Scale stretches every interval, timeout and latency (see the
	// package comment); 1 is real time.
	Scale float64
	// Net is the simulated network, before scaling.
	Net NetConfig
	// Seed picks who joins whom.
	Seed uint64
	// NoPush turns Serf's pushes of new user events off, as in Serf 0.10.
	NoPush bool
	// Logf, if set, reports progress while the cluster is built.
	Logf func(format string, args ...any)
}

// DefaultClusterConfig is a cluster of size members at Serf's LAN
// defaults, stretched so that it runs on a small machine.
func DefaultClusterConfig(size int) ClusterConfig {
	return ClusterConfig{Size: size, Scale: max(1, float64(size)/100), Net: DefaultNetConfig(), Seed: 1}
}

// Cluster is a running simulated cluster.
type Cluster struct {
	conf    ClusterConfig
	net     *Network
	nodes   []*node
	sinkCfg *metrics.Metrics

	// eventSeen counts, per user event name, the members that got it, and
	// when the last did, so spread figures need no per-member bookkeeping.
	eventMu sync.Mutex
	events  map[string]*eventSpread
}

// node is one member and the goroutine draining its events.
type node struct {
	serf *serf.Serf
	evCh chan serf.Event
	done chan struct{}
}

// eventSpread records when each member first saw one user event.
type eventSpread struct {
	sent  time.Time
	times []time.Duration
}

// scaled stretches d by the cluster's scale.
func (c *Cluster) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.conf.Scale)
}

// Sim converts a wall-clock duration to simulated time.
func (c *Cluster) Sim(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.conf.Scale)
}

// Net is the cluster's network.
func (c *Cluster) Net() *Network { return c.net }

// Size is the number of members.
func (c *Cluster) Size() int { return len(c.nodes) }

// memberConfig is Serf's LAN defaults, stretched by the scale.
func (c *Cluster) memberConfig(i int, t *Transport) *serf.Config {
	ml := memberlist.DefaultLANConfig()
	ml.Name = "sim-" + strconv.Itoa(i)
	ml.Transport = t
	ml.LogOutput = io.Discard
	ml.ProbeInterval = c.scaled(ml.ProbeInterval)
	ml.ProbeTimeout = c.scaled(ml.ProbeTimeout)
	ml.GossipInterval = c.scaled(ml.GossipInterval)
	ml.GossipToTheDeadTime = c.scaled(ml.GossipToTheDeadTime)
	ml.PushPullInterval = c.scaled(ml.PushPullInterval)
	ml.TCPTimeout = c.scaled(ml.TCPTimeout)
	// LZW on every packet is most of the simulation's CPU; without it the
	// byte counts are of uncompressed messages, an upper bound.
	ml.EnableCompression = false

	conf := serf.DefaultConfig()
	conf.NodeName = ml.Name
	conf.MemberlistConfig = ml
	conf.LogOutput = io.Discard
	conf.Tags = map[string]string{"role": "sim", "dc": "east"}
	conf.BroadcastTimeout = c.scaled(conf.BroadcastTimeout)
	conf.LeavePropagateDelay = c.scaled(conf.LeavePropagateDelay)
	conf.ReapInterval = c.scaled(conf.ReapInterval)
	conf.ReconnectInterval = c.scaled(conf.ReconnectInterval)
	conf.QueueCheckInterval = c.scaled(conf.QueueCheckInterval)
	conf.FlapTimeout = c.scaled(conf.FlapTimeout)
	conf.Metrics = c.sinkCfg
	if c.conf.NoPush {
		conf.PushFanout = 0
	}
	return conf
}

// StartCluster creates conf.Size members; each joins one member started
// before it, picked at random. It returns once every member is created
// and joined (not yet converged: see WaitConverged).
func StartCluster(conf ClusterConfig) (*Cluster, error) {
	if conf.Size < 2 {
		return nil, fmt.Errorf("sim: a cluster needs 2 members or more, not %d", conf.Size)
	}
	if conf.Scale < 1 {
		conf.Scale = 1
	}
	netConf := conf.Net
	netConf.Latency = time.Duration(float64(netConf.Latency) * conf.Scale)
	netConf.Jitter = time.Duration(float64(netConf.Jitter) * conf.Scale)
	sinkCfg := metrics.DefaultConfig("sim")
	sinkCfg.EnableRuntimeMetrics = false
	mx, err := metrics.New(sinkCfg, &metrics.BlackholeSink{})
	if err != nil {
		return nil, fmt.Errorf("sim: metrics: %w", err)
	}
	c := &Cluster{conf: conf, net: NewNetwork(netConf), sinkCfg: mx, events: make(map[string]*eventSpread)}
	rng := rand.New(rand.NewPCG(conf.Seed, 7))
	built := time.Now()
	for i := 0; i < conf.Size; i++ {
		t := c.net.NewTransport()
		sc := c.memberConfig(i, t)
		n := &node{evCh: make(chan serf.Event, 256), done: make(chan struct{})}
		sc.EventCh = n.evCh
		go c.drain(n)
		s, err := serf.Create(sc)
		if err != nil {
			close(n.evCh)
			c.Shutdown()
			return nil, fmt.Errorf("sim: create member %d: %w", i, err)
		}
		n.serf = s
		c.nodes = append(c.nodes, n)
		if i == 0 {
			continue
		}
		if conf.Logf != nil && i%250 == 0 {
			conf.Logf("sim: %d members created after %v", i, time.Since(built).Round(time.Millisecond))
		}
		peer := c.nodes[rng.IntN(i)]
		if _, err := s.Join([]string{peer.serf.Memberlist().LocalNode().Address()}, true); err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("sim: member %d joins: %w", i, err)
		}
	}
	// Members that joined early learned of later ones only by gossip,
	// which at thousands of members takes minutes of alive messages. A
	// second push-pull with the first member, which knows everyone, hands
	// each the whole list at once; the figures are of the cluster after.
	seed := c.nodes[0].serf.Memberlist().LocalNode().Address()
	var wg sync.WaitGroup
	work := make(chan *node)
	errs := make(chan error, len(c.nodes))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if _, err := n.serf.Join([]string{seed}, true); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i, n := range c.nodes[1:] {
		if conf.Logf != nil && i%250 == 0 {
			conf.Logf("sim: %d second push-pulls after %v", i, time.Since(built).Round(time.Millisecond))
		}
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		c.Shutdown()
		return nil, fmt.Errorf("sim: second push-pull: %w", err)
	}
	return c, nil
}

// drain records user events and discards the rest.
func (c *Cluster) drain(n *node) {
	defer close(n.done)
	for ev := range n.evCh {
		u, ok := ev.(serf.UserEvent)
		if !ok {
			continue
		}
		c.eventMu.Lock()
		if sp := c.events[u.Name]; sp != nil {
			sp.times = append(sp.times, c.Sim(time.Since(sp.sent)))
		}
		c.eventMu.Unlock()
	}
}

// Shutdown stops every member and the network.
func (c *Cluster) Shutdown() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, n := range c.nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func(n *node) {
			defer wg.Done()
			defer func() { <-sem }()
			_ = n.serf.Shutdown()
		}(n)
	}
	wg.Wait()
	for _, n := range c.nodes {
		<-n.serf.ShutdownCh()
		close(n.evCh)
		<-n.done
	}
	c.net.Close()
}

// QueueDepths is the deepest broadcast queues seen on any member.
type QueueDepths struct {
	Intent, Event, Query int
}

// queueDepths reads every member's queue depths once.
func (c *Cluster) queueDepths() QueueDepths {
	var q QueueDepths
	for _, n := range c.nodes {
		st := n.serf.Stats()
		q.Intent = max(q.Intent, atoiOr0(st["intent_queue"]))
		q.Event = max(q.Event, atoiOr0(st["event_queue"]))
		q.Query = max(q.Query, atoiOr0(st["query_queue"]))
	}
	return q
}

func atoiOr0(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

// Watch samples queue depths every interval until stop is closed and
// returns the deepest seen.
func (c *Cluster) Watch(interval time.Duration, stop <-chan struct{}) QueueDepths {
	var deepest QueueDepths
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		q := c.queueDepths()
		deepest.Intent = max(deepest.Intent, q.Intent)
		deepest.Event = max(deepest.Event, q.Event)
		deepest.Query = max(deepest.Query, q.Query)
		select {
		case <-stop:
			return deepest
		case <-t.C:
		}
	}
}

// Converged reports how many members see every member alive.
func (c *Cluster) Converged() int {
	full := 0
	for _, n := range c.nodes {
		if n.serf.Memberlist().NumMembers() == len(c.nodes) {
			full++
		}
	}
	return full
}

// WaitConverged waits until every member knows every other, and returns
// the wall-clock time it took, or an error after timeout.
func (c *Cluster) WaitConverged(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		full := c.Converged()
		if full == len(c.nodes) {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("sim: %d of %d members see all after %v", full, len(c.nodes), timeout)
		}
		time.Sleep(200 * time.Millisecond) // polling a simulation, nothing to wait on
	}
}

// SpreadResult is how one user event spread.
type SpreadResult struct {
	// Reached is how many members got the event.
	Reached int
	// Quantile is the simulated time by which the asked fraction had it.
	Quantile time.Duration
	// All is the simulated time by which every member had it (0 if some
	// never did).
	All time.Duration
}

// UserEvent fires a user event on one member and waits, up to timeout of
// wall-clock time, until every member has it.
func (c *Cluster) UserEvent(name string, from int, timeout time.Duration, fraction float64) (SpreadResult, error) {
	c.eventMu.Lock()
	sp := &eventSpread{sent: time.Now()}
	c.events[name] = sp
	c.eventMu.Unlock()
	if err := c.nodes[from].serf.UserEvent(name, []byte("sim"), false); err != nil {
		return SpreadResult{}, fmt.Errorf("sim: user event: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		c.eventMu.Lock()
		n := len(sp.times)
		c.eventMu.Unlock()
		if n >= len(c.nodes) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a simulation
	}
	c.eventMu.Lock()
	defer c.eventMu.Unlock()
	times := append([]time.Duration(nil), sp.times...)
	res := SpreadResult{Reached: len(times)}
	need := int(fraction*float64(len(c.nodes)) + 0.999999)
	if len(times) >= need && need > 0 {
		res.Quantile = times[need-1] // appended in order of arrival
	}
	if len(times) == len(c.nodes) {
		res.All = times[len(times)-1]
	}
	return res, nil
}
