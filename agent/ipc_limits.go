package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-metrics"
)

// The RPC server's bounds on what clients can hold: a connection must
// say hello in time, only so many may be open, a client that stops
// reading is cut off, and nothing a client declares makes the agent
// allocate more than it actually sent (see ipcObjectReader).
const (
	// ipcWriteTimeout is how long one write to a client may make no
	// progress. The kernel buffers several megabytes per connection
	// first, so only a client that has stopped reading for a long while
	// reaches it; its records are dropped meanwhile (with a warning), and
	// then the connection is closed, which frees its buffers and
	// goroutines.
	ipcWriteTimeout = 10 * time.Second

	// ipcPreHandshakeObjectSize bounds one object before the handshake
	// (and auth) is done: a handshake is a dozen bytes, an auth token a
	// few dozen. An unknown client cannot make the agent buffer more.
	ipcPreHandshakeObjectSize = 16 << 10

	// ipcMaxRefusing bounds the refusals in progress. Each waits up to
	// ipcRefuseTimeout for the client's handshake to answer it; past this
	// many, connections over the cap are closed without an answer.
	ipcMaxRefusing   = 16
	ipcRefuseTimeout = 2 * time.Second

	// ipcLimitWarnInterval spaces the warnings about closed and refused
	// connections; a flood of them logs one line per interval, with a
	// count of the ones not logged.
	ipcLimitWarnInterval = 5 * time.Second
)

// errTooManyConnsText is the error a connection past the cap reads in
// reply to its handshake; the CLI prints it after "Error connecting to
// Serf agent: ".
const errTooManyConnsText = "too many RPC connections"

// ipcLimits are the RPC server's bounds, from rpc_handshake_timeout and
// rpc_max_conns.
type ipcLimits struct {
	// HandshakeTimeout is how long a new connection has to complete its
	// handshake, and its auth when a key is set.
	HandshakeTimeout time.Duration
	// MaxConns bounds the connections served at once.
	MaxConns int
	// WriteTimeout is how long a write may make no progress.
	WriteTimeout time.Duration
}

// ipcLimitsFromConfig takes the bounds from the agent's configuration;
// zero values (a Config built by hand) mean the defaults.
func ipcLimitsFromConfig(c *Config) ipcLimits {
	l := ipcLimits{
		HandshakeTimeout: DefaultRPCHandshakeTimeout,
		MaxConns:         DefaultRPCMaxConns,
		WriteTimeout:     ipcWriteTimeout,
	}
	if c == nil {
		return l
	}
	if c.RPCHandshakeTimeout > 0 {
		l.HandshakeTimeout = c.RPCHandshakeTimeout
	}
	if c.RPCMaxConns > 0 {
		l.MaxConns = c.RPCMaxConns
	}
	return l
}

// admitted reports whether c has passed the gates that the handshake
// timeout guards: the handshake, and auth when a key is set.
func (i *AgentIPC) admitted(c *rpcConn) bool {
	return c.version != 0 && (i.authKey == "" || c.didAuth)
}

// admit lifts the handshake deadline and the small object bound once c
// has passed the gates. The request goroutine calls it after each request.
func (i *AgentIPC) admit(c *rpcConn) error {
	if c.admitted || !i.admitted(c) {
		return nil
	}
	c.admitted = true
	c.reader.max = maxIPCObjectSize
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear handshake deadline: %w", err)
	}
	return nil
}

// handshakeTimedOut logs (rate-limited) and counts a connection closed
// for not completing its handshake in time.
func (i *AgentIPC) handshakeTimedOut(c *rpcConn) {
	metrics.IncrCounter([]string{"agent", "ipc", "handshake_timeout"}, 1)
	what := "handshake"
	if i.authKey != "" && c.version != 0 {
		what = "auth"
	}
	if ok, skipped := i.timeoutWarn.allow(time.Now()); ok {
		i.logger.Printf("[WARN] agent.ipc: Closing client %s: no %s within %v%s",
			c.addr, what, i.limits.HandshakeTimeout, skippedNote(skipped))
	}
}

// isTimeout reports whether err is a passed socket deadline.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// refuse answers a connection past the cap and closes it, in its own
// goroutine; with too many refusals already running (or the server
// stopping) it closes it at once.
func (i *AgentIPC) refuse(conn net.Conn) {
	metrics.IncrCounter([]string{"agent", "ipc", "refused"}, 1)
	if ok, skipped := i.refuseWarn.allow(time.Now()); ok {
		i.logger.Printf("[WARN] agent.ipc: Refusing client %v: %s (limit %d)%s",
			conn.RemoteAddr(), errTooManyConnsText, i.limits.MaxConns, skippedNote(skipped))
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped || len(i.refusing) >= ipcMaxRefusing {
		_ = conn.Close()
		return
	}
	i.refusing[conn] = struct{}{}
	i.wg.Add(1)
	go func() {
		defer i.wg.Done()
		i.answerRefused(conn)
		_ = conn.Close()
		i.mu.Lock()
		delete(i.refusing, conn)
		i.mu.Unlock()
	}()
}

// answerRefused reads the client's first request header and answers it
// with the refusal under the same Seq, so a client (ours or Serf's)
// reports it as the handshake's error. The write side is then shut and
// the rest of what the client sends is read and dropped until it hangs
// up: closing a socket with unread data makes the kernel reset the
// connection, and the client could lose the answer.
func (i *AgentIPC) answerRefused(conn net.Conn) {
	timeout := min(ipcRefuseTimeout, i.limits.HandshakeTimeout)
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return
	}
	c := newRPCConn(conn, i.handle, 0) // the deadline above covers writes
	var header ipcRequestHeader
	if err := c.decode(&header); err != nil {
		return
	}
	msg := fmt.Sprintf("%s (limit %d)", errTooManyConnsText, i.limits.MaxConns)
	if err := c.send(&ipcResponseHeader{Seq: header.Seq, Error: msg}, nil); err != nil {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, ipcPreHandshakeObjectSize))
}

// warnLimiter lets a warning through at most once per interval and counts
// the ones it holds back, so a flood of bad connections cannot flood the
// log (or the monitors that follow it).
type warnLimiter struct {
	interval time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// allow reports whether to log now and, if so, how many were held back
// since the last line.
func (w *warnLimiter) allow(now time.Time) (bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.last.IsZero() && now.Sub(w.last) < w.interval {
		w.skipped++
		return false, 0
	}
	skipped := w.skipped
	w.last, w.skipped = now, 0
	return true, skipped
}

// skippedNote is the tail of a rate-limited line that had predecessors
// held back.
func skippedNote(skipped int) string {
	if skipped == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d more since the last such message)", skipped)
}

// deadlineWriter gives every write to the connection a fresh deadline,
// so a write fails only when the client has made no progress for the
// whole timeout, however long the record.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
	}
	return w.conn.Write(p)
}
