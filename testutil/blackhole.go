package testutil

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Blackhole is a TCP listener on 127.0.0.1 that accepts every connection
// and never writes a byte: a peer that is up but never answers, so a
// memberlist join or push-pull to it hangs until its own deadline.
type Blackhole struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
}

// NewBlackhole starts a blackhole; the test's cleanup closes it and every
// connection it accepted, and waits for its accept loop.
func NewBlackhole(t testing.TB) *Blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Blackhole{ln: ln, accepted: make(chan struct{}, 16)}
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
		defer b.mu.Unlock()
		for _, c := range b.conns {
			_ = c.Close()
		}
	})
	return b
}

// Addr is the listener's address.
func (b *Blackhole) Addr() *net.TCPAddr { return b.ln.Addr().(*net.TCPAddr) }

// WaitAccepted waits up to timeout for a connection to arrive.
func (b *Blackhole) WaitAccepted(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-b.accepted:
	case <-time.After(timeout):
		t.Fatalf("no connection reached the blackhole %s within %v", b.Addr(), timeout)
	}
}
