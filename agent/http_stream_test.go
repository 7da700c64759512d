package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

// isUser matches the stream event of user event name.
func isUser(name string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		var e httpEvent
		return json.Unmarshal([]byte(ev.data), &e) == nil && e.Type == EventUser && e.Name == name
	}
}

func TestHTTPEventStreamFilters(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "es-a"})
	b := startTestNode(t, testAgentOptions{name: "es-b", pong: true})
	joinAll(t, a, b)
	h := startTestHTTP(t, a, HTTPConfig{})

	filtered := h.openSSE(t, "/v1/stream/events?type=user:deploy,member-join")
	everything := h.openSSE(t, "/v1/stream/events")
	queries := h.openSSE(t, "/v1/stream/events?type=query")

	// Only the named user event passes: "other" is sent first, so the
	// first user event the filtered stream shows must be "deploy".
	if err := b.agent.UserEvent("other", []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	if err := b.agent.UserEvent("deploy", []byte("v2"), false); err != nil {
		t.Fatal(err)
	}
	ev := filtered.next(t, httpTestTimeout, "a user event", func(ev sseEvent) bool {
		return strings.Contains(ev.data, `"type":"user"`)
	})
	var got httpEvent
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "deploy" || got.Payload != "v2" || got.LTime == 0 || got.Coalesce == nil || *got.Coalesce {
		t.Errorf("filtered stream's first user event: %s", ev.data)
	}
	// Both show, in either order: events pushed straight to a member may
	// be handled in the reverse of their sending order.
	for want := map[string]bool{"other": true, "deploy": true}; len(want) > 0; {
		ev := everything.next(t, httpTestTimeout, "user events other and deploy", func(ev sseEvent) bool {
			var e httpEvent
			return json.Unmarshal([]byte(ev.data), &e) == nil && e.Type == EventUser && want[e.Name]
		})
		var e httpEvent
		_ = json.Unmarshal([]byte(ev.data), &e)
		delete(want, e.Name)
	}

	// A member joining shows with its member record.
	c := startTestNode(t, testAgentOptions{name: "es-c", tags: map[string]string{"role": "db"}})
	joinAll(t, a, b, c)
	ev = filtered.next(t, httpTestTimeout, "member-join of es-c", func(ev sseEvent) bool {
		return strings.Contains(ev.data, `"member-join"`) && strings.Contains(ev.data, `"es-c"`)
	})
	if !strings.Contains(ev.data, `"role":"db"`) || !strings.Contains(ev.data, `"status":"alive"`) {
		t.Errorf("member-join event: %s", ev.data)
	}

	// Queries are shown, Serf's own internal ones are not.
	if _, err := a.agent.ListKeys(); err == nil {
		t.Log("list keys succeeded without encryption")
	}
	resp, err := b.agent.Query("hello", []byte("q"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	ev = queries.next(t, httpTestTimeout, "query event", func(sseEvent) bool { return true })
	if !strings.Contains(ev.data, `"name":"hello"`) || !strings.Contains(ev.data, `"type":"query"`) {
		t.Errorf("first query event is %s, want hello (internal queries hidden)", ev.data)
	}
}

// syncRecorder is a ResponseWriter that the test may read while a stream
// writes to it.
type syncRecorder struct {
	mu     sync.Mutex
	header http.Header
	buf    bytes.Buffer
}

func (r *syncRecorder) Header() http.Header { return r.header }
func (r *syncRecorder) WriteHeader(int)     {}
func (r *syncRecorder) Flush()              {}
func (r *syncRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}
func (r *syncRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func TestHTTPEventSubDropsAndAnnounces(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "drop-a"})
	srv, err := NewHTTPServer(n.agent, HTTPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sub := &httpEventSub{filters: ParseEventFilter("user"), ch: make(chan serf.Event, 2)}

	// A full queue never blocks the caller (the agent's event loop).
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			sub.HandleEvent(serf.UserEvent{Name: fmt.Sprintf("e%d", i), LTime: serf.LamportTime(i + 1)})
		}
		sub.HandleEvent(serf.MemberEvent{Type: serf.EventMemberJoin}) // filtered out, not dropped
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("HandleEvent blocked on a full queue")
	}
	if got := sub.dropped.n.Load(); got != 998 {
		t.Fatalf("dropped %d, want 998", got)
	}

	rec := &syncRecorder{header: http.Header{}}
	sse, err := startSSE(rec, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := httptestRequest(ctx)
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		pump(req, srv, sse, sub.ch, &sub.dropped, func(e serf.Event) (any, bool) { return toHTTPEvent(e) })
	}()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(rec.String(), "event: dropped\ndata: {\"dropped\":998}\n\n") {
			return fmt.Errorf("no drop announcement in %q", rec.String())
		}
		return nil
	})
	cancel()
	<-pumped
	out := rec.String()
	// The queued events come first, then the announcement of what was
	// dropped after them.
	i0, i1, id := strings.Index(out, `"name":"e0"`), strings.Index(out, `"name":"e1"`), strings.Index(out, "event: dropped")
	if i0 < 0 || i1 < i0 || id < i1 {
		t.Errorf("stream order wrong:\n%s", out)
	}
}

// httptestRequest is a GET whose context the test controls.
func httptestRequest(ctx context.Context) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/v1/stream/events", nil)
	return req
}

// TestHTTPSlowClientDoesNotSlowAgent floods the agent with events while a
// stream client reads nothing: every other handler still gets every
// event at once, and the stream later says how many it dropped.
func TestHTTPSlowClientDoesNotSlowAgent(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "slow-a"})
	h := startTestHTTP(t, n, HTTPConfig{StreamBuffer: 4})
	seen := newUserEvents()
	seen.ch = make(chan serf.UserEvent, 4096)
	n.agent.RegisterEventHandler(seen)

	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /v1/stream/events?type=user HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, httpTestTimeout, func() error {
		if handlerCount(n.agent) < 2 { // seen and the stream
			return fmt.Errorf("stream not registered yet")
		}
		return nil
	})

	// Big payloads fill the socket buffers quickly, so the stream's
	// writer blocks and its queue overflows.
	const events = 3000
	payload := bytes.Repeat([]byte("x"), 8<<10)
	start := time.Now()
	go func() {
		for i := range events {
			n.agent.eventCh <- serf.UserEvent{Name: "flood", LTime: serf.LamportTime(i + 1), Payload: payload}
		}
	}()
	for i := range events {
		select {
		case <-seen.ch:
		case <-time.After(httpTestTimeout):
			t.Fatalf("agent delivered only %d of %d events: a stuck client slowed it", i, events)
		}
	}
	t.Logf("agent delivered %d events in %v with a stalled stream client", events, time.Since(start))

	// Now read: the stream catches up and announces the drops.
	_ = conn.SetReadDeadline(time.Now().Add(httpTestTimeout))
	rd := bufio.NewReaderSize(conn, 64<<10)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before announcing drops: %v", err)
		}
		if line == "event: dropped\n" {
			data, _ := rd.ReadString('\n')
			if !strings.HasPrefix(data, `data: {"dropped":`) {
				t.Fatalf("drop announcement data %q", data)
			}
			return
		}
	}
}

func TestHTTPLogStream(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "log-a"})
	h := startTestHTTP(t, n, HTTPConfig{})

	debug := h.openSSE(t, "/v1/stream/logs?level=debug")
	warn := h.openSSE(t, "/v1/stream/logs?level=WARN")
	defaultLevel := h.openSSE(t, "/v1/stream/logs")

	// The ring is replayed first.
	debug.next(t, httpTestTimeout, "replayed start line", func(ev sseEvent) bool {
		return strings.Contains(ev.data, "Serf agent starting")
	})
	n.agent.Logger().Printf("[DEBUG] agent: marker-debug")
	n.agent.Logger().Printf("[INFO] agent: marker-info")
	n.agent.Logger().Printf("[WARN] agent: marker-warn")
	debug.next(t, httpTestTimeout, "debug marker", func(ev sseEvent) bool { return strings.Contains(ev.data, "marker-debug") })
	ev := warn.next(t, httpTestTimeout, "a marker", func(ev sseEvent) bool { return strings.Contains(ev.data, "marker-") })
	if !strings.Contains(ev.data, "marker-warn") {
		t.Errorf("warn stream shows %s", ev.data)
	}
	ev = defaultLevel.next(t, httpTestTimeout, "a marker", func(ev sseEvent) bool { return strings.Contains(ev.data, "marker-") })
	if !strings.Contains(ev.data, "marker-info") {
		t.Errorf("default (info) stream shows %s", ev.data)
	}
	var line httpLogLine
	if err := json.Unmarshal([]byte(ev.data), &line); err != nil || !strings.HasSuffix(line.Line, "[INFO] agent: marker-info") {
		t.Errorf("log event %s: %v", ev.data, err)
	}
}

// TestHTTPStreamsOutliveServerTimeouts: the read and write timeouts bound
// ordinary requests, not the streams.
func TestHTTPStreamsOutliveServerTimeouts(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "to-a", pong: true})
	h := startTestHTTP(t, a, HTTPConfig{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
		Heartbeat: 100 * time.Millisecond})
	stream := h.openSSE(t, "/v1/stream/events?type=user")

	// Let both timeouts pass several times over.
	time.Sleep(time.Second)
	if err := a.agent.UserEvent("late", nil, false); err != nil {
		t.Fatal(err)
	}
	stream.next(t, httpTestTimeout, "user event late", isUser("late"))

	// A query that runs past the write timeout still ends with its summary.
	r := h.expect(t, http.StatusOK, "POST", "/v1/query", `{"name":"slow","timeout":"1s"}`)
	recs := queryLines(t, r.body)
	if last := recs[len(recs)-1]; last.Type != "done" || *last.Responses != 1 {
		t.Errorf("query stream %s", r.body)
	}
}

func TestHTTPShutdownEndsStreams(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "sd-a"})
	srv, err := NewHTTPServer(n.agent, HTTPConfig{LogWriter: n.logs})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	h := &testHTTP{srv: srv, base: "http://" + ln.Addr().String()}
	events := h.openSSE(t, "/v1/stream/events")
	logs := h.openSSE(t, "/v1/stream/logs")
	before := handlerCount(n.agent)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with open streams", d)
	}
	if err := <-served; err != nil {
		t.Errorf("serve returned %v", err)
	}
	for _, s := range []*sseClient{events, logs} {
		for range s.events {
		}
	}
	if after := handlerCount(n.agent); after != before-1 {
		t.Errorf("event handlers %d -> %d, want the stream's removed", before, after)
	}
	if c := logHandlerCount(n.logs); c != 0 {
		t.Errorf("%d log handlers left", c)
	}
	// Shutdown twice is fine.
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

func TestHTTPAgentShutdownEndsStreams(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "asd-a"})
	h := startTestHTTP(t, n, HTTPConfig{})
	events := h.openSSE(t, "/v1/stream/events")
	if err := n.agent.Shutdown(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(httpTestTimeout)
	for {
		select {
		case _, ok := <-events.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("stream still open after the agent shut down")
		}
	}
}

// fakeAddrListener reports a non-loopback address for a loopback socket,
// to see the warning without listening on a public interface.
type fakeAddrListener struct {
	net.Listener
	addr net.Addr
}

func (f fakeAddrListener) Addr() net.Addr { return f.addr }

func TestHTTPWarnsWhenOpenWithoutToken(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "warn-a"})
	cases := []struct {
		name  string
		ip    string
		token string
		warn  bool
	}{
		{"public without token", "192.0.2.10", "", true},
		{"public with token", "192.0.2.10", "t", false},
		{"loopback without token", "127.0.0.1", "", false},
		{"ipv6 loopback", "::1", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf testutil.SyncBuffer
			srv, err := NewHTTPServer(n.agent, HTTPConfig{AuthToken: tc.token, Logger: log.New(&buf, "", 0)})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			fake := fakeAddrListener{Listener: ln, addr: &net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 8080}}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(fake) }()
			testutil.WaitFor(t, httpTestTimeout, func() error {
				if !strings.Contains(buf.String(), "Serving the HTTP API") {
					return fmt.Errorf("not serving yet")
				}
				return nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			<-served
			warned := strings.Contains(buf.String(), "[WARN] agent.http: The HTTP API on")
			if warned != tc.warn {
				t.Errorf("warned = %v, want %v; log:\n%s", warned, tc.warn, buf.String())
			}
		})
	}
}
