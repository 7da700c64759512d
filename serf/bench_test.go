package serf

import (
	"fmt"
	"io"
	"log"
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// benchSerf returns an instance with no network, enough for the state
// machine and the push-pull merge.
func benchSerf(tb testing.TB) *Serf {
	s := &Serf{
		config:        DefaultConfig(),
		logger:        discardLogger(),
		members:       make(map[string]*memberState),
		recentIntents: newIntentBuffer(),
		eventBuffer:   newEventRing(512),
		queryBuffer:   newQueryRing(512),
		shutdownCh:    make(chan struct{}),
	}
	s.mx.sink = discardMetrics(tb)
	s.config.NodeName = "self"
	s.clock.Increment()
	s.eventClock.Increment()
	s.queryClock.Increment()
	return s
}

func testNode(i int) *memberlist.Node {
	meta, _ := encodeTags(map[string]string{"role": "web", "dc": "east"}, 5)
	return &memberlist.Node{
		Name: fmt.Sprintf("node-%04d", i), Addr: net.IPv4(10, 0, byte(i>>8), byte(i)).To4(), Port: 7946,
		Meta: meta, PMin: 1, PMax: 5, PCur: 2, DMin: 2, DMax: 5, DCur: 5,
	}
}

// BenchmarkMemberJoins measures handling 1,000 memberlist joins.
func BenchmarkMemberJoins(b *testing.B) {
	nodes := make([]*memberlist.Node, 1000)
	for i := range nodes {
		nodes[i] = testNode(i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := benchSerf(b)
		b.StartTimer()
		for _, n := range nodes {
			s.handleNodeJoin(n)
		}
	}
}

// BenchmarkPushPullMerge1000 measures merging a peer's state that lists
// 1,000 members (50 of them left) and a full event ring.
func BenchmarkPushPullMerge1000(b *testing.B) {
	pp := messagePushPull{LTime: 2000, EventLTime: 600, QueryLTime: 10, StatusLTimes: map[string]LamportTime{}}
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("node-%04d", i)
		pp.StatusLTimes[name] = LamportTime(i + 1)
		if i%20 == 0 {
			pp.LeftMembers = append(pp.LeftMembers, name)
		}
	}
	ring := newEventRing(512)
	for i := 100; i < 600; i++ {
		ring.add(LamportTime(i), "deploy", []byte("payload"))
	}
	pp.Events = ring.snapshot()
	raw, err := encodeMessage(messagePushPullType, &pp)
	if err != nil {
		b.Fatal(err)
	}
	s := benchSerf(b)
	for i := 0; i < 1000; i++ {
		s.handleNodeJoin(testNode(i))
	}
	d := &delegate{serf: s}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.MergeRemoteState(raw, false)
	}
}

// BenchmarkLocalState1000 measures building our push-pull state.
func BenchmarkLocalState1000(b *testing.B) {
	s := benchSerf(b)
	for i := 0; i < 1000; i++ {
		s.handleNodeJoin(testNode(i))
	}
	for i := 0; i < 512; i++ {
		s.eventBuffer.add(LamportTime(i), "deploy", []byte("payload"))
	}
	d := &delegate{serf: s}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(d.LocalState(false)) == 0 {
			b.Fatal("empty state")
		}
	}
}
