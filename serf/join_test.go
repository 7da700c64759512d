package serf

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// blackhole is a TCP listener on loopback that accepts connections and
// never answers on them, so a memberlist push-pull to it hangs until its
// deadline. accepted yields once per connection.
type blackhole struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, accepted: make(chan struct{}, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			select {
			case b.accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		b.mu.Lock()
		for _, c := range b.conns {
			_ = c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

func (b *blackhole) addr() *net.TCPAddr { return b.ln.Addr().(*net.TCPAddr) }

// waitAccepted waits for a first connection to the blackhole.
func (b *blackhole) waitAccepted(t *testing.T) {
	t.Helper()
	select {
	case <-b.accepted:
	case <-time.After(20 * time.Second):
		t.Fatal("no join reached the blackhole")
	}
}

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
	hole := newBlackhole(t)
	conf := testConfig(t)
	conf.MemberlistConfig.TCPTimeout = 60 * time.Second
	conf.ReconnectInterval = 10 * time.Millisecond
	s = startNode(t, conf)

	s.memberLock.Lock()
	ms := &memberState{Member: Member{Name: "gone", Addr: hole.addr().IP, Port: uint16(hole.addr().Port), Status: StatusFailed}}
	ms.leaveTime = time.Now()
	s.setMember(ms)
	s.failedMembers = append(s.failedMembers, ms)
	s.memberLock.Unlock()

	hole.waitAccepted(t)
	shutdownWithin(t, s, 5*time.Second)
}

// TestShutdownDuringSnapshotRejoin shuts down a node that is rejoining,
// from its snapshot, a member that never answers.
func TestShutdownDuringSnapshotRejoin(t *testing.T) {
	var s *Serf
	t.Cleanup(func() { s.joins.wait() })
	hole := newBlackhole(t)
	path := filepath.Join(t.TempDir(), "snap")
	if err := os.WriteFile(path, []byte(formatSnapshotAliveLine("gone", hole.addr().String())), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := testConfig(t)
	conf.MemberlistConfig.TCPTimeout = 60 * time.Second
	conf.SnapshotPath = path
	s = startNode(t, conf)

	hole.waitAccepted(t)
	shutdownWithin(t, s, 5*time.Second)
}
