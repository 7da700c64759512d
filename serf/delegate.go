package serf

import (
	"github.com/hashicorp/memberlist"
)

// delegate is Serf's memberlist.Delegate: node meta, Serf's own messages,
// broadcasts and push-pull state.
type delegate struct {
	serf *Serf
}

var _ memberlist.Delegate = (*delegate)(nil)

// NodeMeta returns the encoded tags. Their size was checked when they
// were set, so they always fit.
func (d *delegate) NodeMeta(limit int) []byte {
	s := d.serf
	s.tagsLock.RLock()
	meta, err := encodeTags(s.tags, s.config.ProtocolVersion)
	s.tagsLock.RUnlock()
	if err != nil || len(meta) > limit {
		s.logger.Printf("[ERR] serf: Node tags do not fit the meta limit of %d bytes", limit)
		return nil
	}
	return meta
}

// NotifyMsg handles one Serf message from gossip or a direct send.
func (d *delegate) NotifyMsg(buf []byte) {
	if len(buf) == 0 {
		return
	}
	s := d.serf
	s.mx.sample([]string{"serf", "msgs", "received"}, float32(len(buf)))

	rebroadcast := false
	pushFrom := "" // the sender push.go leaves out, when known
	var queue *memberlist.TransmitLimitedQueue
	t := messageType(buf[0])
	switch t {
	case messageLeaveType:
		var msg messageLeave
		if err := decodeMessage(buf[1:], &msg); err != nil {
			s.dropMalformed(t, err)
			return
		}
		s.logger.Printf("[DEBUG] serf: messageLeaveType: %s", msg.Node)
		rebroadcast, queue = s.handleNodeLeaveIntent(&msg), s.broadcasts

	case messageJoinType:
		var msg messageJoin
		if err := decodeMessage(buf[1:], &msg); err != nil {
			s.dropMalformed(t, err)
			return
		}
		s.logger.Printf("[DEBUG] serf: messageJoinType: %s", msg.Node)
		rebroadcast, queue = s.handleNodeJoinIntent(&msg), s.broadcasts

	case messageUserEventType:
		var msg messageUserEvent
		if err := decodeMessage(buf[1:], &msg); err != nil {
			s.dropMalformed(t, err)
			return
		}
		s.logger.Printf("[DEBUG] serf: messageUserEventType: %s", msg.Name)
		rebroadcast, queue = s.handleUserEvent(&msg), s.eventBroadcasts

	case messageQueryType:
		var msg messageQuery
		if err := decodeMessage(buf[1:], &msg); err != nil {
			s.dropMalformed(t, err)
			return
		}
		s.logger.Printf("[DEBUG] serf: messageQueryType: %s", msg.Name)
		pushFrom = msg.SourceNode
		rebroadcast, queue = s.handleQuery(&msg), s.queryBroadcasts

	case messageQueryResponseType:
		var msg messageQueryResponse
		if err := decodeMessage(buf[1:], &msg); err != nil {
			s.dropMalformed(t, err)
			return
		}
		s.handleQueryResponse(&msg)

	case messageRelayType:
		s.handleRelay(buf[1:])

	default:
		s.logger.Printf("[WARN] serf: Received message of unknown type: %d", buf[0])
		s.mx.incr(metricMalformed, 1)
	}

	if rebroadcast {
		// Re-gossip the bytes as received: a re-encoding could drop
		// fields this version does not know.
		raw := make([]byte, len(buf))
		copy(raw, buf)
		s.queueBounded(queue, &broadcast{msg: raw})
		s.pushAdmitted(t, raw, pushFrom)
	}
}

// dropMalformed logs and counts a message that failed to decode.
func (s *Serf) dropMalformed(t messageType, err error) {
	s.logger.Printf("[ERR] serf: Error decoding %s message: %v", t, err)
	s.mx.incr(metricMalformed, 1)
}

// GetBroadcasts drains the intent queue first, then queries, then events,
// each within what the previous ones left of the byte budget.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	s := d.serf
	msgs := s.broadcasts.GetBroadcasts(overhead, limit)

	used := 0
	for _, m := range msgs {
		used += len(m) + overhead
	}
	if q := s.queryBroadcasts.GetBroadcasts(overhead, limit-used); len(q) > 0 {
		for _, m := range q {
			used += len(m) + overhead
		}
		msgs = append(msgs, q...)
	}
	if e := s.eventBroadcasts.GetBroadcasts(overhead, limit-used); len(e) > 0 {
		msgs = append(msgs, e...)
	}
	for _, m := range msgs {
		s.mx.sample([]string{"serf", "msgs", "sent"}, float32(len(m)))
	}
	return msgs
}

// LocalState returns this node's push-pull state.
func (d *delegate) LocalState(join bool) []byte {
	s := d.serf
	pp := messagePushPull{
		LTime:      s.clock.Time(),
		EventLTime: s.eventClock.Time(),
		QueryLTime: s.queryClock.Time(),
	}

	s.memberLock.RLock()
	pp.StatusLTimes = make(map[string]LamportTime, len(s.members))
	pp.LeftMembers = make([]string, 0, len(s.leftMembers))
	for name, m := range s.members {
		pp.StatusLTimes[name] = m.statusLTime
	}
	for _, m := range s.leftMembers {
		pp.LeftMembers = append(pp.LeftMembers, m.Name)
	}
	s.memberLock.RUnlock()

	s.eventLock.Lock()
	pp.Events = s.eventBuffer.snapshot()
	s.eventLock.Unlock()

	buf, err := encodeMessage(messagePushPullType, &pp)
	if err != nil {
		s.logger.Printf("[ERR] serf: Failed to encode local state: %v", err)
		return nil
	}
	return buf
}

// MergeRemoteState merges a peer's push-pull state. Nothing learned here
// is re-gossiped.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	s := d.serf
	if len(buf) == 0 {
		s.logger.Printf("[ERR] serf: Remote state is zero bytes")
		return
	}
	if messageType(buf[0]) != messagePushPullType {
		s.logger.Printf("[ERR] serf: Remote state has bad type prefix: %v", buf[0])
		s.mx.incr(metricMalformed, 1)
		return
	}
	var pp messagePushPull
	if err := decodeMessage(buf[1:], &pp); err != nil {
		s.dropMalformed(messagePushPullType, err)
		return
	}
	s.mergeRemoteState(&pp, join)
}

// mergeRemoteState applies a decoded push-pull state, in Serf's order.
func (s *Serf) mergeRemoteState(pp *messagePushPull, join bool) {
	// The peer sends its next unused values, hence the -1.
	if pp.LTime > 0 {
		s.clock.Witness(pp.LTime - 1)
	}
	if pp.EventLTime > 0 {
		s.eventClock.Witness(pp.EventLTime - 1)
	}
	if pp.QueryLTime > 0 {
		s.queryClock.Witness(pp.QueryLTime - 1)
	}

	left := make(map[string]struct{}, len(pp.LeftMembers))
	for _, name := range pp.LeftMembers {
		left[name] = struct{}{}
		s.handleNodeLeaveIntent(&messageLeave{LTime: pp.StatusLTimes[name] + 1, Node: name})
	}
	for name, ltime := range pp.StatusLTimes {
		if _, ok := left[name]; ok {
			continue
		}
		s.handleNodeJoinIntent(&messageJoin{LTime: ltime, Node: name})
	}

	if join && s.eventJoinIgnore.Load() {
		s.eventLock.Lock()
		if pp.EventLTime > s.eventMinTime {
			s.eventMinTime = pp.EventLTime
		}
		s.eventLock.Unlock()
	}

	for _, slot := range pp.Events {
		if slot == nil {
			continue
		}
		for _, e := range slot.Events {
			s.handleUserEvent(&messageUserEvent{LTime: slot.LTime, Name: e.Name, Payload: e.Payload})
		}
	}
}

// eventDelegate turns memberlist's node notices into member events.
type eventDelegate struct {
	serf *Serf
}

var _ memberlist.EventDelegate = (*eventDelegate)(nil)

func (e *eventDelegate) NotifyJoin(n *memberlist.Node)   { e.serf.handleNodeJoin(n) }
func (e *eventDelegate) NotifyLeave(n *memberlist.Node)  { e.serf.handleNodeLeave(n) }
func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { e.serf.handleNodeUpdate(n) }

// conflictDelegate hears of two nodes claiming one name.
type conflictDelegate struct {
	serf *Serf
}

var _ memberlist.ConflictDelegate = (*conflictDelegate)(nil)

func (c *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	c.serf.handleNodeConflict(existing, other)
}
