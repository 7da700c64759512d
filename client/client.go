// Package client is a Go client for the RPC protocol of a Serf agent (the
// protocol `serf agent` serves on -rpc-addr, 127.0.0.1:7373 by default).
// It is what the serf CLI uses, and third-party programs can use it the
// same way:
//
//	c, err := client.NewRPCClient("127.0.0.1:7373")
//	if err != nil { ... }
//	defer c.Close()
//	members, err := c.Members()
//
// One RPCClient is one TCP connection. Its methods are safe for concurrent
// use: requests are numbered, written one at a time, and a single reader
// goroutine hands each reply to the request that waits for it, so several
// requests and streams can be outstanding at once. The agent itself
// executes the requests of one connection in order; use several clients
// for work that must run in parallel.
//
// Errors reported by the agent are *RemoteError values whose text is the
// agent's own, which the CLI prints unchanged.
package client

import (
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Config says how to reach an agent.
type Config struct {
	// Addr is the agent's RPC address, host:port.
	Addr string

	// AuthKey is sent with the "auth" command right after the handshake
	// when not empty. Agents configured with rpc_auth require it.
	AuthKey string

	// Timeout bounds connecting and each request write. Replies have no
	// deadline, because commands such as join or the key operations can
	// legitimately take long. Zero means DefaultTimeout.
	Timeout time.Duration

	// Logger receives the client's warnings, such as records of a stream
	// dropped because its caller fell too far behind. Nil means the
	// standard logger (stderr), as the reference client does.
	Logger *log.Logger
}

// DefaultAddr and DefaultTimeout are the reference client's defaults.
const (
	DefaultAddr    = "127.0.0.1:7373"
	DefaultTimeout = 10 * time.Second
)

// DefaultConfig returns a Config for an agent on the default address.
func DefaultConfig() *Config {
	return &Config{Addr: DefaultAddr, Timeout: DefaultTimeout}
}

// StreamHandle identifies a running Monitor or Stream; pass it to Stop.
// It is the Seq of the request that opened the stream.
type StreamHandle uint64

// RPCClient is a connection to a Serf agent's RPC port.
type RPCClient struct {
	conn    net.Conn
	timeout time.Duration
	logger  *log.Logger // nil means the standard logger
	frames  *frameReader
	handle  *codec.MsgpackHandle // for bodies decoded after the read loop

	// writeMu serialises requests: a header and its body must reach the
	// agent together, and Seq numbers go out in increasing order.
	writeMu sync.Mutex
	seq     uint64 // guarded by writeMu
	out     *frameWriter

	mu       sync.Mutex
	handlers map[uint64]seqHandler     // guarded by mu
	pumps    map[*streamState]struct{} // running stream pumps; guarded by mu
	closed   bool                      // guarded by mu

	closeOnce  sync.Once
	closeErr   error
	readerDone chan struct{}
	pumpWG     sync.WaitGroup // stream pumps; Add only under mu while not closed
}

// NewRPCClient connects to the agent at addr with the default timeout and
// no auth key.
func NewRPCClient(addr string) (*RPCClient, error) {
	conf := DefaultConfig()
	conf.Addr = addr
	return ClientFromConfig(conf)
}

// ClientFromConfig connects to the agent c describes, performs the
// handshake and, if c.AuthKey is set, authenticates. The returned error is
// the dial error or the agent's refusal, unwrapped, because the CLI prints
// it after "Error connecting to Serf agent: ".
func ClientFromConfig(c *Config) (*RPCClient, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	conn, err := net.DialTimeout("tcp", c.Addr, timeout)
	if err != nil {
		return nil, err
	}
	client := newClient(conn, timeout)
	client.logger = c.Logger
	if err := client.handshake(IPCVersion); err != nil {
		client.Close()
		return nil, err
	}
	if c.AuthKey != "" {
		if err := client.auth(c.AuthKey); err != nil {
			client.Close()
			return nil, err
		}
	}
	return client, nil
}

// newClient wraps an established connection and starts the reader
// goroutine; the caller performs the handshake.
func newClient(conn net.Conn, timeout time.Duration) *RPCClient {
	handle := newRPCHandle()
	c := &RPCClient{
		conn:       conn,
		timeout:    timeout,
		handle:     handle,
		frames:     newFrameReader(conn, handle),
		out:        newFrameWriter(conn, handle),
		handlers:   make(map[uint64]seqHandler),
		pumps:      make(map[*streamState]struct{}),
		readerDone: make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// Close ends the connection. Requests still waiting fail with
// ErrClientClosed, and the channels of running streams and queries are
// closed (records not yet taken are dropped). Close waits for every
// goroutine of the client to exit and may be called more than once.
func (c *RPCClient) Close() error {
	c.shutdown(false)
	c.mu.Lock()
	pumps := make([]*streamState, 0, len(c.pumps))
	for s := range c.pumps {
		pumps = append(pumps, s)
	}
	c.mu.Unlock()
	for _, s := range pumps {
		s.abort(ErrClientClosed)
	}
	c.pumpWG.Wait()
	<-c.readerDone
	return c.closeErr
}

// IsClosed reports whether the connection has ended, by Close or because
// the agent went away.
func (c *RPCClient) IsClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// shutdown closes the connection and releases every handler. It is safe
// to call from any goroutine; graceful is true only when the reader calls
// it because the connection was lost, and lets streams deliver the records
// they already received before their channels close.
func (c *RPCClient) shutdown(graceful bool) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		handlers := c.handlers
		c.handlers = make(map[uint64]seqHandler)
		c.mu.Unlock()

		c.closeErr = c.conn.Close()
		for _, h := range handlers {
			h.cleanup(ErrClientClosed, graceful)
		}
	})
}

// readLoop is the only reader of the connection. It decodes one response
// header at a time and passes it to the handler registered for its Seq.
// A header nobody waits for is skipped without reading a body: that is
// what the protocol expects of clients (records of a stream that was just
// stopped are then read as headers with Seq 0 and skipped too).
func (c *RPCClient) readLoop() {
	defer close(c.readerDone)
	defer c.shutdown(true)
	for {
		hdr, err := c.frames.header()
		if err != nil {
			return
		}
		h := c.handler(hdr.Seq)
		if h == nil {
			continue
		}
		finished, err := h.handle(&hdr, c.frames)
		if finished {
			c.removeHandler(hdr.Seq)
		}
		if err != nil {
			// The position in the byte stream is unknown after a body
			// failed to decode; nothing later can be trusted.
			return
		}
	}
}

func (c *RPCClient) handler(seq uint64) seqHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handlers[seq]
}

// removeHandler unregisters seq and returns what was registered, if any.
func (c *RPCClient) removeHandler(seq uint64) seqHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.handlers[seq]
	delete(c.handlers, seq)
	return h
}

// send writes one request and registers h (if not nil) for its replies
// before the request leaves, so no reply can arrive unclaimed. It returns
// the request's Seq. A failed write ends the connection, since the agent
// may have received part of the request.
func (c *RPCClient) send(command string, body interface{}, h seqHandler) (uint64, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, ErrClientClosed
	}
	c.seq++
	seq := c.seq
	if h != nil {
		c.handlers[seq] = h
	}
	c.mu.Unlock()

	err := c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if err == nil {
		err = c.out.write(&RequestHeader{Command: command, Seq: seq}, body)
	}
	if err != nil {
		c.removeHandler(seq)
		c.shutdown(false)
		return 0, fmt.Errorf("send %s request: %w", command, err)
	}
	return seq, nil
}

// startPump runs the delivery goroutine of a stream, owned by the client.
// On a closed client it ends the stream at once instead, closing the
// caller's channels, and returns false.
func (c *RPCClient) startPump(s *streamState) bool {
	s.queue.setLogger(s.command, c.logger)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.abort(ErrClientClosed)
		s.closeChannels(ErrClientClosed)
		return false
	}
	c.pumps[s] = struct{}{}
	c.pumpWG.Add(1)
	go func() {
		defer c.pumpWG.Done()
		s.pump()
		c.mu.Lock()
		delete(c.pumps, s)
		c.mu.Unlock()
	}()
	return true
}

// call sends a request and waits for its single reply, decoding the reply
// body into resp when resp is not nil.
func (c *RPCClient) call(command string, req, resp interface{}) error {
	h := newResponseHandler(command, resp)
	if _, err := c.send(command, req, h); err != nil {
		return err
	}
	return h.wait()
}

func (c *RPCClient) handshake(version int32) error {
	return c.call(HandshakeCommand, &HandshakeRequest{Version: version}, nil)
}

func (c *RPCClient) auth(key string) error {
	return c.call(AuthCommand, &AuthRequest{AuthKey: key}, nil)
}
