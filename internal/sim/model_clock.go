package sim

import (
	"container/heap"
	"time"
)

// The model runs on a virtual clock: a heap of timed events, taken one at
// a time in order of due time by a single goroutine. Nothing sleeps, so a
// minute of a 10,000-member cluster takes as long as its events take to
// process, and the same seed gives the same run.

// eventKind says what a scheduled event does.
type eventKind uint8

const (
	evGossip       eventKind = iota // a member's gossip tick
	evProbe                         // a member's probe tick (ping and ack, with piggybacked broadcasts)
	evPacket                        // a packet arrives
	evPushPull                      // a member's periodic push-pull
	evPushPullDone                  // a push-pull's exchange completes
	evReconnect                     // a member's reconnect tick after a partition
	evRestart                       // a member restarts and rejoins
	evFire                          // a member fires a user event
	evJoinSync                      // a rejoined member's state exchange after its join
)

// simEvent is one scheduled event. a and b are members (b is the peer of
// a packet or push-pull); msgs are the message ids a packet carries.
type simEvent struct {
	at   time.Duration
	seq  uint64
	kind eventKind
	a, b int32
	msgs []int32
}

// eventQueue is a min-heap on (at, seq): events due at the same instant
// run in the order they were scheduled, which keeps runs reproducible.
type eventQueue struct {
	items []simEvent
	seq   uint64
}

func (q *eventQueue) Len() int { return len(q.items) }
func (q *eventQueue) Less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}
func (q *eventQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *eventQueue) Push(x any)    { q.items = append(q.items, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	last := len(q.items) - 1
	x := q.items[last]
	q.items[last] = simEvent{}
	q.items = q.items[:last]
	return x
}

// schedule adds e, stamping it with the next sequence number.
func (q *eventQueue) schedule(e simEvent) {
	q.seq++
	e.seq = q.seq
	heap.Push(q, e)
}

// next removes and returns the earliest event; ok is false when none is left.
func (q *eventQueue) next() (e simEvent, ok bool) {
	if len(q.items) == 0 {
		return simEvent{}, false
	}
	return heap.Pop(q).(simEvent), true
}

// peek is the due time of the earliest event.
func (q *eventQueue) peek() (time.Duration, bool) {
	if len(q.items) == 0 {
		return 0, false
	}
	return q.items[0].at, true
}
