package serf

import (
	"time"
)

// coalescerInputSize is the depth of the channel in front of each
// coalescing loop (Serf 0.10 uses 1024).
const coalescerInputSize = 1024

// coalescer merges the events of one window into fewer events. The
// coalescing loop owns it: the methods are never called concurrently.
type coalescer interface {
	// Handle reports whether the coalescer wants e. Events it does not
	// want pass straight through.
	Handle(e Event) bool

	// Coalesce adds a handled event to the current window.
	Coalesce(e Event)

	// Flush sends the merged events of the window to outCh and starts an
	// empty window.
	Flush(outCh chan<- Event)
}

// windowTimerFunc starts a one-shot timer of d and returns its channel and
// a function that stops it. It is time.NewTimer in production; tests pass a
// fake so they can close windows without waiting.
type windowTimerFunc func(d time.Duration) (<-chan time.Time, func() bool)

// realWindowTimer is the production windowTimerFunc.
func realWindowTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// coalescedEventCh puts a coalescer in front of outCh. It returns the
// channel to send events to (buffered, 1024 deep) and starts one goroutine
// that runs until shutdownCh is closed.
//
// Events c does not Handle are passed on at once. A window opens at the
// first handled event and is flushed when cPeriod has passed since it
// opened, or qPeriod since the last handled event, whichever comes first.
func coalescedEventCh(outCh chan<- Event, shutdownCh <-chan struct{},
	cPeriod, qPeriod time.Duration, c coalescer) chan<- Event {
	loop := startCoalesceLoop(outCh, shutdownCh, cPeriod, qPeriod, c, realWindowTimer)
	return loop.in
}

// coalesceLoop is the state of one coalescing goroutine.
type coalesceLoop struct {
	in         chan Event
	out        chan<- Event
	shutdownCh <-chan struct{}
	cPeriod    time.Duration
	qPeriod    time.Duration
	c          coalescer
	newTimer   windowTimerFunc

	// done is closed when the goroutine has returned.
	done chan struct{}
}

// startCoalesceLoop starts the goroutine behind coalescedEventCh with an
// injectable timer source.
func startCoalesceLoop(outCh chan<- Event, shutdownCh <-chan struct{},
	cPeriod, qPeriod time.Duration, c coalescer, newTimer windowTimerFunc) *coalesceLoop {
	l := &coalesceLoop{
		in:         make(chan Event, coalescerInputSize),
		out:        outCh,
		shutdownCh: shutdownCh,
		cPeriod:    cPeriod,
		qPeriod:    qPeriod,
		c:          c,
		newTimer:   newTimer,
		done:       make(chan struct{}),
	}
	go l.run()
	return l
}

func (l *coalesceLoop) run() {
	defer close(l.done)

	// A nil channel never fires, so no window means no timers.
	var periodCh, quietCh <-chan time.Time
	var stopPeriod, stopQuiet func() bool
	stopTimers := func() {
		if stopPeriod != nil {
			stopPeriod()
		}
		if stopQuiet != nil {
			stopQuiet()
		}
		periodCh, quietCh, stopPeriod, stopQuiet = nil, nil, nil, nil
	}
	defer stopTimers()

	for {
		select {
		case e := <-l.in:
			if !l.c.Handle(e) {
				if !l.send(e) {
					return
				}
				continue
			}
			if periodCh == nil {
				periodCh, stopPeriod = l.newTimer(l.cPeriod)
			}
			// Every handled event restarts the quiescence timer.
			if stopQuiet != nil {
				stopQuiet()
			}
			quietCh, stopQuiet = l.newTimer(l.qPeriod)
			l.c.Coalesce(e)

		case <-periodCh:
			stopTimers()
			if !l.flush() {
				return
			}

		case <-quietCh:
			stopTimers()
			if !l.flush() {
				return
			}

		case <-l.shutdownCh:
			// The window still open is dropped, as in Serf: whoever
			// reads outCh is shutting down too.
			return
		}
	}
}

// send passes e on, giving up if shutdown begins first. It reports
// whether the loop should keep running.
func (l *coalesceLoop) send(e Event) bool {
	select {
	case l.out <- e:
		return true
	case <-l.shutdownCh:
		return false
	}
}

// flush empties the coalescer into outCh. Flush itself sends with plain
// blocking sends, so it runs in a helper goroutine that feeds this one; if
// shutdown begins while the consumer is stalled, the rest of the window is
// discarded and the helper is drained so that it always ends. It reports
// whether the loop should keep running.
func (l *coalesceLoop) flush() bool {
	flushed := make(chan Event)
	go func() {
		defer close(flushed)
		l.c.Flush(flushed)
	}()
	running := true
	for e := range flushed {
		if running && !l.send(e) {
			running = false // keep draining so the helper returns
		}
	}
	return running
}
