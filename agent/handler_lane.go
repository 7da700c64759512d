package agent

import (
	"sync"
	"time"

	"github.com/serfclone/serf/serf"
)

// Lanes: member events, user events and queries each wait in a lane of
// their own, served by a goroutine of its own, so a slow query script
// cannot hold back a member-join script (or the other way round). Within
// a lane events run one at a time, in the order they arrived.
const (
	laneMember = "member"
	laneUser   = "user"
	laneQuery  = "query"
)

// laneNames lists the lanes in the order the runner creates them.
var laneNames = [...]string{laneMember, laneUser, laneQuery}

// laneOf names the lane an event waits in.
func laneOf(e serf.Event) string {
	switch e.(type) {
	case serf.UserEvent:
		return laneUser
	case *serf.Query:
		return laneQuery
	default:
		return laneMember
	}
}

// dropWarnInterval is the least time between two warnings about events
// dropped from one lane; drops in between are added up into the next.
const dropWarnInterval = 10 * time.Second

// lane is one bounded queue of waiting events and the state its goroutine
// needs.
type lane struct {
	name    string
	metrics handlerMetrics

	mu     sync.Mutex
	queue  *eventQueue
	closed bool
	// wake has room for one signal: "there may be something to do".
	wake chan struct{}

	drops *dropWarner
}

func newLane(name string, limit int, m handlerMetrics, warn func(lane string, limit, n int), warnEvery time.Duration) *lane {
	return &lane{
		name:    name,
		metrics: m,
		queue:   newEventQueue(limit),
		wake:    make(chan struct{}, 1),
		drops:   newDropWarner(warnEvery, func(n int) { warn(name, limit, n) }),
	}
}

// enqueue adds an event without ever blocking. In a full lane a member
// event may be merged into a waiting one; anything else is dropped,
// counted, and reported by a rate-limited warning.
func (l *lane) enqueue(it queuedEvent) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if l.queue.Push(it) {
		depth := l.queue.Len()
		l.mu.Unlock()
		l.metrics.gauge(metricQueueDepth, l.name, depth)
		select {
		case l.wake <- struct{}{}:
		default:
		}
		return
	}
	merged := l.queue.MergeMember(it)
	l.mu.Unlock()
	if merged {
		l.metrics.incr(metricMerged, l.name, 1)
		return
	}
	l.metrics.incr(metricDropped, l.name, 1)
	l.drops.add(1)
}

// next waits for the oldest event, or returns false once the lane is
// closed or stop is closed.
func (l *lane) next(stop <-chan struct{}) (queuedEvent, bool) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return queuedEvent{}, false
		}
		it, ok := l.queue.Pop()
		depth := l.queue.Len()
		l.mu.Unlock()
		if ok {
			l.metrics.gauge(metricQueueDepth, l.name, depth)
			return it, true
		}
		select {
		case <-l.wake:
		case <-stop:
			return queuedEvent{}, false
		}
	}
}

// close stops the lane taking events, flushes the pending drop warning
// and returns how many events were still waiting (they will not run).
func (l *lane) close() int {
	l.mu.Lock()
	l.closed = true
	n := l.queue.Len()
	for l.queue.Len() > 0 {
		l.queue.Pop()
	}
	l.mu.Unlock()
	l.metrics.gauge(metricQueueDepth, l.name, 0)
	l.drops.stop()
	return n
}

// dropWarner turns a stream of drops into few warnings: the first drop
// after a quiet spell is reported at once, later ones are added up and
// reported at most once per interval, and whatever is left when the lane
// closes is reported then.
type dropWarner struct {
	interval time.Duration
	report   func(n int)

	mu      sync.Mutex
	pending int
	timer   *time.Timer // set while a summary is due
	stopped bool
}

func newDropWarner(interval time.Duration, report func(n int)) *dropWarner {
	return &dropWarner{interval: interval, report: report}
}

func (w *dropWarner) add(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.pending += n
	if w.timer != nil {
		return
	}
	w.report(w.pending)
	w.pending = 0
	w.timer = time.AfterFunc(w.interval, w.summary)
}

// summary reports the drops added up since the last report; after a
// quiet interval it stops, and the next drop is reported at once.
func (w *dropWarner) summary() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if w.pending == 0 {
		w.timer = nil
		return
	}
	w.report(w.pending)
	w.pending = 0
	w.timer.Reset(w.interval)
}

// stop reports what is pending and ends the warnings.
func (w *dropWarner) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.pending > 0 {
		w.report(w.pending)
		w.pending = 0
	}
}

// queueLen returns how many events wait in the lane.
func (l *lane) queueLen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queue.Len()
}
