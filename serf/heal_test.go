package serf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// healJoinRecorder stands in for memberlist's Join in heal rounds.
type healJoinRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *healJoinRecorder) join(addrs []string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, addrs...)
	return 0, errors.New("unreachable")
}

func (r *healJoinRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// quietNode starts a node whose own heal loop is off, so the test drives
// rounds by hand.
func quietNode(t *testing.T, attempts int, joinAddrs ...string) (*Serf, *healer, *healJoinRecorder) {
	t.Helper()
	conf := testConfig(t)
	conf.HealInterval = 0
	conf.HealAttempts = attempts
	conf.HealJoinAddrs = joinAddrs
	s := startNode(t, conf)
	rec := &healJoinRecorder{}
	h := newHealer(s)
	h.join = rec.join
	clock := time.Unix(1000, 0)
	h.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	return s, h, rec
}

func TestHealRoundAttemptBound(t *testing.T) {
	cases := []struct {
		name     string
		attempts int
		lost     int
	}{
		{name: "50 lost peers, 3 per round", attempts: 3, lost: 50},
		{name: "50 lost peers, 1 per round", attempts: 1, lost: 50},
		{name: "fewer lost peers than attempts", attempts: 3, lost: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, h, rec := quietNode(t, tc.attempts)
			for i := 0; i < tc.lost; i++ {
				s.book.remember(fmt.Sprintf("lost-%02d", i), fmt.Sprintf("127.0.0.1:%d", 20000+i), time.Now())
			}
			seen := map[string]int{}
			rounds := (tc.lost + tc.attempts - 1) / tc.attempts
			for r := 0; r < rounds; r++ {
				n, ok := h.round()
				calls := rec.take()
				want := min(tc.attempts, tc.lost)
				if n != want || len(calls) != want || ok != 0 {
					t.Fatalf("round %d: %d attempts (%d joins, %d successes), want %d", r, n, len(calls), ok, want)
				}
				for _, c := range calls {
					seen[c]++
				}
			}
			// Least recently tried first: every peer once before any twice.
			if len(seen) != tc.lost {
				t.Errorf("%d distinct peers tried in %d rounds, want all %d", len(seen), rounds, tc.lost)
			}
			if !strings.HasPrefix(firstKey(seen), "lost-") || !strings.Contains(firstKey(seen), "/127.0.0.1:") {
				t.Errorf("join address %q is not name/ip:port", firstKey(seen))
			}
		})
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

// TestHealJoinAddrsOnlyWhenMissing: the configured join addresses are
// tried only while a known member is missing, and share the bound.
func TestHealJoinAddrsOnlyWhenMissing(t *testing.T) {
	s, h, rec := quietNode(t, 2, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
	if n, _ := h.round(); n != 0 {
		t.Fatalf("%d attempts with nobody missing, want 0: %v", n, rec.take())
	}
	s.book.remember("gone", "127.0.0.1:4", time.Now())
	all := map[string]bool{}
	for r := 0; r < 2; r++ {
		if n, _ := h.round(); n != 2 {
			t.Fatalf("round %d: %d attempts, want 2", r, n)
		}
		for _, c := range rec.take() {
			all[c] = true
		}
	}
	if len(all) != 4 {
		t.Errorf("tried %v in two rounds of 2, want the 3 join addresses and the lost peer", all)
	}
}

// TestHealRoundStopsAfterLeave: a node that left does not heal.
func TestHealRoundStopsAfterLeave(t *testing.T) {
	s, h, rec := quietNode(t, 3)
	s.book.remember("gone", "127.0.0.1:4", time.Now())
	if err := s.Leave(); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.round(); n != 0 {
		t.Errorf("%d attempts after leave, want 0: %v", n, rec.take())
	}
}

// healConfig is testConfig with a fast heal loop and fast reaping.
func healConfig(t *testing.T, name string, port int, snapshot string) *Config {
	conf := testConfig(t)
	conf.NodeName = name
	conf.MemberlistConfig.BindPort = port
	conf.MemberlistConfig.AdvertisePort = port
	conf.ReconnectTimeout = 500 * time.Millisecond
	conf.ReconnectInterval = time.Hour // only the heal loop may bring it back
	conf.HealInterval = 200 * time.Millisecond
	conf.SnapshotPath = snapshot
	// memberlist keeps gossiping to a dead node for this long, which
	// would bring a restarted one back without the heal loop.
	conf.MemberlistConfig.GossipToTheDeadTime = 100 * time.Millisecond
	return conf
}

func healLogs(s *Serf) string {
	if b, ok := s.config.LogOutput.(*testutil.SyncBuffer); ok {
		return b.String()
	}
	return ""
}

// TestHealAfterReap: a member that failed and was reaped comes back by
// the heal loop alone once it runs again at its old address.
func TestHealAfterReap(t *testing.T) {
	ports := freePorts(t, 2)
	a := startNode(t, healConfig(t, "heal-a", ports[0], ""))
	b := startNode(t, healConfig(t, "heal-b", ports[1], ""))
	join(t, a, b)
	waitMembers(t, 10*time.Second, 2, a, b)

	if err := b.Shutdown(); err != nil { // a crash: no leave
		t.Fatal(err)
	}
	waitStatus(t, 10*time.Second, "heal-b", StatusNone, a) // reaped
	if a.book.size() != 1 {
		t.Fatalf("address book of heal-a has %d entries, want 1", a.book.size())
	}
	if got := a.Stats()["address_book"]; got != "1" {
		t.Errorf("stats address_book = %q, want 1", got)
	}

	b2 := startNode(t, healConfig(t, "heal-b", ports[1], ""))
	waitMembers(t, 10*time.Second, 2, a, b2)
	if !strings.Contains(healLogs(a), "[INFO] serf: rejoined partition via 127.0.0.1:") {
		t.Errorf("no heal logged by heal-a")
	}
	if a.book.size() != 0 {
		t.Errorf("address book keeps %d entries after the heal, want 0", a.book.size())
	}
}

// TestHealRestartFromSnapshots: b stops first, so a's snapshot has b only
// as failed; then a stops. b restarts first and its rejoin of a finds no
// one; a restarts with no alive peer to rejoin. The heal loops, fed by the
// snapshots, bring them together with no join.
func TestHealRestartFromSnapshots(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 2)
	snapA, snapB := filepath.Join(dir, "a.snap"), filepath.Join(dir, "b.snap")
	a := startNode(t, healConfig(t, "snap-a", ports[0], snapA))
	b := startNode(t, healConfig(t, "snap-b", ports[1], snapB))
	join(t, a, b)
	waitMembers(t, 10*time.Second, 2, a, b)
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 10*time.Second, "snap-b", StatusFailed, a)
	testutil.WaitFor(t, 10*time.Second, func() error {
		if c, _ := os.ReadFile(snapA); !strings.Contains(string(c), "# lost: snap-b ") {
			return fmt.Errorf("snapshot of snap-a has no lost line yet:\n%s", c)
		}
		return nil
	})
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}

	b2 := startNode(t, healConfig(t, "snap-b", ports[1], snapB))
	testutil.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(healLogs(b2), "Failed to re-join any previously known node") {
			return errors.New("snap-b has not given up its startup rejoin yet")
		}
		return nil
	})
	a2 := startNode(t, healConfig(t, "snap-a", ports[0], snapA))
	for _, p := range a2.previousNodes {
		if p.Name != "snap-a" { // the rejoin skips this node itself
			t.Fatalf("snap-a would rejoin %v at start; the test needs no one", a2.previousNodes)
		}
	}
	waitMembers(t, 15*time.Second, 2, a2, b2)
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := testutil.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// TestHealForceLeaveOfReapedMember: force-leaving a member already reaped
// drops it from the book and from the snapshot, so it is not tried again,
// even after a restart.
func TestHealForceLeaveOfReapedMember(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 2)
	snapA := filepath.Join(dir, "a.snap")
	confA := healConfig(t, "fl-a", ports[0], snapA)
	confA.HealInterval = time.Hour
	a := startNode(t, confA)
	b := startNode(t, healConfig(t, "fl-b", ports[1], ""))
	join(t, a, b)
	waitMembers(t, 10*time.Second, 2, a, b)
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 10*time.Second, "fl-b", StatusNone, a)
	if len(a.AddressBook()) != 1 {
		t.Fatalf("book = %v, want fl-b", a.AddressBook())
	}
	if err := a.RemoveFailedNode("fl-b"); err != nil {
		t.Fatal(err)
	}
	if got := a.AddressBook(); len(got) != 0 {
		t.Errorf("book after force-leave = %v, want empty", got)
	}
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	a2 := startNode(t, healConfig(t, "fl-a", ports[0], snapA))
	if got := a2.AddressBook(); len(got) != 0 {
		c, _ := os.ReadFile(snapA)
		t.Errorf("book after restart = %v, want empty; snapshot:\n%s", got, c)
	}
}

// TestHealRoundCountsOnlyRealHeals: a join that answers but brings no
// missing member back is not a heal.
func TestHealRoundCountsOnlyRealHeals(t *testing.T) {
	s, h, _ := quietNode(t, 3, "127.0.0.1:1")
	s.book.remember("gone", "127.0.0.1:4", time.Now())
	h.join = func([]string) (int, error) { return 1, nil }
	if n, ok := h.round(); n != 2 || ok != 0 {
		t.Errorf("%d attempts, %d successes; want 2 and 0", n, ok)
	}
	if strings.Contains(healLogs(s), "rejoined partition") {
		t.Errorf("a heal was logged:\n%s", healLogs(s))
	}
}
