package agent

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

// benchClusterSize is how many members the agent of the members benchmark
// knows, itself included.
const benchClusterSize = 1000

// errFillerAlone is how a filler node refuses to learn about others.
var errFillerAlone = errors.New("filler node keeps to itself")

// fillerMerge keeps a filler node ignorant of the cluster: it refuses
// every member but itself, in push-pull merges and in alive gossip alike.
// The agent it joins still merges the filler's state (memberlist merges
// on both ends independently), so the agent learns every filler while each
// filler holds one member of state, has nobody to gossip to, and the
// whole crowd costs little memory and almost no CPU. The filler's own
// Join reports the refusal as an error, which is expected.
type fillerMerge struct{ self string }

func (f fillerMerge) NotifyMerge(members []*serf.Member) error {
	for _, m := range members {
		if m.Name != f.self {
			return errFillerAlone
		}
	}
	return nil
}

// startFillers starts n serf instances on 127.0.0.1 and joins each of
// them to the agent at addr. They are shut down when the benchmark ends.
func startFillers(b *testing.B, n int, addr string) {
	b.Helper()
	fillers := make([]*serf.Serf, 0, n)
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, s := range fillers {
			wg.Add(1)
			go func(s *serf.Serf) {
				defer wg.Done()
				_ = s.Shutdown()
			}(s)
		}
		wg.Wait()
	})
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("filler-%04d", i)
		ml := memberlist.DefaultLocalConfig()
		ml.BindAddr = "127.0.0.1"
		ml.BindPort = 0
		ml.AdvertiseAddr = "127.0.0.1"
		ml.LogOutput = io.Discard
		// A filler never starts a push-pull: the agent would answer each
		// with its whole 1,000-member state, 33 times a second, and that
		// background work would be measured as the RPC's.
		ml.PushPullInterval = 0
		conf := serf.DefaultConfig()
		conf.NodeName = name
		conf.ProtocolVersion = 5
		conf.Tags = map[string]string{"role": "filler", "dc": "east"}
		conf.MemberlistConfig = ml
		conf.LogOutput = io.Discard
		conf.Merge = fillerMerge{self: name}
		s, err := serf.Create(conf)
		if err != nil {
			b.Fatalf("create %s: %v", name, err)
		}
		fillers = append(fillers, s)
		// The error is the filler refusing the agent's state; the agent
		// has merged the filler by then.
		_, _ = s.Join([]string{addr}, true)
	}
}

// BenchmarkMembersRPC measures `members` requests answered by an agent
// that knows benchClusterSize members, over one RPC connection and over
// 16 connections used at once. Client and agent share this process, so
// the figures include both ends (and B/op counts both ends' allocations).
func BenchmarkMembersRPC(b *testing.B) {
	start := time.Now()
	node := startTestNode(b, testAgentOptions{name: "bench-agent", tags: map[string]string{"role": "web", "dc": "east"}})
	startFillers(b, benchClusterSize-1, node.gossipAddr)
	testutil.WaitFor(b, 60*time.Second, func() error {
		alive := 0
		for _, m := range node.agent.Serf().Members() {
			if m.Status == serf.StatusAlive {
				alive++
			}
		}
		if alive != benchClusterSize {
			return fmt.Errorf("agent sees %d alive members, want %d", alive, benchClusterSize)
		}
		return nil
	})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("%d-member cluster ready in %v; heap in use %d MiB, %d goroutines",
		benchClusterSize, time.Since(start).Round(time.Millisecond), ms.HeapInuse>>20, runtime.NumGoroutine())

	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			clients := make([]*client.RPCClient, conns)
			for i := range clients {
				c, err := client.NewRPCClient(node.rpcAddr)
				if err != nil {
					b.Fatalf("connect: %v", err)
				}
				defer c.Close()
				clients[i] = c
			}
			// One warm-up call per connection checks the answer.
			for _, c := range clients {
				members, err := c.Members()
				if err != nil {
					b.Fatalf("members: %v", err)
				}
				if len(members) != benchClusterSize {
					b.Fatalf("members returned %d members, want %d", len(members), benchClusterSize)
				}
			}

			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Int64
			var failed atomic.Pointer[error]
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Add(1)
				go func(c *client.RPCClient) {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := c.Members(); err != nil {
							failed.CompareAndSwap(nil, &err)
							return
						}
					}
				}(c)
			}
			wg.Wait()
			b.StopTimer()
			if err := failed.Load(); err != nil {
				b.Fatalf("members: %v", *err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}

	// The agent's side alone: a raw connection that reads each reply's
	// bytes without decoding them. The first reply is parsed to learn its
	// length; membership holds still here, so every later reply has that
	// length and is read by it (a reply of another length puts the next
	// header out of step, and reading it fails). Every request reuses one
	// Seq, as Serf allows. What a client spends decoding comes on top of
	// this, whichever agent answers.
	b.Run("conns=1/undecoded", func(b *testing.B) {
		c := dialRPC(b, node.rpcAddr)
		c.handshake(0)
		first := c.call(membersCommand, 1, nil, "")
		if list := first.body.get("Members"); list == nil || len(list.elems) != benchClusterSize {
			b.Fatalf("members reply %v, want %d members", first.header, benchClusterSize)
		}
		want := first.body.raw
		got := make([]byte, len(want))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c.send(membersCommand, 1, nil)
			hdr, err := readMP(c.r)
			if err != nil {
				b.Fatalf("members reply header: %v", err)
			}
			if e := hdr.get("Error"); e == nil || e.text != "" {
				b.Fatalf("members reply header %v", hdr)
			}
			if _, err := io.ReadFull(c.r, got); err != nil {
				b.Fatalf("members body: %v", err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(len(want)), "reply-bytes")
	})
}
