package client

import (
	"log"
	"sync"
)

// recordQueue holds the records of one stream between the reader
// goroutine, which must never wait, and the stream's pump, which waits for
// the caller. It keeps at most limit records; a record that arrives when
// it is full is dropped and counted. The first drop of a run is logged at
// once, and the count of the run once the caller has caught up (the queue
// is empty again) or the stream ends, so a caller that stalls is told how
// much it missed in two lines, however long the stall.
type recordQueue struct {
	limit  int
	logger *log.Logger
	name   string // the stream's command, for the warnings

	mu       sync.Mutex
	items    []delivery    // guarded by mu
	closed   bool          // no more records; guarded by mu
	dropped  uint64        // records dropped in the current run; guarded by mu
	notEmpty chan struct{} // capacity 1: a record or the close is waiting
}

func newRecordQueue(limit int) recordQueue {
	return recordQueue{limit: limit, notEmpty: make(chan struct{}, 1)}
}

// setLogger names the stream and says where warnings about dropped
// records go; nil means the standard logger.
func (q *recordQueue) setLogger(name string, l *log.Logger) {
	if l == nil {
		l = log.Default()
	}
	q.mu.Lock()
	q.name, q.logger = name, l
	q.mu.Unlock()
}

// push adds d, or drops it when the queue is full. It never blocks.
func (q *recordQueue) push(d delivery) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if len(q.items) >= q.limit {
		q.dropped++
		first := q.dropped == 1
		q.mu.Unlock()
		if first {
			q.warnf("[WARN] client: %s stream: caller is %d records behind, dropping records until it catches up", q.name, q.limit)
		}
		return
	}
	q.items = append(q.items, d)
	q.mu.Unlock()
	q.signal()
}

// close marks the end of the records; next reports it once the queue is
// drained.
func (q *recordQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// next waits for the oldest record. It returns false when the queue is
// closed and drained, or when stop closes first.
func (q *recordQueue) next(stop <-chan struct{}) (delivery, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			d := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			caughtUp := len(q.items) == 0
			if caughtUp {
				q.items = nil // let the backing array of a burst go
			}
			q.mu.Unlock()
			if caughtUp {
				q.reportDropped()
			}
			return d, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			q.reportDropped()
			return nil, false
		}
		select {
		case <-q.notEmpty:
		case <-stop:
			return nil, false
		}
	}
}

// reportDropped logs how many records the run that just ended dropped, if
// any, and starts a new run.
func (q *recordQueue) reportDropped() {
	q.mu.Lock()
	n := q.dropped
	q.dropped = 0
	q.mu.Unlock()
	if n > 0 {
		q.warnf("[WARN] client: %s stream: dropped %d records the caller did not take in time", q.name, n)
	}
}

// signal wakes next without waiting; one pending wake-up is enough since
// next rechecks the queue each time.
func (q *recordQueue) signal() {
	select {
	case q.notEmpty <- struct{}{}:
	default:
	}
}

func (q *recordQueue) warnf(format string, args ...interface{}) {
	q.mu.Lock()
	l := q.logger
	q.mu.Unlock()
	if l == nil {
		l = log.Default()
	}
	l.Printf(format, args...)
}
