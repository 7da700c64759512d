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

	// The caller resumes reading: what was kept arrives in order.
	got := 1
	last := 0
	for got < burst {
		var l string
		select {
		case l = <-lines:
		case <-time.After(200 * time.Millisecond):
			// No more lines are coming: the rest were dropped.
		}
		if l == "" {
			break
		}
		var n int
		if _, err := fmt.Sscanf(l, "line %d", &n); err != nil || n <= last {
			t.Fatalf("line %q after line %d: out of order", l, last)
		}
		last = n
		got++
	}
	if got >= burst {
		t.Fatalf("all %d lines delivered; expected some to be dropped", burst)
	}
	// Two warnings: when dropping starts, and the count once the caller
	// has caught up.
	want := fmt.Sprintf("dropped %d records", burst-got)
	if log := logs.String(); !strings.Contains(log, "dropping records") || !strings.Contains(log, want) {
		t.Errorf("log %q lacks the start of the drops or %q", log, want)
	}
}
