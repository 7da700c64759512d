package serf

import (
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// TestBroadcastQueuesBoundedAtQueueTime checks that a burst of user events
// and queries never leaves more than the queue limit waiting, even before
// the periodic queue check runs (here it never does within the test).
func TestBroadcastQueuesBoundedAtQueueTime(t *testing.T) {
	conf := memConfig(t, &testutil.MemNetwork{})
	conf.MaxQueueDepth = 64
	conf.QueueCheckInterval = time.Hour
	s := startNode(t, conf)

	for i := 0; i < 1000; i++ {
		if err := s.UserEvent("burst", []byte("x"), false); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if n := s.eventBroadcasts.NumQueued(); n > 64 {
		t.Errorf("event queue holds %d messages, limit 64", n)
	}
	for i := 0; i < 200; i++ {
		if _, err := s.Query("burst", nil, &QueryParam{Timeout: 50 * time.Millisecond}); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if n := s.queryBroadcasts.NumQueued(); n > 64 {
		t.Errorf("query queue holds %d messages, limit 64", n)
	}
}
