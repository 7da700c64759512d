package serf

import (
	"testing"
	"time"
)

// TestPruneAfterLeaveDelay covers a force-leave with prune of a member
// that is still leaving: the erase waits for the leave to finish, and a
// member that is alive again by then is kept.
func TestPruneAfterLeaveDelay(t *testing.T) {
	cases := []struct {
		name      string
		meanwhile func(s *Serf, nodeName string)
		wantKept  bool
	}{
		{"still-leaving", func(*Serf, string) {}, false},
		{"left", func(s *Serf, _ string) { s.handleNodeLeave(testNode(1)) }, false},
		{"rejoined", func(s *Serf, _ string) { s.handleNodeJoin(testNode(1)) }, true},
		{"left-then-rejoined", func(s *Serf, _ string) {
			s.handleNodeLeave(testNode(1))
			s.handleNodeJoin(testNode(1))
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := benchSerf(t)
			s.config.BroadcastTimeout = 20 * time.Millisecond
			s.config.LeavePropagateDelay = 20 * time.Millisecond
			n := testNode(1)
			s.handleNodeJoin(n)
			s.handleNodeLeaveIntent(&messageLeave{LTime: 10, Node: n.Name, Prune: true})
			if st := memberStatus(s, n.Name); st != StatusLeaving {
				t.Fatalf("status after prune intent = %s, want leaving", st)
			}
			tc.meanwhile(s, n.Name)
			// The delayed prune runs on a goroutine Serf owns; waiting
			// for Serf's goroutines waits for it.
			s.waitGoroutines()
			st := memberStatus(s, n.Name)
			if tc.wantKept && st != StatusAlive {
				t.Errorf("member status = %s, want it kept alive", st)
			}
			if !tc.wantKept && st != StatusNone {
				t.Errorf("member status = %s, want it erased", st)
			}
		})
	}
}

// memberStatus returns the status of the named member, StatusNone if
// there is no record of it.
func memberStatus(s *Serf, name string) MemberStatus {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	if ms, ok := s.members[name]; ok {
		return ms.Status
	}
	return StatusNone
}

// overrideFunc adapts a function to ReconnectTimeoutOverrider.
type overrideFunc func(m *Member, timeout time.Duration) time.Duration

func (f overrideFunc) ReconnectTimeout(m *Member, timeout time.Duration) time.Duration {
	return f(m, timeout)
}

// TestReapAsksOverrideOffTheLock gives the reaper an override that reads
// the member list, as a program may: it must not run under the member
// lock, and its answer decides who is reaped.
func TestReapAsksOverrideOffTheLock(t *testing.T) {
	s := benchSerf(t)
	s.config.ReconnectTimeout = time.Hour
	s.config.ReconnectTimeoutOverride = overrideFunc(func(m *Member, timeout time.Duration) time.Duration {
		_ = s.Members() // takes the member lock
		if m.Name == testNode(1).Name {
			return time.Minute
		}
		return timeout
	})
	for i := 1; i <= 2; i++ {
		s.handleNodeJoin(testNode(i))
		s.handleNodeLeave(testNode(i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.reapOnce(time.Now().Add(2 * time.Minute))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the reaper deadlocked calling the override")
	}
	if st := memberStatus(s, testNode(1).Name); st != StatusNone {
		t.Errorf("member with a 1m override is %s after 2m, want reaped", st)
	}
	if st := memberStatus(s, testNode(2).Name); st != StatusFailed {
		t.Errorf("member with the 1h default is %s after 2m, want failed", st)
	}
}
