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

	// Flush returns the merged events of the window, in delivery order,
	// and starts an empty window. It never blocks: the loop does the
	// sending, so it can give up at shutdown.
	Flush() []Event
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

// coalesceLoop is one coalescing stage of the event pipeline: events go
// in on a buffered channel (1024 deep) and out to the next stage.
//
// Events c does not Handle are passed on at once. A window opens at the
// first handled event and is flushed when cPeriod has passed since it
// opened, or qPeriod since the last handled event, whichever comes first.
type coalesceLoop struct {
	in         chan Event
	out        chan<- Event
	shutdownCh <-chan struct{}
	cPeriod    time.Duration
	qPeriod    time.Duration
	c          coalescer
	newTimer   windowTimerFunc

	// done is closed when run has returned.
	done chan struct{}
}

// newCoalesceLoop builds a coalescing stage in front of outCh. The caller
// runs its run method on a goroutine it owns; run returns once shutdownCh
// is closed.
func newCoalesceLoop(outCh chan<- Event, shutdownCh <-chan struct{},
	cPeriod, qPeriod time.Duration, c coalescer, newTimer windowTimerFunc) *coalesceLoop {
	return &coalesceLoop{
		in:         make(chan Event, coalescerInputSize),
		out:        outCh,
		shutdownCh: shutdownCh,
		cPeriod:    cPeriod,
		qPeriod:    qPeriod,
		c:          c,
		newTimer:   newTimer,
		done:       make(chan struct{}),
	}
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

// flush sends the window's merged events on, giving up (and dropping the
// rest of the window) if shutdown begins first. It reports whether the
// loop should keep running.
func (l *coalesceLoop) flush() bool {
	for _, e := range l.c.Flush() {
		if !l.send(e) {
			return false
		}
	}
	return true
}
