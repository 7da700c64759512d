package agent

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/serf"
)

// rpcConn is one RPC connection. Its request goroutine reads and runs
// requests one at a time; event streams, the monitor and query result
// streams write from their own goroutines, all through send, which keeps
// a header and its body together.
type rpcConn struct {
	conn net.Conn
	addr string // remote address, for log lines

	// reader cuts the stream into whole objects; dec decodes each one.
	reader *ipcObjectReader
	dec    *codec.Decoder

	writeLock sync.Mutex
	writer    *bufio.Writer
	enc       *codec.Encoder

	// Only the request goroutine touches these.
	header   ipcRequestHeader // reused on purpose, see ipcRequestHeader
	version  int32            // 0 until the handshake succeeds
	didAuth  bool
	admitted bool // handshake (and auth) done: deadline and small bound lifted

	// mu guards the subscriptions and the query IDs, which the stream
	// goroutines and the request goroutine share.
	mu             sync.Mutex
	eventStreams   map[uint64]*ipcEventStream
	logStream      *ipcLogStream
	lastQueryID    uint64
	pendingQueries map[uint64]*serf.Query

	// done is closed when the connection is closed; every goroutine of
	// the client watches it.
	done      chan struct{}
	closeOnce sync.Once

	// wg counts the goroutines the request goroutine started for this
	// client (streams, monitor, query results).
	wg sync.WaitGroup
}

// newRPCConn wraps a new connection. Until the server admits it, objects
// are bounded by ipcPreHandshakeObjectSize. A write that makes no
// progress for writeTimeout fails (0: no limit).
func newRPCConn(conn net.Conn, handle *codec.MsgpackHandle, writeTimeout time.Duration) *rpcConn {
	w := bufio.NewWriter(deadlineWriter{conn: conn, timeout: writeTimeout})
	return &rpcConn{
		conn:           conn,
		addr:           conn.RemoteAddr().String(),
		reader:         newIPCObjectReader(conn, ipcPreHandshakeObjectSize),
		dec:            codec.NewDecoderBytes(nil, handle),
		writer:         w,
		enc:            codec.NewEncoder(w, handle),
		eventStreams:   make(map[uint64]*ipcEventStream),
		pendingQueries: make(map[uint64]*serf.Query),
		done:           make(chan struct{}),
	}
}

// String names the client in log lines as Serf does:
// "ipc.client: 127.0.0.1:52000".
func (c *rpcConn) String() string {
	return "ipc.client: " + c.addr
}

// decode reads the next object from the client into v. Keys missing from
// the object leave v's fields as they were.
func (c *rpcConn) decode(v interface{}) error {
	obj, err := c.reader.next()
	if err != nil {
		return err
	}
	c.dec.ResetBytes(obj)
	return c.dec.Decode(v)
}

// send writes a header and, if body is not nil, a body, as one unit.
func (c *rpcConn) send(header *ipcResponseHeader, body interface{}) error {
	c.writeLock.Lock()
	defer c.writeLock.Unlock()
	if err := c.enc.Encode(header); err != nil {
		return fmt.Errorf("encode response header: %w", err)
	}
	if body != nil {
		if err := c.enc.Encode(body); err != nil {
			return fmt.Errorf("encode response body: %w", err)
		}
	}
	if err := c.writer.Flush(); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// reply sends a header with seq and err's text (empty for nil), and body.
func (c *rpcConn) reply(seq uint64, err error, body interface{}) error {
	return c.send(&ipcResponseHeader{Seq: seq, Error: errorText(err)}, body)
}

// close closes the connection and signals the client's goroutines. Safe
// to call more than once, from any goroutine.
func (c *rpcConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		// Closing unblocks a reader or writer stuck on the socket; the
		// error is irrelevant, the client is going away.
		_ = c.conn.Close()
	})
}

// closed reports whether close was called.
func (c *rpcConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// registerQuery gives a streamed query the connection's next ID and
// remembers it for respond until its deadline. A query already past its
// deadline takes an ID but is not remembered, so a respond to it fails
// as in Serf.
func (c *rpcConn) registerQuery(q *serf.Query) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for id, pending := range c.pendingQueries {
		if queryExpired(pending, now) {
			delete(c.pendingQueries, id)
		}
	}
	c.lastQueryID++
	id := c.lastQueryID
	if !queryExpired(q, now) {
		c.pendingQueries[id] = q
	}
	return id
}

// pendingQuery returns the query for a respond ID, or nil when the ID is
// unknown or its deadline has passed.
func (c *rpcConn) pendingQuery(id uint64) *serf.Query {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.pendingQueries[id]
	if !ok {
		return nil
	}
	if queryExpired(q, time.Now()) {
		delete(c.pendingQueries, id)
		return nil
	}
	return q
}

func queryExpired(q *serf.Query, now time.Time) bool {
	d := q.Deadline()
	return !d.IsZero() && now.After(d)
}

// errorText is the header text for err: empty for nil.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
