package serf

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// abandonableJoins runs memberlist joins that Serf's own loops start (the
// reconnects to failed members and the rejoin from the snapshot) so that
// Shutdown does not wait for them. A join to a host that is gone can take
// memberlist's TCPTimeout for the dial and again for the push-pull; at
// shutdown the loop that asked for it stops waiting and drops the result.
//
// The goroutine running the join is still owned: it is counted here, it
// cannot outlive memberlist's deadlines on the dial and the connection,
// and wait (used by tests) blocks until every one has returned.
type abandonableJoins struct {
	wg sync.WaitGroup
}

// joinResult is what one memberlist Join returned.
type joinResult struct {
	n   int
	err error
}

// joinUnlessShutdown runs a memberlist Join to addrs and waits for it, or for shutdown.
// On shutdown it returns errShutdown at once; the join goes on until
// memberlist's timeouts end it and its result is discarded.
func (s *Serf) joinUnlessShutdown(addrs []string) (int, error) {
	done := make(chan joinResult, 1) // buffered: the sender never blocks
	s.joins.wg.Add(1)
	go func() {
		defer s.joins.wg.Done()
		n, err := s.memberlist.Join(addrs)
		done <- joinResult{n: n, err: err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-s.shutdownCh:
		return 0, errShutdown
	}
}

// wait blocks until every join started has returned.
func (j *abandonableJoins) wait() { j.wg.Wait() }

// DefaultJoinSyncDelay is Config.JoinSyncDelay's default. Measured with
// 64 agents starting at once on one machine: joins convergent in 2.1 s
// at a 2 s delay, 1.1 s at 1 s and 0.9 s at 500 ms (medians of 5). The
// exchange comes once the joins' own gossip is mostly out, and so repairs
// what it missed; sooner would race the joins themselves.
const DefaultJoinSyncDelay = 500 * time.Millisecond

// syncAfterJoin makes one more push-pull, Config.JoinSyncDelay after a
// Join, with a random alive member other than this node.
//
// Why: a Join learns the cluster from the members it contacted, as they
// are at that moment; members that join at about the same time learn of
// each other only through gossip. memberlist sends each alive message
// 4·⌈log10(N+1)⌉ times from each node, so a given member misses a given
// alive message with a chance of about e^-8 below 100 members. When 64
// agents start at once that is about one of their 4,000 member pairs, in
// measurement about every other start. The periodic push-pull repairs
// it, but at 64 members only after a minute. One exchange shortly after
// the join brings in whoever joined meanwhile.
//
// It is a plain memberlist join, as any Serf 0.10 node sends. It costs
// one full state exchange per Join: in a large cluster, where every
// member makes one every few minutes anyway, a restart storm of k members
// adds k of them. At most one is pending at a time, and Shutdown ends the
// wait.
func (s *Serf) syncAfterJoin() {
	delay := s.config.JoinSyncDelay
	if delay <= 0 || !s.joinSyncPending.CompareAndSwap(false, true) {
		return
	}
	started := s.goFunc(func() {
		defer s.joinSyncPending.Store(false)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.shutdownCh:
			return
		}
		addr, ok := s.randomPeerAddr()
		if !ok {
			return
		}
		if _, err := s.joinUnlessShutdown([]string{addr}); err != nil && !errors.Is(err, errShutdown) {
			s.logger.Printf("[DEBUG] serf: state exchange after join with %s failed: %v", addr, err)
		}
	})
	if !started {
		s.joinSyncPending.Store(false)
	}
}

// randomPeerAddr returns the "name/ip:port" join address of a random alive
// member other than this node.
func (s *Serf) randomPeerAddr() (string, bool) {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	var pick *memberState
	seen := 0
	for name, m := range s.members {
		if m.Status != StatusAlive || name == s.config.NodeName {
			continue
		}
		seen++
		if rand.IntN(seen) == 0 {
			pick = m
		}
	}
	if pick == nil {
		return "", false
	}
	return pick.Name + "/" + net.JoinHostPort(pick.Addr.String(), strconv.Itoa(int(pick.Port))), true
}
