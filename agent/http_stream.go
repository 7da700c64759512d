package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/logutils"

	"github.com/serfclone/serf/serf"
)

// This file holds the live streams, as Server-Sent Events: the agent's
// events and its log. Each stream has a bounded queue filled by a
// non-blocking handler (the agent's event loop and the log writer never
// wait for a client); when the queue is full new items are dropped and
// counted, and the stream tells its client with a "dropped" event.

// sseStream writes Server-Sent Events to one client.
type sseStream struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	writeTimeout time.Duration
}

// startSSE sends the stream's headers. The server's read and write
// deadlines are lifted, since the stream lasts; each write gets its own
// deadline instead, so a client that stops reading is cut off rather
// than holding the stream forever.
func startSSE(w http.ResponseWriter, writeTimeout time.Duration) (*sseStream, error) {
	s := &sseStream{w: w, rc: http.NewResponseController(w), writeTimeout: writeTimeout}
	if err := s.rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, fmt.Errorf("lift read deadline: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := s.comment("connected"); err != nil {
		return nil, err
	}
	return s, nil
}

// send writes one event; an empty name is the default "message" event.
func (s *sseStream) send(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode stream event: %w", err)
	}
	var b strings.Builder
	if event != "" {
		b.WriteString("event: " + event + "\n")
	}
	// JSON from encoding/json holds no raw newline, so one data line.
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return s.write(b.String())
}

// comment writes an SSE comment, which clients ignore: a heartbeat.
func (s *sseStream) comment(text string) error {
	return s.write(": " + text + "\n\n")
}

func (s *sseStream) write(text string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := s.w.Write([]byte(text)); err != nil {
		return err
	}
	return s.rc.Flush()
}

// httpDropped is the "dropped" event: how many items the client missed
// since the last one.
type httpDropped struct {
	Dropped uint64 `json:"dropped"`
}

// dropCounter counts items dropped for a slow client.
type dropCounter struct{ n atomic.Uint64 }

// announce sends a "dropped" event if anything was dropped since the last.
func (d *dropCounter) announce(s *sseStream) error {
	if n := d.n.Swap(0); n > 0 {
		return s.send("dropped", httpDropped{Dropped: n})
	}
	return nil
}

// httpEventSub is one event stream's EventHandler.
type httpEventSub struct {
	filters []EventFilter
	ch      chan serf.Event
	dropped dropCounter
}

// HandleEvent implements EventHandler. It never blocks: a full queue
// drops the event and counts it. Serf's internal queries are not shown.
func (h *httpEventSub) HandleEvent(e serf.Event) {
	eventType, name := eventTypeAndName(e)
	if ue, ok := e.(*serf.UserEvent); ok {
		eventType, name = EventUser, ue.Name
	}
	if eventType == EventQuery && strings.HasPrefix(name, serf.InternalQueryPrefix) {
		return
	}
	matched := false
	for _, f := range h.filters {
		if f.Matches(eventType, name) {
			matched = true
			break
		}
	}
	if !matched {
		return
	}
	select {
	case h.ch <- e:
	default:
		h.dropped.n.Add(1)
	}
}

// httpEvent is one event of the stream. Member events carry Members;
// user events and queries carry Name, Payload and LTime.
type httpEvent struct {
	Type     string       `json:"type"`
	Members  []httpMember `json:"members,omitempty"`
	Name     string       `json:"name,omitempty"`
	Payload  string       `json:"payload,omitempty"`
	LTime    uint64       `json:"ltime,omitempty"`
	Coalesce *bool        `json:"coalesce,omitempty"`
}

// toHTTPEvent converts an event; ok is false for kinds it cannot show.
func toHTTPEvent(e serf.Event) (httpEvent, bool) {
	switch ev := e.(type) {
	case serf.MemberEvent:
		return httpEvent{Type: ev.Type.String(), Members: toHTTPMembers(ev.Members)}, true
	case *serf.MemberEvent:
		return httpEvent{Type: ev.Type.String(), Members: toHTTPMembers(ev.Members)}, true
	case serf.UserEvent:
		return userHTTPEvent(&ev), true
	case *serf.UserEvent:
		return userHTTPEvent(ev), true
	case *serf.Query:
		return httpEvent{Type: EventQuery, Name: ev.Name, Payload: string(ev.Payload), LTime: uint64(ev.LTime)}, true
	}
	return httpEvent{}, false
}

func userHTTPEvent(ev *serf.UserEvent) httpEvent {
	coalesce := ev.Coalesce
	return httpEvent{Type: EventUser, Name: ev.Name, Payload: string(ev.Payload), LTime: uint64(ev.LTime), Coalesce: &coalesce}
}

// streamEvents streams the agent's member, user and query events that
// pass ?type= (the event handler filter syntax, e.g.
// member-join,user:deploy; default every event).
func (s *HTTPServer) streamEvents(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, "type"); err != nil {
		return err
	}
	filters := ParseEventFilter(r.URL.Query().Get("type"))
	for _, f := range filters {
		if !f.Valid() {
			return badRequest("%s: %q (use member-join, member-leave, member-failed, member-update, "+
				"member-reap, user, user:NAME, query, query:NAME or *)", errInvalidFilter, f.String())
		}
	}
	sub := &httpEventSub{filters: filters, ch: make(chan serf.Event, s.conf.StreamBuffer)}
	// Subscribe before the headers go out, so a client that has seen
	// them misses no event.
	s.agent.RegisterEventHandler(sub)
	defer s.agent.DeregisterEventHandler(sub)
	sse, err := startSSE(w, s.conf.WriteTimeout)
	if err != nil {
		return nil
	}

	pump(r, s, sse, sub.ch, &sub.dropped, func(e serf.Event) (any, bool) {
		ev, ok := toHTTPEvent(e)
		return ev, ok
	})
	return nil
}

// httpLogSub is one log stream's LogHandler.
type httpLogSub struct {
	filter  *logutils.LevelFilter
	ch      chan string
	dropped dropCounter
}

// HandleLog implements LogHandler. It runs under the LogWriter's lock,
// so it never blocks and never logs.
func (h *httpLogSub) HandleLog(line string) {
	if !h.filter.Check([]byte(line)) {
		return
	}
	select {
	case h.ch <- line:
	default:
		h.dropped.n.Add(1)
	}
}

type httpLogLine struct {
	Line string `json:"line"`
}

// streamLogs is `serf monitor`: the buffered recent lines, then new ones,
// at ?level= and above (default INFO).
func (s *HTTPServer) streamLogs(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, "level"); err != nil {
		return err
	}
	level := logutils.LogLevel(strings.ToUpper(r.URL.Query().Get("level")))
	if level == "" {
		level = "INFO"
	}
	filter := NewLevelFilter(string(level), nil)
	if !ValidateLevelFilter(level, filter) {
		return badRequest("Unknown log level: %s (use trace, debug, info, warn or err)", level)
	}
	sub := &httpLogSub{filter: filter, ch: make(chan string, s.conf.StreamBuffer)}
	if lw := s.conf.LogWriter; lw != nil {
		lw.RegisterHandler(sub)
		defer lw.DeregisterHandler(sub)
	}
	sse, err := startSSE(w, s.conf.WriteTimeout)
	if err != nil {
		return nil
	}

	pump(r, s, sse, sub.ch, &sub.dropped, func(line string) (any, bool) {
		return httpLogLine{Line: line}, true
	})
	return nil
}

// pump sends the queued items of a stream as they come, announces drops
// and sends heartbeats, until the client goes away, the server or the
// agent stops, or a write fails. encode turns an item into its event
// (false: skip it).
func pump[T any](r *http.Request, s *HTTPServer, sse *sseStream, ch <-chan T, dropped *dropCounter, encode func(T) (any, bool)) {
	heartbeat := time.NewTicker(s.conf.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case item := <-ch:
			if v, ok := encode(item); ok {
				if err := sse.send("", v); err != nil {
					return
				}
			}
			// Drops happened after everything still queued: announce
			// them once the queue is drained.
			if len(ch) == 0 {
				if err := dropped.announce(sse); err != nil {
					return
				}
			}
		case <-heartbeat.C:
			if err := dropped.announce(sse); err != nil {
				return
			}
			if err := sse.comment("ping"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.stopCh:
			return
		case <-s.agent.ShutdownCh():
			return
		}
	}
}
