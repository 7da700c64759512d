package client

import (
	"fmt"
	"sync"
)

// seqHandler consumes the replies the agent sends for one Seq. The reader
// goroutine calls handle for each header carrying that Seq; handle reads
// the body, if one follows, from fr. It returns finished when no more
// replies are expected, and an error only when the byte stream can no
// longer be trusted (a body failed to decode), which ends the connection.
//
// cleanup is called when the handler is removed for any other reason than
// finishing by itself: Stop, Close or a lost connection. graceful is true
// only on the reader goroutine, when the connection was lost: records
// already received are then still delivered. cleanup may run on any
// goroutine, concurrently with handle, and more than once.
type seqHandler interface {
	handle(hdr *ResponseHeader, fr *frameReader) (finished bool, err error)
	cleanup(err error, graceful bool)
}

// responseHandler waits for the single reply of an ordinary request.
type responseHandler struct {
	command string
	body    interface{} // nil when the reply is header only
	done    chan error  // buffered; receives exactly one result
	once    sync.Once
}

func newResponseHandler(command string, body interface{}) *responseHandler {
	return &responseHandler{command: command, body: body, done: make(chan error, 1)}
}

func (h *responseHandler) handle(hdr *ResponseHeader, fr *frameReader) (bool, error) {
	// The agent sends the body of these commands even with an error in the
	// header, except for the gate errors, which it answers before even
	// reading the request.
	if h.body != nil && !isGateError(hdr.Error) {
		if err := fr.body(h.body); err != nil {
			err = fmt.Errorf("decode %s response: %w", h.command, err)
			h.finish(err)
			return true, err
		}
	}
	h.finish(remoteError(h.command, hdr.Error))
	return true, nil
}

func (h *responseHandler) cleanup(err error, _ bool) { h.finish(err) }

func (h *responseHandler) finish(err error) {
	h.once.Do(func() { h.done <- err })
}

// wait blocks until the reply arrived or the connection ended.
func (h *responseHandler) wait() error { return <-h.done }

// streamQueueLimit is how many records a stream holds for a caller that
// is slower than the agent. Past it, records are dropped and counted, as
// the reference client drops log lines when the monitor channel is full:
// the reader goroutine serves every request of the connection, so it must
// never wait for one caller (a caller that sends another request from
// inside its stream loop would wait for a reply the reader cannot reach).
// The limit bounds memory; a burst this long is far beyond what a caller
// that keeps reading ever falls behind.
const streamQueueLimit = 4096

// delivery hands one record to a caller channel. It returns false if stop
// closed first.
type delivery func(stop <-chan struct{}) bool

// streamState is what the streaming handlers (monitor, event stream,
// query) share. The first header for their Seq answers the opening
// request; each later header precedes one record.
//
// Records go to the caller's channels from a pump goroutine of their own,
// in arrival order, through a bounded queue. So the reader goroutine never
// waits for a caller, and Stop, Close and other requests never depend on
// callers reading.
type streamState struct {
	command string
	opened  bool       // whether the opening reply arrived; reader goroutine only
	openCh  chan error // buffered; receives the opening reply's result once
	openMu  sync.Once

	queue    recordQueue
	stopCh   chan struct{} // closed to end at once, dropping what is queued
	stopOnce sync.Once

	resultOnce sync.Once
	result     error // how the stream ended; read by the pump after the queue or stopCh closed

	// closeChannels closes the caller's channels; the pump runs it once,
	// after its last send.
	closeChannels func(result error)
}

func newStreamState(command string) streamState {
	return streamState{
		command: command,
		openCh:  make(chan error, 1),
		queue:   newRecordQueue(streamQueueLimit),
		stopCh:  make(chan struct{}),
	}
}

func (s *streamState) state() *streamState { return s }

// open records the agent's answer to the opening request. It returns true
// when that answer is an error, which ends the stream.
func (s *streamState) open(hdr *ResponseHeader) bool {
	s.opened = true
	err := remoteError(s.command, hdr.Error)
	s.openMu.Do(func() { s.openCh <- err })
	if err != nil {
		s.abort(err)
	}
	return err != nil
}

// waitOpen blocks until the agent answered the opening request or the
// stream was torn down before that.
func (s *streamState) waitOpen() error { return <-s.openCh }

// push queues a record for the caller without ever waiting. Only the
// reader goroutine calls it.
func (s *streamState) push(d delivery) { s.queue.push(d) }

// finish ends the stream after the queued records are delivered. Only the
// reader goroutine calls it.
func (s *streamState) finish(result error) {
	s.setResult(result)
	s.openMu.Do(func() { s.openCh <- ErrStreamClosed })
	s.queue.close()
}

// abort ends the stream now, dropping queued records. Any goroutine may
// call it.
func (s *streamState) abort(result error) {
	s.setResult(result)
	s.openMu.Do(func() { s.openCh <- ErrStreamClosed })
	s.stopOnce.Do(func() { close(s.stopCh) })
}

func (s *streamState) setResult(err error) {
	s.resultOnce.Do(func() { s.result = err })
}

// pump delivers queued records until the stream ends, then closes the
// caller's channels. It is the only goroutine that sends on or closes
// them.
func (s *streamState) pump() {
	defer func() { s.closeChannels(s.result) }()
	for {
		d, ok := s.queue.next(s.stopCh)
		if !ok || !d(s.stopCh) {
			return
		}
	}
}

// streamHandler is a seqHandler backed by a streamState, which the client
// needs to reach to start and stop its pump.
type streamHandler interface {
	seqHandler
	state() *streamState
}

// send returns a delivery of v on ch.
func send[T any](ch chan<- T, v T) delivery {
	return func(stop <-chan struct{}) bool {
		select {
		case ch <- v:
			return true
		case <-stop:
			return false
		}
	}
}

// monitorHandler feeds log lines of a "monitor" request to the caller.
type monitorHandler struct {
	streamState
	ch chan<- string
}

func newMonitorHandler(ch chan<- string) *monitorHandler {
	h := &monitorHandler{streamState: newStreamState(MonitorCommand), ch: ch}
	h.closeChannels = func(error) { close(ch) }
	return h
}

func (h *monitorHandler) handle(hdr *ResponseHeader, fr *frameReader) (bool, error) {
	if !h.opened {
		return h.open(hdr), nil
	}
	var rec LogRecord
	if err := fr.body(&rec); err != nil {
		err = fmt.Errorf("decode monitor record: %w", err)
		h.finish(err)
		return true, err
	}
	h.push(send(h.ch, rec.Log))
	return false, nil
}

// eventStreamHandler feeds the records of a "stream" request to the
// caller, decoded generically: top-level keys are strings, nested maps are
// map[interface{}]interface{}, str becomes string and bin []byte.
type eventStreamHandler struct {
	streamState
	ch chan<- map[string]interface{}
}

func newEventStreamHandler(ch chan<- map[string]interface{}) *eventStreamHandler {
	h := &eventStreamHandler{streamState: newStreamState(StreamCommand), ch: ch}
	h.closeChannels = func(error) { close(ch) }
	return h
}

func (h *eventStreamHandler) handle(hdr *ResponseHeader, fr *frameReader) (bool, error) {
	if !h.opened {
		return h.open(hdr), nil
	}
	var rec map[string]interface{}
	if err := fr.body(&rec); err != nil {
		err = fmt.Errorf("decode stream record: %w", err)
		h.finish(err)
		return true, err
	}
	h.push(send(h.ch, rec))
	return false, nil
}

// queryHandler feeds the acks and responses of a "query" request to the
// caller until the agent's done record.
type queryHandler struct {
	streamState
	ackCh  chan<- string
	respCh chan<- NodeResponse
}

func newQueryHandler(p *QueryParam) *queryHandler {
	h := &queryHandler{streamState: newStreamState(QueryCommand), ackCh: p.AckCh, respCh: p.RespCh}
	doneCh := p.DoneCh
	h.closeChannels = func(result error) {
		if h.ackCh != nil {
			close(h.ackCh)
		}
		if h.respCh != nil {
			close(h.respCh)
		}
		if doneCh != nil {
			select {
			case doneCh <- result:
			default:
				// DoneCh is documented as needing room for one value; the
				// client never waits on it.
			}
		}
	}
	return h
}

func (h *queryHandler) handle(hdr *ResponseHeader, fr *frameReader) (bool, error) {
	if !h.opened {
		return h.open(hdr), nil
	}
	var rec QueryRecord
	if err := fr.body(&rec); err != nil {
		err = fmt.Errorf("decode query record: %w", err)
		h.finish(err)
		return true, err
	}
	switch rec.Type {
	case QueryRecordAck, QueryRecordResponse:
		// A record without a sender can precede "done" in rare timing
		// cases; like the reference client, treat it as the end.
		if rec.From == "" {
			h.finish(nil)
			return true, nil
		}
		if rec.Type == QueryRecordAck && h.ackCh != nil {
			h.push(send(h.ackCh, rec.From))
		}
		if rec.Type == QueryRecordResponse && h.respCh != nil {
			h.push(send(h.respCh, NodeResponse{From: rec.From, Payload: rec.Payload}))
		}
	case QueryRecordDone:
		h.finish(nil)
		return true, nil
	default:
		// Unknown record types are ignored, as the protocol asks, so a
		// newer agent does not break older clients.
	}
	return false, nil
}

// cleanup implements seqHandler for the streaming handlers.
func (s *streamState) cleanup(err error, graceful bool) {
	if graceful {
		s.finish(err)
	} else {
		s.abort(err)
	}
}
