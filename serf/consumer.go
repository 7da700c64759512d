package serf

import (
	"log"
	"time"
)

const (
	// defaultEventDeliveryTimeout is how long the consumer stage waits
	// for the EventCh reader before dropping an event.
	defaultEventDeliveryTimeout = time.Second

	// eventDropLogInterval is the least time between two warnings about
	// dropped events, so a stalled reader cannot flood the log.
	eventDropLogInterval = 10 * time.Second

	// consumerStageInputSize is the depth of the channel in front of the
	// consumer stage.
	consumerStageInputSize = 256
)

// metricEventsDropped counts events the EventCh reader did not take in time.
var metricEventsDropped = []string{"serf", "events", "dropped"}

// consumerStage is the last stage of the event pipeline: it hands events
// to the program's EventCh. It is the only stage that waits on code Serf
// does not own, so it is the one that bounds the wait: an event the
// reader does not take within the timeout is dropped. Once one has been
// dropped the reader counts as stalled, and later events that find the
// channel full are dropped without waiting, until the reader takes one
// again. Every stage before it therefore keeps draining, and nothing that
// feeds the pipeline (memberlist's handlers, under Serf's member lock)
// waits on a slow reader.
type consumerStage struct {
	in         chan Event
	out        chan<- Event
	timeout    time.Duration
	shutdownCh <-chan struct{}
	logger     *log.Logger
	mx         metricsEmitter
	now        func() time.Time

	stalled    bool
	lastWarn   time.Time
	unreported int // drops since the last warning
	warnedOnce bool
}

func newConsumerStage(out chan<- Event, timeout time.Duration, shutdownCh <-chan struct{},
	logger *log.Logger, mx metricsEmitter) *consumerStage {
	return &consumerStage{
		in:         make(chan Event, consumerStageInputSize),
		out:        out,
		timeout:    timeout,
		shutdownCh: shutdownCh,
		logger:     logger,
		mx:         mx,
		now:        time.Now,
	}
}

// run delivers events until shutdown.
func (c *consumerStage) run() {
	for {
		select {
		case e := <-c.in:
			c.deliver(e)
		case <-c.shutdownCh:
			return
		}
	}
}

// deliver hands e to the reader, waiting at most the timeout unless the
// reader is already known to be stalled.
func (c *consumerStage) deliver(e Event) {
	select {
	case c.out <- e:
		c.stalled = false
		return
	default:
	}
	if !c.stalled && c.timeout > 0 {
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		select {
		case c.out <- e:
			return
		case <-t.C:
		case <-c.shutdownCh:
			return
		}
	}
	c.stalled = true
	c.drop(e)
}

// drop counts a lost event and warns, at most once per interval.
func (c *consumerStage) drop(e Event) {
	c.mx.incr(metricEventsDropped, 1)
	c.unreported++
	now := c.now()
	if c.warnedOnce && now.Sub(c.lastWarn) < eventDropLogInterval {
		return
	}
	c.logger.Printf("[WARN] serf: EventCh is not being read, dropped %d event(s), latest %s", c.unreported, e)
	c.warnedOnce = true
	c.lastWarn = now
	c.unreported = 0
}
