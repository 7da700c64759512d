package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
)

// This file holds the machinery of the HTTP API tests: an API server on a
// test agent, a small client, and a reader of Server-Sent Events.

// httpTestTimeout bounds every request of the tests.
const httpTestTimeout = 20 * time.Second

// testHTTP is an HTTPServer of a test agent on a free loopback port.
type testHTTP struct {
	srv  *HTTPServer
	base string
}

// startTestHTTP serves the API of n until the test ends.
func startTestHTTP(t testing.TB, n *testNode, conf HTTPConfig) *testHTTP {
	t.Helper()
	if conf.LogWriter == nil {
		conf.LogWriter = n.logs
	}
	srv, err := NewHTTPServer(n.agent, conf)
	if err != nil {
		t.Fatalf("new http server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testHTTP{srv: srv, base: "http://" + ln.Addr().String()}
}

// httpReply is a finished request.
type httpReply struct {
	status int
	header http.Header
	body   []byte
}

// errorText is the "error" of a JSON error body, or "" if there is none.
func (r *httpReply) errorText() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error
}

func (r *httpReply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with an optional body and headers ("Name: value").
func (h *testHTTP) do(t testing.TB, method, path, body string, headers ...string) *httpReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), httpTestTimeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	for _, hv := range headers {
		name, value, _ := strings.Cut(hv, ": ")
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &httpReply{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect sends a request and fails unless the status is want.
func (h *testHTTP) expect(t testing.TB, want int, method, path, body string, headers ...string) *httpReply {
	t.Helper()
	r := h.do(t, method, path, body, headers...)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string // "" for the default event
	data string
}

// sseClient reads a stream in a goroutine that ends with the test.
type sseClient struct {
	events chan sseEvent
	status int
	cancel context.CancelFunc
}

// openSSE opens a stream and fails unless it answers 200.
func (h *testHTTP) openSSE(t testing.TB, path string, headers ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		cancel()
		t.Fatalf("request: %v", err)
	}
	for _, hv := range headers {
		name, value, _ := strings.Cut(hv, ": ")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	c := &sseClient{events: make(chan sseEvent, 1024), status: resp.StatusCode, cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					select {
					case c.events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

// next waits for the next event that match accepts.
func (c *sseClient) next(t testing.TB, timeout time.Duration, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-deadline.C:
			t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// userEvents collects the user events an agent receives.
type userEvents struct{ ch chan serf.UserEvent }

func newUserEvents() *userEvents { return &userEvents{ch: make(chan serf.UserEvent, 64)} }

func (u *userEvents) HandleEvent(e serf.Event) {
	if ue, ok := e.(serf.UserEvent); ok {
		select {
		case u.ch <- ue:
		default:
		}
	}
}

func (u *userEvents) wait(t testing.TB, name string) serf.UserEvent {
	t.Helper()
	deadline := time.NewTimer(httpTestTimeout)
	defer deadline.Stop()
	for {
		select {
		case ue := <-u.ch:
			if ue.Name == name {
				return ue
			}
		case <-deadline.C:
			t.Fatalf("user event %q never arrived", name)
		}
	}
}

// memberNames lists the names of a members reply, in its order.
func memberNames(t testing.TB, r *httpReply) string {
	t.Helper()
	var reply struct {
		Members []httpMember `json:"members"`
	}
	r.decode(t, &reply)
	names := make([]string, 0, len(reply.Members))
	for _, m := range reply.Members {
		names = append(names, m.Name)
	}
	return strings.Join(names, ",")
}

// jsonf formats a request body.
func jsonf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
