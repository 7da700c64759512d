package serf

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

func TestPushBudget(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		name  string
		rate  int
		steps []time.Duration // offsets from start of each take
		want  int             // takes granted
	}{
		{"off", 0, []time.Duration{0, 0, 0}, 0},
		{"burst of one second's worth", 3, []time.Duration{0, 0, 0, 0, 0}, 3},
		{"refills with time", 2, []time.Duration{0, 0, 0, time.Second, time.Second, time.Second}, 4},
		{"refill capped at burst", 2, []time.Duration{0, 0, time.Hour, time.Hour, time.Hour}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b pushBudget
			got := 0
			for _, d := range tc.steps {
				if b.take(tc.rate, start.Add(d)) {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("granted %d, want %d", got, tc.want)
			}
		})
	}
}

// TestPushDeliversWithoutGossip turns gossip off, so whatever arrives was
// pushed: along the push tree every member is reached; an originator that
// pushes reaches members that do not push on (as Serf 0.10 members do
// not), but only those; and with no pusher nothing leaves the originator.
func TestPushDeliversWithoutGossip(t *testing.T) {
	const n = 12
	cases := []struct {
		name         string
		originFanout int
		otherFanout  int
		want         string // "all", "some" or "none"
	}{
		{"every member pushes", DefaultPushFanout, DefaultPushFanout, "all"},
		{"a chain", 1, 1, "all"},
		{"only the originator pushes", DefaultPushFanout, 0, "some"},
		{"nobody pushes", 0, 0, "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := fastCluster(t, n, fastOptions{noGossip: true, tweak: func(i int, c *Config) {
				c.PushFanout = tc.otherFanout
				if i == 0 {
					c.PushFanout = tc.originFanout
				}
			}})
			origin := nodes[0]
			if err := origin.s.UserEvent("deploy", []byte("v1"), false); err != nil {
				t.Fatal(err)
			}
			resp, err := origin.s.Query("ask", nil, &QueryParam{Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for r := range resp.ResponseCh() {
				got[r.From] = true
			}
			switch tc.want {
			case "none":
				// The query ran to its timeout: by then an event that
				// could travel would long have.
				for _, fn := range nodes[1:] {
					if c := fn.seen("deploy/v1"); c != 0 {
						t.Errorf("%s got the event %d times with no push and no gossip", fn.name(), c)
					}
				}
				if len(got) != 1 || !got[origin.name()] {
					t.Errorf("responses from %v, want only the originator's", got)
				}
				return
			case "some":
				// The root, the originator's children and one random
				// member at most; the originator's own answer besides.
				if len(got) < 2 || len(got) > DefaultPushFanout+3 {
					t.Errorf("responses from %d members (%v), want 2 to %d", len(got), got, DefaultPushFanout+3)
				}
				return
			}
			if len(got) != n {
				t.Errorf("responses from %d members (%v), want %d", len(got), got, n)
			}
			testutil.WaitFor(t, 10*time.Second, func() error {
				for _, fn := range nodes {
					if c := fn.seen("deploy/v1"); c != 1 {
						return fmt.Errorf("%s delivered the event %d times", fn.name(), c)
					}
				}
				return nil
			})
			if origin.counter("serf.push.sent") == 0 {
				t.Error("the originator counted no pushes")
			}
		})
	}
}

// TestPushHandlersRunOnce fires events from every member with pushes and
// gossip both on, and checks that each member delivers each exactly once
// once all retransmissions are over.
func TestPushHandlersRunOnce(t *testing.T) {
	const n, perNode = 6, 5
	nodes := fastCluster(t, n, fastOptions{})
	var keys []string
	for i, fn := range nodes {
		for j := 0; j < perNode; j++ {
			payload := strconv.Itoa(i*100 + j)
			if err := fn.s.UserEvent("ev", []byte(payload), false); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, "ev/"+payload)
		}
	}
	deliveredOnce(t, nodes, keys)
	pushed := 0
	for _, fn := range nodes {
		pushed += fn.counter("serf.push.sent")
	}
	if pushed == 0 {
		t.Error("no pushes were counted")
	}
}

// TestPushFallsBackToGossip: past the push budget, and for a message too
// big for one packet, nothing is pushed, and gossip still delivers what it
// can carry.
func TestPushFallsBackToGossip(t *testing.T) {
	const n = 4
	nodes := fastCluster(t, n, fastOptions{tweak: func(i int, c *Config) {
		c.PushRate = 2
		c.UserEventSizeLimit = UserEventSizeLimit
	}})
	origin := nodes[0]
	const burst = 10
	for j := 0; j < burst; j++ {
		if err := origin.s.UserEvent("burst", []byte(strconv.Itoa(j)), false); err != nil {
			t.Fatal(err)
		}
	}
	if th := origin.counter("serf.push.throttled"); th < burst-2-1 {
		t.Errorf("throttled %d of %d events at 2 per second, want at least %d", th, burst, burst-3)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		for _, fn := range nodes {
			for j := 0; j < burst; j++ {
				if c := fn.seen("burst/" + strconv.Itoa(j)); c != 1 {
					return fmt.Errorf("%s delivered burst/%d %d times", fn.name(), j, c)
				}
			}
		}
		return nil
	})

	sent := origin.counter("serf.push.sent")
	big := make([]byte, 2*origin.s.packetLimit())
	if err := origin.s.UserEvent("big", big, false); err != nil {
		t.Fatal(err)
	}
	if got := origin.counter("serf.push.too_large"); got != 1 {
		t.Errorf("too_large counted %d, want 1", got)
	}
	if got := origin.counter("serf.push.sent"); got != sent {
		t.Errorf("a message bigger than a packet was pushed (%d -> %d)", sent, got)
	}
}

// TestPushMixedCluster: half the members do not push (as Serf 0.10
// members do not), so branches of the push tree stop at them; gossip
// carries the event the rest of the way, and every member delivers each
// event exactly once, whether a pusher or not sent it.
func TestPushMixedCluster(t *testing.T) {
	const n = 10
	nodes := fastCluster(t, n, fastOptions{tweak: func(i int, c *Config) {
		if i%2 == 1 {
			c.PushFanout = 0
		}
	}})
	keys := []string{"mixed/from-pusher", "mixed/from-gossiper"}
	if err := nodes[0].s.UserEvent("mixed", []byte("from-pusher"), false); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].s.UserEvent("mixed", []byte("from-gossiper"), false); err != nil {
		t.Fatal(err)
	}
	deliveredOnce(t, nodes, keys)
	if nodes[1].counter("serf.push.sent") != 0 {
		t.Error("a member with pushes off pushed")
	}
}

// deliveredOnce waits until every node has delivered every event of keys
// and has nothing left to gossip, then checks each was delivered once.
func deliveredOnce(t *testing.T, nodes []*fastNode, keys []string) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, func() error {
		for _, fn := range nodes {
			for _, k := range keys {
				if fn.seen(k) == 0 {
					return fmt.Errorf("%s has not delivered %s", fn.name(), k)
				}
			}
			if q := fn.s.eventBroadcasts.NumQueued(); q > 0 {
				return fmt.Errorf("%s still has %d events to gossip", fn.name(), q)
			}
		}
		return nil
	})
	for _, fn := range nodes {
		for _, k := range keys {
			if c := fn.seen(k); c != 1 {
				t.Errorf("%s delivered %s %d times, want once", fn.name(), k, c)
			}
		}
	}
}
