package serf

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// shutdownWithin fails the test if Shutdown takes longer than limit.
func shutdownWithin(t *testing.T, s *Serf, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Shutdown()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("Shutdown still waiting after %v", limit)
	}
}

// TestShutdownDuringReconnect shuts down a node whose reconnect loop is
// joining a failed member that never answers.
func TestShutdownDuringReconnect(t *testing.T) {
	var s *Serf
	// Runs last, after the blackhole closed its connections, which ends
	// the abandoned join: no goroutine outlives the test.
	t.Cleanup(func() { s.joins.wait() })
	hole := testutil.NewBlackhole(t)
	conf := testConfig(t)
	conf.MemberlistConfig.TCPTimeout = 60 * time.Second
	conf.ReconnectInterval = 10 * time.Millisecond
	s = startNode(t, conf)

	s.memberLock.Lock()
	ms := &memberState{Member: Member{Name: "gone", Addr: hole.Addr().IP, Port: uint16(hole.Addr().Port), Status: StatusFailed}}
	ms.leaveTime = time.Now()
	s.setMember(ms)
	s.failedMembers = append(s.failedMembers, ms)
	s.memberLock.Unlock()

	hole.WaitAccepted(t, 20*time.Second)
	shutdownWithin(t, s, 5*time.Second)
}

// TestShutdownDuringSnapshotRejoin shuts down a node that is rejoining,
// from its snapshot, a member that never answers.
func TestShutdownDuringSnapshotRejoin(t *testing.T) {
	var s *Serf
	t.Cleanup(func() { s.joins.wait() })
	hole := testutil.NewBlackhole(t)
	path := filepath.Join(t.TempDir(), "snap")
	if err := os.WriteFile(path, []byte(formatSnapshotAliveLine("gone", hole.Addr().String())), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := testConfig(t)
	conf.MemberlistConfig.TCPTimeout = 60 * time.Second
	conf.SnapshotPath = path
	s = startNode(t, conf)

	hole.WaitAccepted(t, 20*time.Second)
	shutdownWithin(t, s, 5*time.Second)
}

// TestJoinSyncsStateAfterward: with gossip and the periodic push-pull off,
// a member learns of one that joined after it only through the state
// exchange its own Join schedules (syncAfterJoin).
func TestJoinSyncsStateAfterward(t *testing.T) {
	// A delay long enough that c has surely joined before b's exchange,
	// however slow the machine.
	const delay = 2 * time.Second
	nodes := fastCluster(t, 3, fastOptions{noGossip: true, noJoin: true,
		tweak: func(_ int, c *Config) { c.JoinSyncDelay = delay }})
	a, b, c := nodes[0], nodes[1], nodes[2]
	if _, err := b.s.Join([]string{a.addr()}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.s.Join([]string{a.addr()}, false); err != nil {
		t.Fatal(err)
	}
	// Nothing carries c to b yet: a learned of c after b's join, and
	// nothing gossips.
	if got := b.alive(); got != 2 {
		t.Fatalf("%s sees %d alive right after the joins, want 2", b.name(), got)
	}
	testutil.WaitFor(t, 3*delay, func() error {
		if got := b.alive(); got != 3 {
			return fmt.Errorf("%s sees %d alive, want 3", b.name(), got)
		}
		return nil
	})
}

// TestJoinSyncOff: with JoinSyncDelay zero a Join schedules no exchange,
// and the later joiner stays unknown to b (gossip and push-pull are off).
func TestJoinSyncOff(t *testing.T) {
	nodes := fastCluster(t, 3, fastOptions{noGossip: true, noJoin: true,
		tweak: func(_ int, c *Config) { c.JoinSyncDelay = 0 }})
	a, b, c := nodes[0], nodes[1], nodes[2]
	if _, err := b.s.Join([]string{a.addr()}, false); err != nil {
		t.Fatal(err)
	}
	if b.s.joinSyncPending.Load() {
		t.Fatal("an exchange is pending with JoinSyncDelay 0")
	}
	if _, err := c.s.Join([]string{a.addr()}, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * DefaultJoinSyncDelay)
	if got := b.alive(); got != 2 {
		t.Fatalf("%s sees %d alive, want 2: something exchanged state", b.name(), got)
	}
}
