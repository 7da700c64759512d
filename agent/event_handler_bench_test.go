package agent

import (
	"bytes"
	"context"
	"log"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
)

// lineSignal is a log writer that signals each line holding want.
type lineSignal struct {
	want []byte
	ch   chan struct{}
}

func (w *lineSignal) Write(p []byte) (int, error) {
	if bytes.Contains(p, w.want) {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// BenchmarkMemberJoinBesideSlowQuery measures the time from a member-join
// event to its script's first output line, with the query lane idle and
// with a `sleep 30` query script running. The lanes make the two equal:
// the difference is the delay a slow query handler causes (figure:
// ms/join per case). Run with
//
//	go test -run '^$' -bench BenchmarkMemberJoinBesideSlowQuery -benchtime 200x ./agent
func BenchmarkMemberJoinBesideSlowQuery(b *testing.B) {
	for _, slowQuery := range []bool{false, true} {
		name := "query-lane-idle"
		if slowQuery {
			name = "slow-query-running"
		}
		b.Run(name, func(b *testing.B) {
			joined := &lineSignal{want: []byte("stdout: joined"), ch: make(chan struct{}, 1)}
			started := &lineSignal{want: []byte("stdout: query-started"), ch: make(chan struct{}, 1)}
			logger := log.New(&multiSignal{joined, started}, "", 0)
			h := NewScriptEventHandler(HandlerConfig{
				Self:    func() serf.Member { return vectorSelf },
				Scripts: mustScripts(b, "query:slow=echo query-started; sleep 30", "member-join=echo joined"),
				Logger:  logger,
			})
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = h.Shutdown(ctx)
			}()
			if slowQuery {
				h.HandleEvent(&serf.Query{Name: "slow"})
				select {
				case <-started.ch:
				case <-time.After(20 * time.Second):
					b.Fatal("query script did not start")
				}
			}
			join := serf.MemberEvent{Type: serf.EventMemberJoin, Members: []serf.Member{{Name: "n1", Addr: net.ParseIP("127.0.0.1")}}}
			var total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				h.HandleEvent(join)
				select {
				case <-joined.ch:
				case <-time.After(20 * time.Second):
					b.Fatal("member-join script did not run")
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/join")
		})
	}
}

// multiSignal passes every write to each of its writers.
type multiSignal []*lineSignal

func (m multiSignal) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

// BenchmarkHandleEventFlood sends 100,000 user events to a runner whose
// script is `sleep 5`, as fast as HandleEvent takes them, and reports the
// heap the runner still holds afterwards (figure: retained-KB), which the
// lane limit keeps flat, and the cost of one HandleEvent (ns/op).
func BenchmarkHandleEventFlood(b *testing.B) {
	const events = 100000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		before := heapInUse()
		h := NewScriptEventHandler(HandlerConfig{
			Self:    func() serf.Member { return vectorSelf },
			Scripts: mustScripts(b, "user=sleep 5"),
		})
		payload := bytes.Repeat([]byte("p"), 64)
		evs := make([]serf.UserEvent, 100)
		for j := range evs {
			evs[j] = serf.UserEvent{LTime: serf.LamportTime(j), Name: "flood-" + strconv.Itoa(j), Payload: payload}
		}
		b.StartTimer()
		start := time.Now()
		for j := 0; j < events; j++ {
			// A fresh payload per event, as events from the network have.
			e := evs[j%len(evs)]
			e.Payload = append([]byte(nil), payload...)
			h.HandleEvent(e)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		retained := heapInUse() - before
		b.ReportMetric(float64(retained)/1024, "retained-KB")
		b.ReportMetric(float64(elapsed.Nanoseconds())/events, "ns/event")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = h.Shutdown(ctx)
		cancel()
		b.StartTimer()
	}
}

var heapMu sync.Mutex

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	heapMu.Lock()
	defer heapMu.Unlock()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
