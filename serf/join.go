package serf

import "sync"

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
