package serf

import (
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// This file is the member state machine: memberlist's join, leave and
// update callbacks, Serf's join and leave intents, reaping and reconnects.

// memberFromNode builds the public view of a memberlist node.
func (s *Serf) memberFromNode(n *memberlist.Node) Member {
	tags, err := decodeTags(n.Meta)
	if err != nil {
		s.logger.Printf("[ERR] serf: Failed to decode tags of %s: %v", n.Name, err)
		s.mx.incr(metricMalformed, 1)
	}
	return Member{
		Name:        n.Name,
		Addr:        append(net.IP(nil), n.Addr...),
		Port:        n.Port,
		Tags:        tags,
		Status:      StatusAlive,
		ProtocolMin: n.PMin,
		ProtocolMax: n.PMax,
		ProtocolCur: n.PCur,
		DelegateMin: n.DMin,
		DelegateMax: n.DMax,
		DelegateCur: n.DCur,
	}
}

// setMember stores a member record and keeps the lock-free count in step.
func (s *Serf) setMember(ms *memberState) {
	s.members[ms.Name] = ms
	s.numMembers.Store(int64(len(s.members)))
}

// handleNodeJoin runs when memberlist reports a node alive, new or back.
func (s *Serf) handleNodeJoin(n *memberlist.Node) {
	s.memberLock.Lock()
	defer s.memberLock.Unlock()

	fresh := s.memberFromNode(n)
	var oldStatus MemberStatus
	var oldLeaveTime time.Time
	ms, ok := s.members[n.Name]
	if !ok {
		oldStatus = StatusNone
		ms = &memberState{Member: fresh}
		// An intent may have arrived before memberlist told us of the node.
		if in, ok := s.recentIntents.get(n.Name); ok {
			ms.statusLTime = in.LTime
			if in.Type == messageLeaveType {
				ms.Status = StatusLeaving
			}
		}
		s.setMember(ms)
	} else {
		oldStatus = ms.Status
		oldLeaveTime = ms.leaveTime
		ltime := ms.statusLTime
		ms.Member = fresh
		ms.statusLTime = ltime
		ms.leaveTime = time.Time{}
		ms.Status = StatusAlive
	}

	if oldStatus == StatusFailed {
		if time.Since(oldLeaveTime) < s.config.FlapTimeout {
			s.mx.incr([]string{"serf", "member", "flap"}, 1)
		}
	}
	s.failedMembers = removeOldMember(s.failedMembers, n.Name)
	s.leftMembers = removeOldMember(s.leftMembers, n.Name)

	s.mx.incr([]string{"serf", "member", "join"}, 1)
	s.logger.Printf("[INFO] serf: EventMemberJoin: %s %s", n.Name, net.IP(n.Addr))
	s.emit(MemberEvent{Type: EventMemberJoin, Members: []Member{ms.clone()}})
}

// handleNodeLeave runs when memberlist reports a node dead or left. Serf
// tells the two apart by whether a leave intent came first.
func (s *Serf) handleNodeLeave(n *memberlist.Node) {
	s.memberLock.Lock()
	defer s.memberLock.Unlock()

	ms, ok := s.members[n.Name]
	if !ok {
		return
	}
	var event EventType
	switch ms.Status {
	case StatusLeaving:
		ms.Status = StatusLeft
		ms.leaveTime = time.Now()
		s.leftMembers = append(s.leftMembers, ms)
		event = EventMemberLeave
		s.mx.incr([]string{"serf", "member", "left"}, 1)
		s.logger.Printf("[INFO] serf: EventMemberLeave: %s %s", ms.Name, ms.Addr)
	case StatusAlive:
		ms.Status = StatusFailed
		ms.leaveTime = time.Now()
		s.failedMembers = append(s.failedMembers, ms)
		event = EventMemberFailed
		s.mx.incr([]string{"serf", "member", "failed"}, 1)
		s.logger.Printf("[INFO] serf: EventMemberFailed: %s %s", ms.Name, ms.Addr)
	default:
		s.logger.Printf("[WARN] serf: Bad state when leave: %d", ms.Status)
		return
	}

	// A failed node keeps its cached coordinate until it is reaped, as in
	// Serf, so rtt estimates survive a short outage.
	s.emit(MemberEvent{Type: event, Members: []Member{ms.clone()}})
}

// handleNodeUpdate runs when a node's meta (tags) or address changed.
func (s *Serf) handleNodeUpdate(n *memberlist.Node) {
	s.memberLock.Lock()
	defer s.memberLock.Unlock()

	ms, ok := s.members[n.Name]
	if !ok {
		return
	}
	fresh := s.memberFromNode(n)
	fresh.Status = ms.Status
	ms.Member = fresh

	s.mx.incr([]string{"serf", "member", "update"}, 1)
	s.logger.Printf("[INFO] serf: EventMemberUpdate: %s", n.Name)
	s.emit(MemberEvent{Type: EventMemberUpdate, Members: []Member{ms.clone()}})
}

// handleNodeLeaveIntent applies a leave intent and reports whether it
// should be re-gossiped.
func (s *Serf) handleNodeLeaveIntent(msg *messageLeave) bool {
	s.clock.Witness(msg.LTime)

	s.memberLock.Lock()
	defer s.memberLock.Unlock()

	ms, ok := s.members[msg.Node]
	if !ok {
		s.forgetLost(msg.Node) // a reaped member that left: heal.go
		return s.recentIntents.upsert(msg.Node, messageLeaveType, msg.LTime, time.Now())
	}
	if msg.LTime <= ms.statusLTime {
		return false
	}

	// A leave about ourselves while we are alive is stale news (we
	// restarted, or someone force-left us): refute it with a newer join.
	if msg.Node == s.config.NodeName && s.State() == SerfAlive {
		s.logger.Printf("[DEBUG] serf: Refuting an older leave intent")
		ltime := s.clock.Time()
		s.goFunc(func() { _ = s.broadcastJoin(ltime) })
		return false
	}

	ms.statusLTime = msg.LTime
	switch ms.Status {
	case StatusAlive:
		ms.Status = StatusLeaving
	case StatusFailed:
		ms.Status = StatusLeft
		s.failedMembers = removeOldMember(s.failedMembers, ms.Name)
		s.leftMembers = append(s.leftMembers, ms)
		s.logger.Printf("[INFO] serf: EventMemberLeave (forced): %s %s", ms.Name, ms.Addr)
		s.emit(MemberEvent{Type: EventMemberLeave, Members: []Member{ms.clone()}})
	}
	if msg.Prune {
		s.handlePrune(ms)
	}
	return true
}

// handlePrune erases a force-left member. A member still leaving gets the
// time to finish its leave first; unlike Serf 0.10 the wait happens off
// the member lock, so membership keeps moving meanwhile. When the wait is
// over only a member that is still leaving or left is erased: one that
// came back alive meanwhile is a live member again and is kept.
// Called with the member lock held.
func (s *Serf) handlePrune(ms *memberState) {
	if ms.Status == StatusLeaving {
		wait := s.config.BroadcastTimeout + s.config.LeavePropagateDelay
		s.logger.Printf("[INFO] serf: Waiting %v for %s to finish leaving before pruning", wait, ms.Name)
		s.goFunc(func() {
			select {
			case <-time.After(wait):
			case <-s.shutdownCh:
				return
			}
			s.memberLock.Lock()
			defer s.memberLock.Unlock()
			cur, ok := s.members[ms.Name]
			if !ok || cur != ms {
				return // erased, or replaced by a newer record
			}
			if ms.Status == StatusLeaving || ms.Status == StatusLeft {
				s.eraseNode(ms)
			}
		})
		return
	}
	s.eraseNode(ms)
}

// handleNodeJoinIntent applies a join intent and reports whether it should
// be re-gossiped. A join intent never revives a failed or left member.
func (s *Serf) handleNodeJoinIntent(msg *messageJoin) bool {
	s.clock.Witness(msg.LTime)

	s.memberLock.Lock()
	defer s.memberLock.Unlock()

	ms, ok := s.members[msg.Node]
	if !ok {
		return s.recentIntents.upsert(msg.Node, messageJoinType, msg.LTime, time.Now())
	}
	if msg.LTime <= ms.statusLTime {
		return false
	}
	ms.statusLTime = msg.LTime
	if ms.Status == StatusLeaving {
		ms.Status = StatusAlive
	}
	return true
}

// eraseNode forgets a member entirely and emits member-reap. Called with
// the member lock held.
func (s *Serf) eraseNode(ms *memberState) {
	s.failedMembers = removeOldMember(s.failedMembers, ms.Name)
	s.leftMembers = removeOldMember(s.leftMembers, ms.Name)
	s.dropMember(ms)
}

// dropMember deletes the member record and its coordinate state and
// emits member-reap; the caller has taken it off the failed and left
// lists. Called with the member lock held.
func (s *Serf) dropMember(ms *memberState) {
	delete(s.members, ms.Name)
	s.numMembers.Store(int64(len(s.members)))
	if s.coordClient != nil {
		s.coordClient.ForgetNode(ms.Name)
		s.coordCacheLock.Lock()
		delete(s.coordCache, ms.Name)
		s.coordCacheLock.Unlock()
	}
	s.logger.Printf("[INFO] serf: EventMemberReap: %s", ms.Name)
	s.emit(MemberEvent{Type: EventMemberReap, Members: []Member{ms.clone()}})
}

// removeOldMember drops the named member from a failed or left list.
func removeOldMember(old []*memberState, name string) []*memberState {
	for i, m := range old {
		if m.Name == name {
			n := len(old)
			old[i], old[n-1] = old[n-1], nil
			return old[:n-1]
		}
	}
	return old
}

// reapLoop expires failed members, tombstones and old intents.
func (s *Serf) reapLoop() {
	t := time.NewTicker(s.config.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.reapOnce(time.Now())
		case <-s.shutdownCh:
			return
		}
	}
}

// reapOnce runs one pass of the reaper at the given time.
func (s *Serf) reapOnce(now time.Time) {
	failedLimits, leftLimits := s.reapOverrides()
	s.memberLock.Lock()
	defer s.memberLock.Unlock()
	s.failedMembers = s.reap(s.failedMembers, now, s.config.ReconnectTimeout, failedLimits)
	s.leftMembers = s.reap(s.leftMembers, now, s.config.TombstoneTimeout, leftLimits)
	s.recentIntents.reap(now, s.config.RecentIntentTimeout)
}

// reapOverrides asks the program's ReconnectTimeoutOverride, if any, for
// the timeout of each failed and left member. It is the program's code,
// so it is called off the member lock, on copies of the members.
func (s *Serf) reapOverrides() (failed, left map[*memberState]time.Duration) {
	override := s.config.ReconnectTimeoutOverride
	if override == nil {
		return nil, nil
	}
	type candidate struct {
		ms  *memberState
		pub Member
	}
	s.memberLock.RLock()
	fc := make([]candidate, 0, len(s.failedMembers))
	for _, m := range s.failedMembers {
		fc = append(fc, candidate{m, m.clone()})
	}
	lc := make([]candidate, 0, len(s.leftMembers))
	for _, m := range s.leftMembers {
		lc = append(lc, candidate{m, m.clone()})
	}
	s.memberLock.RUnlock()

	failed = make(map[*memberState]time.Duration, len(fc))
	for _, c := range fc {
		failed[c.ms] = override.ReconnectTimeout(&c.pub, s.config.ReconnectTimeout)
	}
	left = make(map[*memberState]time.Duration, len(lc))
	for _, c := range lc {
		left[c.ms] = override.ReconnectTimeout(&c.pub, s.config.TombstoneTimeout)
	}
	return failed, left
}

// reap erases the members of list that have been gone longer than their
// timeout and returns the rest. With an override, limits holds each
// member's timeout; a member missing from it joined the list after the
// override was asked and waits for the next pass.
func (s *Serf) reap(list []*memberState, now time.Time, timeout time.Duration,
	limits map[*memberState]time.Duration) []*memberState {
	kept := list[:0]
	var expired []*memberState
	for _, m := range list {
		limit := timeout
		if limits != nil {
			l, ok := limits[m]
			if !ok {
				kept = append(kept, m)
				continue
			}
			limit = l
		}
		if now.Sub(m.leaveTime) <= limit {
			kept = append(kept, m)
			continue
		}
		expired = append(expired, m)
	}
	for i := len(kept); i < len(list); i++ {
		list[i] = nil
	}
	for _, m := range expired {
		s.dropMember(m)
	}
	return kept
}

// reconnectLoop tries a random failed member now and then, so that a
// partition heals without operator action.
func (s *Serf) reconnectLoop() {
	t := time.NewTicker(s.config.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.reconnectOnce()
		case <-s.shutdownCh:
			return
		}
	}
}

// reconnectOnce picks at most one failed member to try. The probability
// numFailed/numAlive spreads the attempts so the cluster as a whole tries
// each failed node about once per interval.
func (s *Serf) reconnectOnce() {
	s.memberLock.RLock()
	numFailed := len(s.failedMembers)
	if numFailed == 0 {
		s.memberLock.RUnlock()
		return
	}
	numAlive := float64(len(s.members) - numFailed - len(s.leftMembers))
	if numAlive == 0 {
		numAlive = 1
	}
	if rand.Float64() > float64(numFailed)/numAlive {
		s.memberLock.RUnlock()
		return
	}
	m := s.failedMembers[rand.IntN(numFailed)]
	addr := net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
	name := m.Name
	s.memberLock.RUnlock()

	s.logger.Printf("[INFO] serf: attempting reconnect to %v %s", name, addr)
	_, _ = s.joinUnlessShutdown([]string{name + "/" + addr})
}

// randPerm returns a random permutation of [0, n).
func randPerm(n int) []int { return rand.Perm(n) }
