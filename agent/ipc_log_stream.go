package agent

import (
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/logutils"
)

// ipcDropWarnInterval limits the "Dropping logs" warnings of one monitor.
// The warning is itself a log line that the stuck monitor drops too, so
// without a limit a stalled client would make the agent log in a loop.
const ipcDropWarnInterval = time.Second

// ipcLogStream is a client's monitor: it receives every log line from the
// LogWriter, keeps those passing its level, and writes them as records
// tagged with the Seq of the "monitor" request.
type ipcLogStream struct {
	logger *log.Logger
	client *rpcConn
	seq    uint64
	filter *logutils.LevelFilter
	format func(line string) string // nil sends lines as they are; see monitor-json

	logCh    chan string
	dropCh   chan struct{} // signalled (without blocking) when a line is dropped
	stopCh   chan struct{}
	stopOnce sync.Once
}

func newIPCLogStream(i *AgentIPC, c *rpcConn, seq uint64, filter *logutils.LevelFilter) *ipcLogStream {
	return &ipcLogStream{
		logger: i.logger,
		client: c,
		seq:    seq,
		filter: filter,
		logCh:  make(chan string, ipcStreamBuffer),
		dropCh: make(chan struct{}, 1),
		stopCh: make(chan struct{}),
	}
}

// HandleLog implements LogHandler. It runs under the LogWriter's lock, so
// it never blocks and never logs: a drop only signals warnDrops.
func (m *ipcLogStream) HandleLog(line string) {
	if !m.filter.Check([]byte(line)) {
		return
	}
	select {
	case m.logCh <- line:
	default:
		select {
		case m.dropCh <- struct{}{}:
		default:
		}
	}
}

// stop ends the monitor's goroutines. Safe to call more than once.
func (m *ipcLogStream) stop() {
	m.stopOnce.Do(func() { close(m.stopCh) })
}

// run writes queued lines until the monitor is stopped or the client goes
// away. A failed write ends the connection.
func (m *ipcLogStream) run() {
	defer m.client.wg.Done()
	header := &ipcResponseHeader{Seq: m.seq}
	for {
		select {
		case line := <-m.logCh:
			if m.format != nil {
				line = m.format(line)
			}
			if err := m.client.send(header, &ipcLogRecord{Log: line}); err != nil {
				if !m.client.closed() {
					m.logger.Printf("[ERR] agent.ipc: Failed to stream log to %v: %v", m.client, err)
					m.client.close()
				}
				return
			}
		case <-m.stopCh:
			return
		case <-m.client.done:
			return
		}
	}
}

// warnDrops logs dropped lines, at most once per ipcDropWarnInterval.
func (m *ipcLogStream) warnDrops() {
	defer m.client.wg.Done()
	for {
		select {
		case <-m.dropCh:
		case <-m.stopCh:
			return
		case <-m.client.done:
			return
		}
		m.logger.Printf("[WARN] agent.ipc: Dropping logs to %v", m.client)
		t := time.NewTimer(ipcDropWarnInterval)
		select {
		case <-t.C:
		case <-m.stopCh:
			t.Stop()
			return
		case <-m.client.done:
			t.Stop()
			return
		}
	}
}

func (i *AgentIPC) handleMonitor(c *rpcConn, seq uint64) error {
	return i.startMonitor(c, seq, monitorCommand, nil)
}

// startMonitor serves "monitor" and "monitor-json", which differ only in
// format, applied to each line just before it is sent.
func (i *AgentIPC) startMonitor(c *rpcConn, seq uint64, command string, format func(string) string) error {
	var req ipcMonitorRequest
	if err := c.decodeBody(command, &req); err != nil {
		return err
	}
	level := logutils.LogLevel(strings.ToUpper(req.LogLevel))
	filter := NewLevelFilter(string(level), nil)
	if !ValidateLevelFilter(level, filter) {
		return c.reply(seq, fmt.Errorf("Unknown log level: %s", level), nil)
	}
	c.mu.Lock()
	exists := c.logStream != nil
	c.mu.Unlock()
	if exists {
		return c.reply(seq, fmt.Errorf("%s", errMonitorExists), nil)
	}

	// The success header goes first; registering then replays the ring,
	// oldest line first, as Serf does.
	if err := c.reply(seq, nil, nil); err != nil {
		return err
	}
	m := newIPCLogStream(i, c, seq, filter)
	m.format = format
	c.mu.Lock()
	c.logStream = m
	c.mu.Unlock()
	c.wg.Add(2)
	go m.run()
	go m.warnDrops()
	if i.logWriter != nil {
		i.logWriter.RegisterHandler(m)
	}
	return nil
}

// stopLogStream detaches a monitor from the log and stops it.
func (i *AgentIPC) stopLogStream(m *ipcLogStream) {
	if i.logWriter != nil {
		i.logWriter.DeregisterHandler(m)
	}
	m.stop()
}
