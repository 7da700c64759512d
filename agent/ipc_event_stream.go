package agent

import (
	"errors"
	"log"
	"strings"
	"sync"

	"github.com/serfclone/serf/serf"
)

// ipcStreamBuffer is how many records a stream or monitor holds for a
// slow client before it drops new ones, as many as Serf holds.
const ipcStreamBuffer = 512

// ipcEventStream forwards the agent's events that pass its filters to one
// client, tagged with the Seq of the "stream" request. The agent's event
// loop only enqueues (never blocks); the stream's own goroutine writes.
type ipcEventStream struct {
	agent   *Agent
	logger  *log.Logger
	client  *rpcConn
	seq     uint64
	filters []EventFilter

	eventCh  chan serf.Event
	stopCh   chan struct{}
	stopOnce sync.Once
}

func newIPCEventStream(i *AgentIPC, c *rpcConn, seq uint64, filters []EventFilter) *ipcEventStream {
	return &ipcEventStream{
		agent:   i.agent,
		logger:  i.logger,
		client:  c,
		seq:     seq,
		filters: filters,
		eventCh: make(chan serf.Event, ipcStreamBuffer),
		stopCh:  make(chan struct{}),
	}
}

// HandleEvent implements EventHandler: it queues a matching event without
// blocking, and drops it with a warning when the client is behind.
func (s *ipcEventStream) HandleEvent(e serf.Event) {
	eventType, name := eventTypeAndName(e)
	if eventType == EventQuery && strings.HasPrefix(name, serf.InternalQueryPrefix) {
		return
	}
	if !s.matches(eventType, name) {
		return
	}
	select {
	case s.eventCh <- e:
	default:
		s.logger.Printf("[WARN] agent.ipc: Dropping event to %v", s.client)
	}
}

func (s *ipcEventStream) matches(eventType, name string) bool {
	for _, f := range s.filters {
		if f.Matches(eventType, name) {
			return true
		}
	}
	return false
}

// stop ends the sender. Safe to call more than once.
func (s *ipcEventStream) stop() {
	s.stopOnce.Do(func() { close(s.stopCh) })
}

// run writes queued events until the stream is stopped or the client goes
// away. A failed write ends the connection: a partly written record would
// leave the client unable to parse anything after it.
func (s *ipcEventStream) run() {
	defer s.client.wg.Done()
	defer s.agent.DeregisterEventHandler(s)
	for {
		select {
		case e := <-s.eventCh:
			if err := s.send(e); err != nil {
				if !s.client.closed() {
					s.logger.Printf("[ERR] agent.ipc: Failed to stream event to %v: %v", s.client, err)
					s.client.close()
				}
				return
			}
		case <-s.stopCh:
			return
		case <-s.client.done:
			return
		}
	}
}

// errUnknownEvent reports an event type the stream cannot encode.
var errUnknownEvent = errors.New("unknown event type")

func (s *ipcEventStream) send(e serf.Event) error {
	var body interface{}
	switch ev := e.(type) {
	case serf.MemberEvent:
		body = memberEventRecord(&ev)
	case *serf.MemberEvent:
		body = memberEventRecord(ev)
	case serf.UserEvent:
		body = userEventRecord(&ev)
	case *serf.UserEvent:
		body = userEventRecord(ev)
	case *serf.Query:
		body = &ipcQueryEventRecord{
			Event:   EventQuery,
			ID:      s.client.registerQuery(ev),
			LTime:   ev.LTime,
			Name:    ev.Name,
			Payload: ev.Payload,
		}
	default:
		// Not a wire error: skip it rather than end the stream.
		s.logger.Printf("[WARN] agent.ipc: Not streaming event %v to %v: %v (%T)", e, s.client, errUnknownEvent, e)
		return nil
	}
	return s.client.send(&ipcResponseHeader{Seq: s.seq}, body)
}

func memberEventRecord(ev *serf.MemberEvent) *ipcMemberEventRecord {
	return &ipcMemberEventRecord{Event: ev.Type.String(), Members: toIPCMembers(ev.Members)}
}

func userEventRecord(ev *serf.UserEvent) *ipcUserEventRecord {
	return &ipcUserEventRecord{
		Event:    EventUser,
		LTime:    ev.LTime,
		Name:     ev.Name,
		Payload:  ev.Payload,
		Coalesce: ev.Coalesce,
	}
}

func (i *AgentIPC) handleStream(c *rpcConn, seq uint64) error {
	var req ipcStreamRequest
	if err := c.decodeBody(streamCommand, &req); err != nil {
		return err
	}
	filters := ParseEventFilter(req.Type)
	for _, f := range filters {
		if !f.Valid() {
			return c.reply(seq, errors.New(errInvalidFilter), nil)
		}
	}
	c.mu.Lock()
	_, exists := c.eventStreams[seq]
	c.mu.Unlock()
	if exists {
		return c.reply(seq, errors.New(errStreamExists), nil)
	}

	// The success header goes first so no record can precede it.
	if err := c.reply(seq, nil, nil); err != nil {
		return err
	}
	s := newIPCEventStream(i, c, seq, filters)
	c.mu.Lock()
	c.eventStreams[seq] = s
	c.mu.Unlock()
	c.wg.Add(1)
	go s.run()
	i.agent.RegisterEventHandler(s)
	return nil
}

func (i *AgentIPC) handleStop(c *rpcConn, seq uint64) error {
	var req ipcStopRequest
	if err := c.decodeBody(stopCommand, &req); err != nil {
		return err
	}
	c.mu.Lock()
	stream := c.eventStreams[req.Stop]
	delete(c.eventStreams, req.Stop)
	monitor := c.logStream
	if monitor != nil && monitor.seq == req.Stop {
		c.logStream = nil
	} else {
		monitor = nil
	}
	c.mu.Unlock()

	if stream != nil {
		i.agent.DeregisterEventHandler(stream)
		stream.stop()
	}
	if monitor != nil {
		i.stopLogStream(monitor)
	}
	// Stopping something that is not running is not an error.
	return c.reply(seq, nil, nil)
}
