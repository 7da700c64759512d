package agent

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/serf"
)

// AgentIPC is the agent's RPC server, Serf's msgpack RPC: it accepts TCP clients,
// requires a handshake (and the auth key, if one is set), and runs their
// requests against the agent. Every goroutine it starts is stopped and
// waited for by Shutdown. Clients are bounded (see ipc_limits.go): a
// handshake deadline, a cap on open connections, and a write timeout.
type AgentIPC struct {
	agent     *Agent
	authKey   string
	limits    ipcLimits
	listener  net.Listener
	logger    *log.Logger
	logWriter *LogWriter
	handle    *codec.MsgpackHandle
	// members is the encoded "members" reply, kept while the member
	// table does not change.
	members membersReplyCache

	// eventHandlers is the stats "event_handlers" section, fixed at
	// startup as in Serf (a reload does not change it).
	eventHandlers map[string]string

	// timeoutWarn and refuseWarn space the warnings about connections
	// closed at the handshake deadline and refused over the cap.
	timeoutWarn warnLimiter
	refuseWarn  warnLimiter

	mu       sync.Mutex
	clients  map[*rpcConn]struct{}
	refusing map[net.Conn]struct{} // connections over the cap being answered
	stopped  bool                  // no new clients; set by closeAll

	stopCh   chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// NewAgentIPC starts serving RPC clients on listener. authKey, when not
// empty, must be presented with "auth" before any other command. Log lines
// go to logOutput; logWriter feeds monitors (it may be nil: monitors then
// receive nothing). The handshake timeout and the connection cap come
// from the agent's configuration (rpc_handshake_timeout, rpc_max_conns).
// When the agent shuts down, the listener and every connection are
// closed; call Shutdown to wait for the server to finish.
func NewAgentIPC(agent *Agent, authKey string, listener net.Listener, logOutput io.Writer, logWriter *LogWriter) *AgentIPC {
	return newAgentIPC(agent, authKey, listener, logOutput, logWriter, ipcLimitsFromConfig(agent.Config()))
}

func newAgentIPC(agent *Agent, authKey string, listener net.Listener, logOutput io.Writer, logWriter *LogWriter, limits ipcLimits) *AgentIPC {
	if logOutput == nil {
		logOutput = io.Discard
	}
	i := &AgentIPC{
		agent:         agent,
		authKey:       authKey,
		limits:        limits,
		timeoutWarn:   warnLimiter{interval: ipcLimitWarnInterval},
		refuseWarn:    warnLimiter{interval: ipcLimitWarnInterval},
		listener:      listener,
		logger:        log.New(logOutput, "", log.LstdFlags),
		logWriter:     logWriter,
		handle:        newIPCHandle(),
		eventHandlers: statsEventHandlers(agent.Config()),
		clients:       make(map[*rpcConn]struct{}),
		refusing:      make(map[net.Conn]struct{}),
		stopCh:        make(chan struct{}),
	}
	i.wg.Add(2)
	go i.acceptLoop()
	go i.watchAgent()
	return i
}

// Shutdown closes the listener and every client connection, and waits for
// all of the server's goroutines. Safe to call more than once.
func (i *AgentIPC) Shutdown() {
	i.stopOnce.Do(func() { close(i.stopCh) })
	i.closeAll()
	i.wg.Wait()
}

// closeAll stops accepting and closes every client. It does not wait, so
// it is safe from a request goroutine (as after "leave").
func (i *AgentIPC) closeAll() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.stopped {
		i.stopped = true
		if err := i.listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			i.logger.Printf("[ERR] agent.ipc: failed to close listener: %v", err)
		}
	}
	for c := range i.clients {
		c.close()
	}
	for conn := range i.refusing {
		_ = conn.Close()
	}
}

// watchAgent closes the server's connections when the agent shuts down
// (after "leave", a signal, or Serf stopping by itself).
func (i *AgentIPC) watchAgent() {
	defer i.wg.Done()
	select {
	case <-i.agent.ShutdownCh():
		i.closeAll()
	case <-i.stopCh:
	}
}

// acceptLoop accepts clients until the listener is closed.
func (i *AgentIPC) acceptLoop() {
	defer i.wg.Done()
	backoff := time.Duration(0)
	for {
		conn, err := i.listener.Accept()
		if err != nil {
			if i.isStopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary trouble such as running out of file
			// descriptors: wait a little rather than spin.
			i.logger.Printf("[ERR] agent.ipc: failed to accept client: %v", err)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-i.stopCh:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		// Only this loop adds clients, so the count can only fall
		// between the check and the add below.
		i.mu.Lock()
		full := len(i.clients) >= i.limits.MaxConns
		i.mu.Unlock()
		if full {
			i.refuse(conn)
			continue
		}
		i.logger.Printf("[INFO] agent.ipc: Accepted client: %v", conn.RemoteAddr())
		metrics.IncrCounter([]string{"agent", "ipc", "accept"}, 1)
		// The handshake deadline runs from the accept; admit lifts it.
		if err := conn.SetReadDeadline(time.Now().Add(i.limits.HandshakeTimeout)); err != nil {
			i.logger.Printf("[ERR] agent.ipc: failed to set handshake deadline: %v", err)
			_ = conn.Close()
			continue
		}

		c := newRPCConn(conn, i.handle, i.limits.WriteTimeout)
		i.mu.Lock()
		if i.stopped {
			i.mu.Unlock()
			_ = conn.Close()
			return
		}
		i.clients[c] = struct{}{}
		i.wg.Add(1)
		i.mu.Unlock()
		go i.serveClient(c)
	}
}

func (i *AgentIPC) isStopped() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stopped
}

// serveClient runs one connection's requests in order until the client
// goes away, a request fails, or the server stops; then it ends the
// client's streams and forgets it.
func (i *AgentIPC) serveClient(c *rpcConn) {
	defer i.wg.Done()
	defer i.dropClient(c)
	for {
		if err := c.decode(&c.header); err != nil {
			switch {
			case c.closed() || errors.Is(err, io.EOF):
			case !c.admitted && isTimeout(err):
				i.handshakeTimedOut(c)
			default:
				i.logger.Printf("[ERR] agent.ipc: failed to decode request header: %v", err)
			}
			return
		}
		err := i.handleRequest(c, c.header.Command, c.header.Seq)
		if err == nil {
			err = i.admit(c)
		}
		if err != nil {
			if !c.closed() {
				if !c.admitted && isTimeout(err) {
					// A body that stalled past the handshake deadline.
					i.handshakeTimedOut(c)
				} else {
					i.logger.Printf("[ERR] agent.ipc: Failed to evaluate request: %v", err)
				}
			}
			return
		}
	}
}

// dropClient closes c, stops its subscriptions and goroutines, and
// removes it from the server.
func (i *AgentIPC) dropClient(c *rpcConn) {
	c.close()

	c.mu.Lock()
	streams := c.eventStreams
	c.eventStreams = make(map[uint64]*ipcEventStream)
	monitor := c.logStream
	c.logStream = nil
	c.pendingQueries = make(map[uint64]*serf.Query)
	c.mu.Unlock()

	for _, s := range streams {
		i.agent.DeregisterEventHandler(s)
		s.stop()
	}
	if monitor != nil {
		i.stopLogStream(monitor)
	}
	c.wg.Wait()

	i.mu.Lock()
	delete(i.clients, c)
	i.mu.Unlock()
}

// errCloseConnection ends a connection after its reply was sent.
type errCloseConnection string

func (e errCloseConnection) Error() string { return string(e) }

// handleRequest checks the handshake and auth gates and runs one command.
// A returned error closes the connection.
func (i *AgentIPC) handleRequest(c *rpcConn, command string, seq uint64) error {
	metrics.IncrCounter([]string{"agent", "ipc", "command"}, 1)

	if c.version == 0 && command != handshakeCommand {
		if err := c.reply(seq, errors.New(errHandshakeRequiredText), nil); err != nil {
			return err
		}
		return errCloseConnection(errHandshakeRequiredText)
	}

	// The request body, if any, is deliberately left unread: Serf then
	// decodes it as the next header, and clients rely on the outcome.
	if i.authKey != "" && !c.didAuth && command != authCommand && command != handshakeCommand {
		i.logger.Printf("[WARN] agent.ipc: Client sending commands before auth")
		return c.reply(seq, errors.New(errAuthRequiredText), nil)
	}

	switch command {
	case handshakeCommand:
		return i.handleHandshake(c, seq)
	case authCommand:
		return i.handleAuth(c, seq)
	case membersCommand:
		return i.handleMembers(c, seq)
	case membersFilteredCommand:
		return i.handleMembersFiltered(c, seq)
	case joinCommand:
		return i.handleJoin(c, seq)
	case leaveCommand:
		return i.handleLeave(c, seq)
	case forceLeaveCommand:
		return i.handleForceLeave(c, seq)
	case eventCommand:
		return i.handleEvent(c, seq)
	case tagsCommand:
		return i.handleTags(c, seq)
	case streamCommand:
		return i.handleStream(c, seq)
	case monitorCommand:
		return i.handleMonitor(c, seq)
	case monitorJSONCommand:
		return i.handleMonitorJSON(c, seq)
	case stopCommand:
		return i.handleStop(c, seq)
	case queryCommand:
		return i.handleQuery(c, seq)
	case respondCommand:
		return i.handleRespond(c, seq)
	case installKeyCommand, useKeyCommand, removeKeyCommand:
		return i.handleChangeKey(c, seq, command)
	case listKeysCommand:
		return i.handleListKeys(c, seq)
	case statsCommand:
		return i.handleStats(c, seq)
	case getCoordinateCommand:
		return i.handleGetCoordinate(c, seq)
	default:
		if err := c.reply(seq, errors.New(errUnsupportedCommandText), nil); err != nil {
			return err
		}
		return errCloseConnection(fmt.Sprintf("command '%s' not recognized", command))
	}
}
