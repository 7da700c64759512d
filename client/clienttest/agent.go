package clienttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Mode says what the fake agent does with the bytes the client sends.
type Mode int

const (
	// CheckBytes requires every client frame to carry the recorded data:
	// byte-identical, or identical once map entries are sorted (Go
	// randomises map order, so recordings of maps with several entries
	// cannot be reproduced literally).
	CheckBytes Mode = iota

	// ReadOnly reads one msgpack value per recorded client frame without
	// comparing it. Use it for recordings whose client bytes are not
	// ground truth, or to drive a client with different arguments.
	ReadOnly
)

// Options tune a replay.
type Options struct {
	Mode Mode

	// CloseAtEnd closes the connection after the last frame, as a real
	// agent does after "leave", "Handshake required" or "Unsupported
	// command". Otherwise the agent waits for the client to hang up and
	// reports anything more it sends.
	CloseAtEnd bool

	// BeforeClientFrame, if set, runs on the replay goroutine before the
	// agent waits for client frame i (an index into Transcript.Frames).
	// It may block, for instance until the program under test has printed
	// what it received so far, before simulating an interrupt.
	BeforeClientFrame func(i int)

	// Timeout bounds every wait for the client. Zero means 10 seconds.
	Timeout time.Duration
}

// FrameCheck records how one client frame compared with the recording.
type FrameCheck struct {
	Index    int    // index into Transcript.Frames
	Want     []byte // recorded bytes
	Got      []byte // bytes the client sent
	Exact    bool   // byte-identical
	SameData bool   // identical once map entries are sorted; true when Exact
}

// Agent is a fake Serf agent replaying one transcript on one connection.
type Agent struct {
	tr   *Transcript
	opts Options
	ln   net.Listener
	done chan struct{}

	mu     sync.Mutex
	conn   net.Conn // guarded by mu
	closed bool     // guarded by mu
	err    error    // first problem; guarded by mu
	checks []FrameCheck
}

// NewAgent starts replaying tr on a fresh listener on 127.0.0.1. The
// replay runs on its own goroutine until the conversation ends; Close
// stops it early.
func NewAgent(tr *Transcript, opts Options) (*Agent, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a := &Agent{tr: tr, opts: opts, ln: ln, done: make(chan struct{})}
	go a.run()
	return a, nil
}

// Addr is the host:port clients should dial.
func (a *Agent) Addr() string { return a.ln.Addr().String() }

// Wait blocks until the replay is over (every wait inside is bounded by
// Options.Timeout) and returns the first problem found: a client frame
// that differs from the recording (in CheckBytes mode), a client that sent
// too little or too much, or an I/O error.
func (a *Agent) Wait() error {
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Checks returns how each client frame compared, in order. Call it after
// Wait.
func (a *Agent) Checks() []FrameCheck {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]FrameCheck(nil), a.checks...)
}

// Close stops the replay, closes the listener and the connection, and
// waits for the replay goroutine to exit.
func (a *Agent) Close() {
	a.mu.Lock()
	a.closed = true
	if a.conn != nil {
		a.conn.Close()
	}
	a.mu.Unlock()
	a.ln.Close()
	<-a.done
}

func (a *Agent) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil && !a.closed {
		a.err = err
	}
}

func (a *Agent) run() {
	defer close(a.done)
	defer a.ln.Close()

	if tl, ok := a.ln.(*net.TCPListener); ok {
		tl.SetDeadline(time.Now().Add(a.opts.Timeout))
	}
	conn, err := a.ln.Accept()
	if err != nil {
		a.fail(fmt.Errorf("accept: %w", err))
		return
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		conn.Close()
		return
	}
	a.conn = conn
	a.mu.Unlock()
	defer conn.Close()

	r := bufio.NewReader(conn)
	for i, f := range a.tr.Frames {
		if f.Dir == AgentToClient {
			conn.SetWriteDeadline(time.Now().Add(a.opts.Timeout))
			if _, err := conn.Write(f.Bytes); err != nil {
				a.fail(fmt.Errorf("frame %d: write: %w", i, err))
				return
			}
			continue
		}
		if a.opts.BeforeClientFrame != nil {
			a.opts.BeforeClientFrame(i)
		}
		conn.SetReadDeadline(time.Now().Add(a.opts.Timeout))
		got, err := readObject(r)
		if err != nil {
			a.fail(fmt.Errorf("frame %d: reading the client's %s (want %x): %w", i, f.Role, f.Bytes, err))
			return
		}
		a.check(i, f, got)
	}

	if a.opts.CloseAtEnd {
		return
	}
	conn.SetReadDeadline(time.Now().Add(a.opts.Timeout))
	extra, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if len(extra) > 0 {
		a.fail(fmt.Errorf("client sent %d bytes after the recording ended: %x", len(extra), extra))
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		a.fail(errors.New("client did not hang up after the recording ended"))
	}
}

func (a *Agent) check(i int, f Frame, got []byte) {
	c := FrameCheck{Index: i, Want: f.Bytes, Got: got, Exact: bytes.Equal(f.Bytes, got)}
	c.SameData = c.Exact
	if !c.Exact {
		want, err1 := Canonical(f.Bytes)
		have, err2 := Canonical(got)
		c.SameData = err1 == nil && err2 == nil && bytes.Equal(want, have)
	}
	a.mu.Lock()
	a.checks = append(a.checks, c)
	a.mu.Unlock()
	if a.opts.Mode == CheckBytes && !c.SameData {
		a.fail(fmt.Errorf("frame %d (%s): client sent\n  %x\nrecorded\n  %x\n(%s)", i, f.Role, got, f.Bytes, f.Decoded))
	}
}
