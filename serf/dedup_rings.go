package serf

import (
	"bytes"
	"sync"
)

// eventRing remembers the user events seen recently, one slot per LTime
// modulo its size, so an event is delivered once however often it is
// gossiped. Its slots are also what push-pull sends. Not safe for
// concurrent use; Serf guards it with the event lock.
type eventRing struct {
	slots []*userEvents
}

func newEventRing(size int) *eventRing {
	if size < 1 {
		size = 1
	}
	return &eventRing{slots: make([]*userEvents, size)}
}

// add records an event and reports whether it is new. An event with the
// same LTime, name and payload is a duplicate; a slot holding another
// LTime is replaced, forgetting its older events.
func (r *eventRing) add(ltime LamportTime, name string, payload []byte) bool {
	idx := ltime % LamportTime(len(r.slots))
	seen := r.slots[idx]
	if seen != nil && seen.LTime == ltime {
		for _, prev := range seen.Events {
			if prev.Name == name && bytes.Equal(prev.Payload, payload) {
				return false
			}
		}
	} else {
		seen = &userEvents{LTime: ltime}
		r.slots[idx] = seen
	}
	seen.Events = append(seen.Events, userEvent{Name: name, Payload: payload})
	return true
}

// snapshot returns a copy of the ring for push-pull: every slot in order,
// nil for empty ones, each non-nil slot copied so the caller can encode it
// without holding the lock.
func (r *eventRing) snapshot() []*userEvents {
	out := make([]*userEvents, len(r.slots))
	for i, slot := range r.slots {
		if slot == nil {
			continue
		}
		out[i] = &userEvents{LTime: slot.LTime, Events: append([]userEvent(nil), slot.Events...)}
	}
	return out
}

// queryIDs are the query IDs seen at one LTime: one slot of a queryRing.
type queryIDs struct {
	LTime LamportTime
	IDs   []uint32
}

// queryRing remembers recent queries by (LTime, ID). Not safe for
// concurrent use; Serf guards it with the query lock.
type queryRing struct {
	slots []*queryIDs
}

func newQueryRing(size int) *queryRing {
	if size < 1 {
		size = 1
	}
	return &queryRing{slots: make([]*queryIDs, size)}
}

// add records a query and reports whether it is new.
func (r *queryRing) add(ltime LamportTime, id uint32) bool {
	idx := ltime % LamportTime(len(r.slots))
	seen := r.slots[idx]
	if seen != nil && seen.LTime == ltime {
		for _, prev := range seen.IDs {
			if prev == id {
				return false
			}
		}
	} else {
		seen = &queryIDs{LTime: ltime}
		r.slots[idx] = seen
	}
	seen.IDs = append(seen.IDs, id)
	return true
}

// size returns the number of slots.
func (r *eventRing) size() int { return len(r.slots) }

// size returns the number of slots.
func (r *queryRing) size() int { return len(r.slots) }

// tooOld reports whether ltime has fallen out of a ring of the given size
// behind clock.
func tooOld(clock, ltime LamportTime, size int) bool {
	return clock > LamportTime(size) && ltime < clock-LamportTime(size)
}

// admission is what the de-duplication rule made of a message.
type admission int

const (
	admitNew       admission = iota // first sighting: deliver and re-gossip
	admitDuplicate                  // already in the ring
	admitBeforeMin                  // older than the floor (snapshot, join ignoring old events)
	admitTooOld                     // fallen out of the ring: it cannot tell
)

// admitOnce is the de-duplication rule user events and queries share, for
// a message stamped ltime: witness ltime on the kind's clock; under lock
// (which guards minTime and the ring), refuse a message from before
// minTime, refuse one that has fallen out of the ring behind the clock,
// else record it with record, which reports whether it was new. It also
// returns the clock it compared against, for the caller's log line.
func admitOnce(clock *LamportClock, lock sync.Locker, minTime *LamportTime, ringSize int,
	ltime LamportTime, record func() bool) (admission, LamportTime) {
	clock.Witness(ltime)
	lock.Lock()
	defer lock.Unlock()
	if ltime < *minTime {
		return admitBeforeMin, 0
	}
	if cur := clock.Time(); tooOld(cur, ltime, ringSize) {
		return admitTooOld, cur
	}
	if !record() {
		return admitDuplicate, 0
	}
	return admitNew, 0
}
