package serf

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Pushing: a node that originates a user event or query, or admits one it
// had not seen, sends the encoded Serf message at once to a few random
// live members, besides queueing it for gossip. The packet is the same one
// gossip would carry (a memberlist user message whose body is the Serf
// message), so any Serf receiver, pushing or not, handles it exactly as a
// gossiped copy, and de-duplication makes extra copies harmless. A push
// therefore only shortens the time to reach everyone; gossip still does
// the work of making sure everyone is reached.

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
		s.push(raw, from)
	}
}

// push sends raw to up to PushFanout random live members other than this
// node and skip, unless pushing is off, the message does not fit a
// packet, or the push budget is spent; then the message only gossips.
func (s *Serf) push(raw []byte, skip string) {
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
	for _, a := range s.pushTargets(fanout, skip) {
		if err := s.memberlist.SendToAddress(a, raw); err != nil {
			s.logger.Printf("[DEBUG] serf: push to %s failed: %v", a.Name, err)
			continue
		}
		s.mx.incr([]string{"serf", "push", "sent"}, 1)
	}
}

// pushTargets picks up to k distinct live members, uniformly at random,
// leaving out this node and skip.
func (s *Serf) pushTargets(k int, skip string) []memberlist.Address {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	// Reservoir sampling: one pass, no copy of the member list.
	picked := make([]*memberState, 0, k)
	seen := 0
	for name, m := range s.members {
		if m.Status != StatusAlive || name == s.config.NodeName || name == skip {
			continue
		}
		seen++
		if len(picked) < k {
			picked = append(picked, m)
		} else if j := rand.IntN(seen); j < k {
			picked[j] = m
		}
	}
	out := make([]memberlist.Address, 0, len(picked))
	for _, m := range picked {
		addr := net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
		out = append(out, memberlist.Address{Addr: addr, Name: m.Name})
	}
	return out
}
