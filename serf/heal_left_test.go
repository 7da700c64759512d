package serf

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/testutil"
)

// TestHealBookForgetsLeaveLearnedLate: gossip is best-effort, so a node
// may miss a member's leave intent and see it fail. The leave still
// reaches it later, as a late intent or in a peer's push-pull state (its
// left members), before or after the node reaped the failed member; each
// way the member leaves the address book and the snapshot's lost set,
// so the heal loop never contacts it.
func TestHealBookForgetsLeaveLearnedLate(t *testing.T) {
	pushPull := func(s *Serf, name string) {
		s.mergeRemoteState(&messagePushPull{
			LTime:        s.clock.Time() + 10,
			StatusLTimes: map[string]LamportTime{name: s.clock.Time() + 5},
			LeftMembers:  []string{name},
		}, false)
	}
	cases := []struct {
		name  string
		reap  bool // the node reaps the failed member before it learns
		learn func(s *Serf, name string)
	}{
		{name: "late leave intent", learn: func(s *Serf, name string) {
			s.handleNodeLeaveIntent(&messageLeave{LTime: s.clock.Time() + 5, Node: name})
		}},
		{name: "late leave intent after the reap", reap: true, learn: func(s *Serf, name string) {
			s.handleNodeLeaveIntent(&messageLeave{LTime: s.clock.Time() + 5, Node: name})
		}},
		{name: "push-pull left members", learn: pushPull},
		{name: "push-pull left members after the reap", reap: true, learn: pushPull},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			network := &testutil.MemNetwork{}
			confA := memConfig(t, network)
			confA.HealInterval = 0 // the test reads the book itself
			confA.SnapshotPath = filepath.Join(t.TempDir(), "a.snap")
			if tc.reap {
				confA.ReconnectTimeout = 200 * time.Millisecond
			}
			a := startNode(t, confA)
			b := startNode(t, memConfig(t, network))
			join(t, a, b)
			waitMembers(t, 20*time.Second, 2, a, b)

			// b stops without a word: to a this is what a missed leave
			// intent looks like.
			if err := b.Shutdown(); err != nil {
				t.Fatal(err)
			}
			want := StatusFailed
			if tc.reap {
				want = StatusNone
			}
			bName := b.config.NodeName
			waitStatus(t, 20*time.Second, bName, want, a)
			testutil.WaitFor(t, 20*time.Second, func() error {
				if len(a.AddressBook()) != 1 || len(a.snapshotter.LostNodes()) != 1 {
					return fmt.Errorf("book %v, snapshot lost %v; want %s in both", a.AddressBook(), a.snapshotter.LostNodes(), bName)
				}
				return nil
			})

			tc.learn(a, bName)
			if !tc.reap {
				waitStatus(t, 20*time.Second, bName, StatusLeft, a)
			}
			if got := a.AddressBook(); len(got) != 0 {
				t.Errorf("book after the leave = %v, want empty", got)
			}
			// The snapshot hears of it through the event pipeline.
			testutil.WaitFor(t, 20*time.Second, func() error {
				if got := a.snapshotter.LostNodes(); len(got) != 0 {
					return fmt.Errorf("snapshot lost set after the leave = %v, want empty", got)
				}
				return nil
			})
		})
	}
}

// TestHealRoundWaitsForRefutedPeer: a lost peer that this node still
// holds as dead comes back only after the join, once it has refuted its
// death; the round waits for that and counts the heal.
func TestHealRoundWaitsForRefutedPeer(t *testing.T) {
	s, h, _ := quietNode(t, 1)
	s.book.remember("gone", "127.0.0.1:4", time.Now())
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	h.join = func([]string) (int, error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(300 * time.Millisecond) // the refutation's gossip
			s.handleNodeJoin(&memberlist.Node{Name: "gone", Addr: net.IPv4(127, 0, 0, 1), Port: 4})
		}()
		return 1, nil
	}
	if n, ok := h.round(); n != 1 || ok != 1 {
		t.Errorf("%d attempts, %d successes; want 1 and 1", n, ok)
	}
	if !strings.Contains(healLogs(s), "[INFO] serf: rejoined partition via 127.0.0.1:4") {
		t.Errorf("no heal logged:\n%s", healLogs(s))
	}
}
