package client

import (
	"bytes"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a logger and a test can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A program that calls another request from inside its stream loop while
// the agent sends a burst larger than the stream's buffer must not
// deadlock: the reader goroutine has to get past the burst to read the
// reply the program waits for.
func TestRequestInsideStreamLoopDuringBurst(t *testing.T) {
	burst := streamQueueLimit + 200
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var mr MonitorRequest
		h := a.request(&mr)
		a.reply(h.Seq, "", nil)
		for i := 0; i < burst; i++ {
			a.reply(h.Seq, "", &LogRecord{Log: fmt.Sprintf("line %d", i)})
		}
		mh := a.request(nil)
		a.reply(mh.Seq, "", &MembersResponse{Members: []Member{{Name: "m1"}}})
		a.waitClosed()
	})
	var logs lockedBuffer
	conf := DefaultConfig()
	conf.Addr = addr
	conf.Logger = log.New(&logs, "", 0)
	c, err := ClientFromConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lines := make(chan string)
	if _, err := c.Monitor("info", lines); err != nil {
		t.Fatal(err)
	}
	if _, ok := receive(t, lines); !ok {
		t.Fatal("no first line")
	}

	deadline := time.After(testTimeout)
	// Inside the loop, after the first line: ask for the members.
	membersErr := make(chan error, 1)
	go func() {
		_, err := c.Members()
		membersErr <- err
	}()
	select {
	case err := <-membersErr:
		if err != nil {
			t.Fatalf("Members: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Members did not return while the stream's caller was busy: reader blocked")
	}

	// The caller resumes reading: what was kept arrives in order. Every
	// record was kept or dropped before the members reply was read, and
	// once the caller has emptied the queue the client logs the count.
	dropped := -1
	got, last := 1, 0
	for dropped < 0 || got < burst-dropped {
		select {
		case l := <-lines:
			var n int
			if _, err := fmt.Sscanf(l, "line %d", &n); err != nil || n <= last {
				t.Fatalf("line %q after line %d: out of order", l, last)
			}
			last = n
			got++
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("got %d lines, dropped %d; log %q", got, dropped, logs.String())
		}
		if dropped < 0 {
			if _, after, ok := strings.Cut(logs.String(), "stream: dropped "); ok {
				fmt.Sscanf(after, "%d", &dropped)
			}
		}
	}
	if dropped <= 0 || !strings.Contains(logs.String(), "dropping records") {
		t.Errorf("dropped %d; log %q lacks the warnings", dropped, logs.String())
	}
	select {
	case l := <-lines:
		t.Errorf("line %q beyond the %d kept", l, burst-dropped)
	case <-time.After(50 * time.Millisecond):
	}
}
