package serf

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// TestStalledEventReaderDoesNotBlockGossip gives Serf (with a snapshot) a
// reader that never reads, then feeds it many more member changes than
// every buffer of the pipeline holds. Handling them must not block, as
// memberlist calls these handlers from its packet handler; the events
// that could not be delivered are counted and logged.
func TestStalledEventReaderDoesNotBlockGossip(t *testing.T) {
	conf := testConfig(t)
	logs := &testutil.SyncBuffer{}
	conf.LogOutput = logs
	conf.SnapshotPath = filepath.Join(t.TempDir(), "snap")
	conf.EventCh = make(chan Event) // never read
	conf.EventDeliveryTimeout = 10 * time.Millisecond
	m, sink := testSnapshotMetrics(t)
	conf.Metrics = m
	s := startNode(t, conf)

	const n = 6000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			s.handleNodeJoin(testNode(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("member handling blocked on a reader that never reads")
	}

	testutil.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "[WARN] serf: EventCh is not being read") {
			return errNoDropWarning
		}
		return nil
	})
	var dropped float64
	for _, intv := range sink.Data() {
		if c, ok := intv.Counters["serf.events.dropped"]; ok {
			dropped += c.Sum
		}
	}
	if dropped == 0 {
		t.Errorf("no dropped events counted")
	}
	if warnings := strings.Count(logs.String(), "EventCh is not being read"); warnings > 2 {
		t.Errorf("%d drop warnings in one burst, want them rate-limited", warnings)
	}
}

var errNoDropWarning = errors.New("no drop warning logged yet")

// TestConsumerStageWaitsForSlowReader checks that a reader that is slow,
// not stalled, still gets every event.
func TestConsumerStageWaitsForSlowReader(t *testing.T) {
	out := make(chan Event)
	shutdown := make(chan struct{})
	c := newConsumerStage(out, 5*time.Second, shutdown, discardLogger(), metricsEmitter{sink: discardMetrics(t)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run()
	}()
	defer func() { close(shutdown); <-done }()
	for i := 0; i < 3; i++ {
		c.in <- UserEvent{LTime: LamportTime(i)}
	}
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond) // a slow reader
		select {
		case e := <-out:
			if e.(UserEvent).LTime != LamportTime(i) {
				t.Fatalf("event %d out of order: %v", i, e)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never delivered", i)
		}
	}
}
