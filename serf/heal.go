package serf

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// The heal loop lets a cluster come back together by itself after a
// partition that outlasted ReconnectTimeout (each side reaped the other,
// so the reconnect loop has no one left to try) and after every node was
// restarted at once (the snapshot's alive lines name only the peers that
// were alive when each node stopped). It tries, with plain memberlist
// joins as any Serf 0.10 node would send, the members of the address book
// that are not members now, and the configured join addresses while some
// known member is missing.
//
// The cost is bounded whatever the cluster's size: one round per
// interval, at most HealAttempts joins per round, run side by side, the
// least recently tried first (so 50 lost peers are all tried within 17
// rounds of 3). Each join ends within memberlist's TCP timeout, and the
// next round is only timed once the last one is over, so rounds never
// pile up when a whole side is down. Shutdown does not wait for a join
// (see joinUnlessShutdown).

// Defaults of the heal loop's settings.
const (
	DefaultHealInterval = 30 * time.Second
	DefaultHealAttempts = 3
	DefaultRejoinWindow = 72 * time.Hour
)

var (
	metricHealAttempt = []string{"serf", "heal", "attempt"}
	metricHealSuccess = []string{"serf", "heal", "success"}
)

// healTarget is one address a round may try.
type healTarget struct {
	name  string // book entry's member name; "" for a join address
	join  string // what memberlist's Join is given
	tried time.Time
}

// String names the target in log lines: "name (ip:port)" or the address.
func (t healTarget) String() string {
	if t.name == "" {
		return t.join
	}
	return t.name + " (" + t.join[len(t.name)+1:] + ")"
}

// addr is the address part of the target.
func (t healTarget) addr() string {
	if t.name == "" {
		return t.join
	}
	return t.join[len(t.name)+1:]
}

// healer is the loop's state; only the loop's goroutine uses it.
type healer struct {
	serf      *Serf
	join      func(addrs []string) (int, error)
	now       func() time.Time
	joinTried map[string]time.Time // join address -> last try
}

func newHealer(s *Serf) *healer {
	return &healer{serf: s, join: s.joinUnlessShutdown, now: time.Now, joinTried: make(map[string]time.Time)}
}

// startHeal starts the heal loop unless it is turned off.
func (s *Serf) startHeal() {
	if s.config.HealInterval <= 0 || s.config.HealAttempts <= 0 {
		return
	}
	s.goFunc(s.healLoop)
}

// healLoop runs a round every HealInterval plus a random part of up to
// one more interval, so that nodes that started together (after a power
// outage, say) do not all try at the same moment.
func (s *Serf) healLoop() {
	h := newHealer(s)
	interval := s.config.HealInterval
	for {
		t := time.NewTimer(interval + rand.N(interval))
		select {
		case <-t.C:
		case <-s.shutdownCh:
			t.Stop()
			return
		}
		h.round()
	}
}

// seedAddressBook fills the book from a freshly replayed snapshot: its
// lost members, and the members it last saw alive (which the rejoin tries
// once at start; if all of them were still down then, the heal loop keeps
// trying). It also bounds the snapshot's own lost set like the book.
func (s *Serf) seedAddressBook(snap *Snapshotter) {
	snap.SetLostLimits(s.config.AddressBookSize, s.config.RejoinWindow)
	for _, p := range snap.LostNodes() {
		s.book.remember(p.Name, p.Addr, p.LastSeen)
	}
	now := time.Now()
	for _, p := range s.previousNodes {
		s.book.remember(p.Name, p.Addr, now)
	}
}

// forgetLost drops a member that left but is no longer in the member
// table from the book, and from the snapshot's lost set. Called with the
// member lock held, like emit.
func (s *Serf) forgetLost(name string) {
	if s.book.forget(name) && s.snapshotter != nil {
		// The snapshot is the pipeline's first stage and keeps this
		// event to itself.
		s.emit(forgetLostEvent{name: name})
	}
}

// AddressBook returns the lost peers the heal loop may try, sorted by
// name.
func (s *Serf) AddressBook() []LostPeer { return s.book.peersList() }

// memberView is what a round needs to know of the member table.
type memberView struct {
	names  map[string]struct{}
	alive  int
	failed int
}

// hasMember reports whether name (non-empty) is in the member table.
func (v memberView) hasMember(name string) bool {
	_, ok := v.names[name]
	return name != "" && ok
}

func (s *Serf) memberView() memberView {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	v := memberView{names: make(map[string]struct{}, len(s.members)), failed: len(s.failedMembers)}
	for name, ms := range s.members {
		v.names[name] = struct{}{}
		if ms.Status == StatusAlive {
			v.alive++
		}
	}
	return v
}

// targets lists what a round may try: the book's peers that are not
// members, and the join addresses if someone known is missing (a peer in
// the book, or a failed member).
func (h *healer) targets(v memberView) []healTarget {
	cands := h.serf.book.candidates(v.hasMember)
	out := make([]healTarget, 0, len(cands)+len(h.serf.config.HealJoinAddrs))
	for _, c := range cands {
		out = append(out, healTarget{name: c.Name, join: c.Name + "/" + c.Addr, tried: c.lastTried})
	}
	if len(cands) > 0 || v.failed > 0 {
		for _, a := range h.serf.config.HealJoinAddrs {
			out = append(out, healTarget{join: a, tried: h.joinTried[a]})
		}
	}
	return out
}

// pickHealTargets returns at most n targets, the least recently tried
// first, ties in random order.
func pickHealTargets(targets []healTarget, n int) []healTarget {
	rand.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].tried.Before(targets[j].tried) })
	if len(targets) > n {
		targets = targets[:n]
	}
	return targets
}

// round makes one set of heal attempts and returns how many joins it
// started and how many healed something.
func (h *healer) round() (attempts, successes int) {
	s := h.serf
	if s.State() != SerfAlive {
		return 0, 0
	}
	before := s.memberView()
	picked := pickHealTargets(h.targets(before), s.config.HealAttempts)
	if len(picked) == 0 {
		return 0, 0
	}
	now := h.now()
	for _, p := range picked {
		if p.name != "" {
			s.book.markTried(p.name, now)
		} else {
			h.joinTried[p.join] = now
		}
	}

	results := make([]joinResult, len(picked))
	var wg sync.WaitGroup
	for i, p := range picked {
		s.logger.Printf("[DEBUG] serf: Heal: attempting join to %s", p)
		s.mx.incr(metricHealAttempt, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := h.join([]string{p.join})
			results[i] = joinResult{n: n, err: err}
		}()
	}
	wg.Wait()

	after := s.memberView()
	for i, p := range picked {
		r := results[i]
		switch {
		case r.err == errShutdown:
			continue
		case r.err != nil || r.n == 0:
			s.logger.Printf("[DEBUG] serf: Heal: join to %s failed: %v", p, r.err)
			continue
		case !after.hasMember(p.name) && after.alive <= before.alive:
			// The address answered but brought no one back: a join
			// address on this side of the partition, or a lost peer's
			// address now used by a member under another name.
			s.logger.Printf("[DEBUG] serf: Heal: join to %s reached no missing member", p)
			continue
		}
		successes++
		s.mx.incr(metricHealSuccess, 1)
		s.logger.Printf("[INFO] serf: rejoined partition via %s", p.addr())
	}
	return len(picked), successes
}
