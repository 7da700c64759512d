package agent

import (
	"github.com/serfclone/serf/serf"
)

// scriptSet is the handler list in force when an event arrived. Events
// keep a pointer to it, so a reload affects only later events, and two
// waiting events may be merged only if they would run the same scripts.
type scriptSet struct {
	scripts []EventScript
}

// matches reports whether any script would run for e.
func (s *scriptSet) matches(e serf.Event) bool {
	eventType, name := eventTypeAndName(e)
	for _, sc := range s.scripts {
		if sc.Matches(eventType, name) {
			return true
		}
	}
	return false
}

// queuedEvent is an event waiting in a lane.
type queuedEvent struct {
	event   serf.Event
	scripts *scriptSet
}

// eventQueue is a FIFO of waiting events that never holds more than limit
// of them. Its ring grows on demand up to limit slots and no further, so
// a flood of events costs a fixed amount of memory.
type eventQueue struct {
	ring  []queuedEvent
	head  int // index of the oldest event
	n     int // events waiting
	limit int
}

func newEventQueue(limit int) *eventQueue {
	if limit < 1 {
		limit = 1
	}
	return &eventQueue{limit: limit}
}

// Len is the number of waiting events.
func (q *eventQueue) Len() int { return q.n }

// Full reports whether a push would fail.
func (q *eventQueue) Full() bool { return q.n >= q.limit }

// Push adds an event at the back unless the queue is full.
func (q *eventQueue) Push(it queuedEvent) bool {
	if q.Full() {
		return false
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = it
	q.n++
	return true
}

// grow doubles the ring, up to limit slots, keeping the order.
func (q *eventQueue) grow() {
	size := 2 * len(q.ring)
	if size < 8 {
		size = 8
	}
	if size > q.limit {
		size = q.limit
	}
	ring := make([]queuedEvent, size)
	for i := 0; i < q.n; i++ {
		ring[i] = *q.at(i)
	}
	q.ring, q.head = ring, 0
}

// Pop removes and returns the oldest event.
func (q *eventQueue) Pop() (queuedEvent, bool) {
	if q.n == 0 {
		return queuedEvent{}, false
	}
	it := q.ring[q.head]
	q.ring[q.head] = queuedEvent{} // let the event be collected
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	return it, true
}

// at returns the i-th waiting event, 0 being the oldest.
func (q *eventQueue) at(i int) *queuedEvent {
	return &q.ring[(q.head+i)%len(q.ring)]
}

// MergeMember folds a member event into the waiting ones when that loses
// nothing a handler would see, and reports whether it did. It is what the
// runner tries before dropping a member event from a full lane:
//
//   - When the newest waiting event has the same type and scripts, the
//     new members are added to it. Its scripts would have run next for
//     the new event anyway; now they run once and read every member's line.
//   - Otherwise, when every member of the new event is already waiting in
//     an event of the same type and scripts, and that is the newest
//     waiting event naming the member, the member's line there is replaced
//     by the newer one: the script would have run twice for the member,
//     the first time with data already out of date.
//
// A member of the new event that also appears in the merged-into event
// keeps one line, the newest. The events' member slices are never
// modified in place: the same event value also goes to RPC streams.
func (q *eventQueue) MergeMember(it queuedEvent) bool {
	me, ok := it.event.(serf.MemberEvent)
	if !ok || q.n == 0 {
		return false
	}
	if tail := q.at(q.n - 1); sameMemberKind(tail, it) {
		tail.event = withMembers(tail.event.(serf.MemberEvent), me.Members)
		return true
	}

	// Find, for each new member, the newest waiting event that names it.
	targets := make([]int, len(me.Members))
	for k, m := range me.Members {
		targets[k] = -1
		for i := q.n - 1; i >= 0 && targets[k] < 0; i-- {
			if w, ok := q.at(i).event.(serf.MemberEvent); ok && hasMember(w.Members, m.Name) {
				targets[k] = i
			}
		}
		if targets[k] < 0 || !sameMemberKind(q.at(targets[k]), it) {
			return false
		}
	}
	for k, m := range me.Members {
		w := q.at(targets[k])
		w.event = withMembers(w.event.(serf.MemberEvent), []serf.Member{m})
	}
	return true
}

// sameMemberKind reports whether w and it are member events of one type
// that would run the same scripts.
func sameMemberKind(w *queuedEvent, it queuedEvent) bool {
	a, ok1 := w.event.(serf.MemberEvent)
	b, ok2 := it.event.(serf.MemberEvent)
	return ok1 && ok2 && a.Type == b.Type && w.scripts == it.scripts
}

func hasMember(members []serf.Member, name string) bool {
	for _, m := range members {
		if m.Name == name {
			return true
		}
	}
	return false
}

// withMembers returns e with add merged into a fresh member slice: a
// member already listed is replaced in place, others are appended.
func withMembers(e serf.MemberEvent, add []serf.Member) serf.MemberEvent {
	members := make([]serf.Member, len(e.Members), len(e.Members)+len(add))
	copy(members, e.Members)
	for _, m := range add {
		replaced := false
		for i := range members {
			if members[i].Name == m.Name {
				members[i] = m
				replaced = true
				break
			}
		}
		if !replaced {
			members = append(members, m)
		}
	}
	e.Members = members
	return e
}
