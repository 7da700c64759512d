package serf

import (
	"sync"
	"time"
)

// Pushing: a node that originates a user event or query, or admits one it
// had not seen, sends the encoded Serf message at once to a few live
// members, besides queueing it for gossip. The packet is the same one
// gossip would carry (a memberlist user message whose body is the Serf
// message), so any Serf receiver, pushing or not, handles it exactly as a
// gossiped copy, and de-duplication makes extra copies harmless. A push
// therefore only shortens the time to reach everyone; gossip still does
// the work of making sure everyone is reached.
//
// Whom to push to. Pushing to k random members from every node reaches
// all but about e^-k of the cluster (6 % for k = 3): in a cluster of 64,
// a few members each time are left to gossip, whose rounds come every
// 200 ms, and they set how long the event takes to reach everyone. So a
// node pushes along a tree instead, one tree per message that every node
// works out alike without a word exchanged (push_tree.go): the live
// members in a fixed order, a root picked by a hash of the message, and
// each member's children the next PushFanout positions of a k-ary heap
// laid from that root. Where the members agree on who is alive, the tree
// reaches every member once, in about log_k(N) hops. Each node
// also pushes to one random member, so a lost packet, a member whose view
// differs, or a Serf 0.10 member (which does not push on) costs at most
// a branch until gossip or another push gets there. The originator also
// pushes to the root, and to its own children, since it never admits its
// own message from the network.

// Defaults of the push knobs.
const (
	DefaultPushFanout = 3
	DefaultPushRate   = 100
)

// pushHeadroom is what memberlist may add to a pushed message on its way
// out: the user-message byte, encryption (version, nonce, tag, padding)
// and some slack for compression framing. The label header comes on top.
const pushHeadroom = 1 + 1 + 12 + 16 + 16 + 16

// pushBudget is a token bucket of messages pushed per second. Its zero
// value is ready to use; the rate comes from the config on each call.
type pushBudget struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take reports whether one more message may be pushed now, at rate
// messages per second with a burst of one second's worth.
func (b *pushBudget) take(rate int, now time.Time) bool {
	if rate <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	burst := float64(rate)
	if b.last.IsZero() {
		b.tokens = burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens += dt * float64(rate)
		if b.tokens > burst {
			b.tokens = burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// packetLimit is the largest Serf message that still fits one UDP packet
// once memberlist has framed it.
func (s *Serf) packetLimit() int {
	mc := s.config.MemberlistConfig
	return mc.UDPBufferSize - pushHeadroom - (2 + len(mc.Label))
}

// pushAdmitted pushes a message that NotifyMsg admitted as new and queued
// for re-gossip. Only user events and queries are pushed; from names the
// member it is known to come from (a query's source), or is empty.
func (s *Serf) pushAdmitted(t messageType, raw []byte, from string) {
	if t == messageUserEventType || t == messageQueryType {
		s.push(raw, from, false)
	}
}

// push sends raw to this node's children in raw's push tree and to one
// random other live member (and, from the originator, to the root too),
// leaving out skip, unless pushing is off, the message does not fit a
// packet, or the push budget is spent; then the message only gossips.
func (s *Serf) push(raw []byte, skip string, origin bool) {
	fanout := s.config.PushFanout
	if fanout <= 0 {
		return
	}
	if len(raw) > s.packetLimit() {
		s.mx.incr([]string{"serf", "push", "too_large"}, 1)
		return
	}
	if !s.pushes.take(s.config.PushRate, time.Now()) {
		s.mx.incr([]string{"serf", "push", "throttled"}, 1)
		return
	}
	ring := s.pushRing()
	for _, a := range ring.targets(pushKey(raw), fanout, origin, skip) {
		if err := s.memberlist.SendToAddress(a, raw); err != nil {
			s.logger.Printf("[DEBUG] serf: push to %s failed: %v", a.Name, err)
			continue
		}
		s.mx.incr([]string{"serf", "push", "sent"}, 1)
	}
}
