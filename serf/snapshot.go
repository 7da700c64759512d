package serf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// SnapshotMinCompactSize is the default lower bound, in bytes, on the size
// a snapshot may grow to before it is compacted.
const SnapshotMinCompactSize = 128 * 1024

const (
	// snapshotFlushInterval: an append flushes the buffered writer when
	// more than this has passed since the last flush.
	snapshotFlushInterval = 500 * time.Millisecond

	// snapshotClockInterval is how often the member clock is checked.
	snapshotClockInterval = 500 * time.Millisecond

	// snapshotBytesPerNode × snapshotCompactionFactor × alive and lost members is
	// the size past which the file is compacted (if above the minimum).
	snapshotBytesPerNode     = 128
	snapshotCompactionFactor = 2

	// snapshotShutdownDrainLimit bounds how long pending events are still
	// recorded after shutdown begins.
	snapshotShutdownDrainLimit = 250 * time.Millisecond

	// snapshotErrorRecoveryInterval is the minimum time between two
	// compactions attempted to recover from a write error.
	snapshotErrorRecoveryInterval = 30 * time.Second

	// snapshotEventChSize is the depth of the input channel and of the
	// internal recording stream.
	snapshotEventChSize = 2048

	// snapshotCompactSuffix names the temporary file of a compaction.
	snapshotCompactSuffix = ".compact"
)

// Line prefixes of the snapshot file.
const (
	snapshotAlivePrefix      = "alive: "
	snapshotNotAlivePrefix   = "not-alive: "
	snapshotClockPrefix      = "clock: "
	snapshotEventClockPrefix = "event-clock: "
	snapshotQueryClockPrefix = "query-clock: "
	snapshotCoordinatePrefix = "coordinate: "
	snapshotCommentPrefix    = "#"
	snapshotLeaveLine        = "leave"
)

var (
	snapshotAppendLineMetric = []string{"serf", "snapshot", "appendLine"}
	snapshotCompactMetric    = []string{"serf", "snapshot", "compact"}
)

// PreviousNode is a member the snapshot recorded as alive, used to rejoin
// the cluster after a restart.
type PreviousNode struct {
	Name string
	Addr string
}

// String returns "name: addr".
func (p PreviousNode) String() string {
	return fmt.Sprintf("%s: %s", p.Name, p.Addr)
}

// ---------------------------------------------------------------------------
// Pure part: parsing, replaying and formatting snapshot lines. No I/O.

// snapshotLineKind tells what a snapshot line records.
type snapshotLineKind int

const (
	snapshotLineIgnored snapshotLineKind = iota // comments, legacy coordinates
	snapshotLineAlive
	snapshotLineNotAlive
	snapshotLineClock
	snapshotLineEventClock
	snapshotLineQueryClock
	snapshotLineLeave
	snapshotLineLost // a comment line to other readers; see snapshot_lost.go
)

// snapshotLine is one parsed line, without its newline.
type snapshotLine struct {
	kind  snapshotLineKind
	name  string      // alive, not-alive
	addr  string      // alive
	clock LamportTime // clock, event-clock, query-clock
	seen  int64       // lost: unix seconds
}

// errUnrecognizedSnapshotLine is returned for a line of no known kind.
// Other parse errors mean a known kind whose content is garbled.
var errUnrecognizedSnapshotLine = errors.New("unrecognized snapshot line")

// parseSnapshotLine parses one line (without its newline).
func parseSnapshotLine(line string) (snapshotLine, error) {
	switch {
	case strings.HasPrefix(line, snapshotAlivePrefix):
		rest := line[len(snapshotAlivePrefix):]
		// Names may contain spaces; addresses cannot.
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			return snapshotLine{}, errors.New("alive line without an address")
		}
		name, addr := rest[:i], rest[i+1:]
		if name == "" {
			return snapshotLine{}, errors.New("alive line without a name")
		}
		if err := checkSnapshotAddr(addr); err != nil {
			return snapshotLine{}, err
		}
		return snapshotLine{kind: snapshotLineAlive, name: name, addr: addr}, nil

	case strings.HasPrefix(line, snapshotNotAlivePrefix):
		name := line[len(snapshotNotAlivePrefix):]
		if name == "" {
			return snapshotLine{}, errors.New("not-alive line without a name")
		}
		return snapshotLine{kind: snapshotLineNotAlive, name: name}, nil

	case strings.HasPrefix(line, snapshotClockPrefix):
		return parseSnapshotClockLine(snapshotLineClock, line[len(snapshotClockPrefix):])

	case strings.HasPrefix(line, snapshotEventClockPrefix):
		return parseSnapshotClockLine(snapshotLineEventClock, line[len(snapshotEventClockPrefix):])

	case strings.HasPrefix(line, snapshotQueryClockPrefix):
		return parseSnapshotClockLine(snapshotLineQueryClock, line[len(snapshotQueryClockPrefix):])

	case line == snapshotLeaveLine:
		return snapshotLine{kind: snapshotLineLeave}, nil

	case strings.HasPrefix(line, snapshotLostPrefix):
		return parseSnapshotLostLine(line[len(snapshotLostPrefix):])

	case strings.HasPrefix(line, snapshotCommentPrefix),
		strings.HasPrefix(line, snapshotCoordinatePrefix):
		return snapshotLine{kind: snapshotLineIgnored}, nil
	}
	return snapshotLine{}, errUnrecognizedSnapshotLine
}

func parseSnapshotClockLine(kind snapshotLineKind, value string) (snapshotLine, error) {
	v, err := strconv.ParseUint(value, 10, 64)
	if err != nil {
		return snapshotLine{}, fmt.Errorf("bad clock value %q: %w", value, err)
	}
	return snapshotLine{kind: kind, clock: LamportTime(v)}, nil
}

// checkSnapshotAddr accepts what net.TCPAddr{IP, Port}.String() produces:
// "ip:port", "[ipv6]:port", or ":port" for a member without an address.
// It rejects the tails of torn writes, which would otherwise make a rejoin
// target a wrong address.
func checkSnapshotAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port in address %q", addr)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("bad IP in address %q: %w", addr, err)
		}
	}
	return nil
}

// snapshotState is what a snapshot file amounts to: the members last seen
// alive, by name, and the three recorded clocks.
type snapshotState struct {
	alive          map[string]string // name -> "ip:port"
	lost           map[string]lostRecord
	lastClock      LamportTime
	lastEventClock LamportTime
	lastQueryClock LamportTime
}

func newSnapshotState() snapshotState {
	return snapshotState{alive: make(map[string]string), lost: make(map[string]lostRecord)}
}

// apply replays one line onto the state.
func (st *snapshotState) apply(l snapshotLine, rejoinAfterLeave bool) {
	switch l.kind {
	case snapshotLineAlive:
		st.alive[l.name] = l.addr
		delete(st.lost, l.name)
	case snapshotLineNotAlive:
		delete(st.alive, l.name)
		delete(st.lost, l.name)
	case snapshotLineLost:
		st.lost[l.name] = lostRecord{addr: l.addr, seen: l.seen}
	case snapshotLineClock:
		st.lastClock = l.clock
	case snapshotLineEventClock:
		st.lastEventClock = l.clock
	case snapshotLineQueryClock:
		st.lastQueryClock = l.clock
	case snapshotLineLeave:
		// A node that left gracefully starts alone and from scratch,
		// unless it is told to rejoin after a leave.
		if !rejoinAfterLeave {
			st.alive = make(map[string]string)
			st.lost = make(map[string]lostRecord)
			st.lastClock, st.lastEventClock, st.lastQueryClock = 0, 0, 0
		}
	}
}

// replaySnapshot reads a whole snapshot and returns the state it records
// and the number of bytes up to and including the last newline. A final
// line without a newline is ignored. Unknown lines and garbled lines are
// logged and skipped; only a read error fails the replay.
func replaySnapshot(r io.Reader, rejoinAfterLeave bool, logger *log.Logger) (snapshotState, int64, error) {
	st := newSnapshotState()
	br := bufio.NewReader(r)
	var complete int64
	for {
		raw, err := br.ReadString('\n')
		if err == io.EOF {
			if raw != "" {
				logger.Printf("[WARN] serf: Ignoring incomplete final snapshot line: %q", raw)
			}
			return st, complete, nil
		}
		if err != nil {
			return snapshotState{}, 0, err
		}
		complete += int64(len(raw))
		line := raw[:len(raw)-1]

		parsed, err := parseSnapshotLine(line)
		switch {
		case errors.Is(err, errUnrecognizedSnapshotLine):
			logger.Printf("[WARN] serf: Unrecognized snapshot line: %v", line)
			continue
		case err != nil:
			logger.Printf("[WARN] serf: Skipping malformed snapshot line %q: %v", line, err)
			continue
		}
		if parsed.kind == snapshotLineLeave && rejoinAfterLeave {
			logger.Printf("[INFO] serf: Ignoring previous leave in snapshot")
		}
		st.apply(parsed, rejoinAfterLeave)
	}
}

func formatSnapshotAliveLine(name, addr string) string {
	return snapshotAlivePrefix + name + " " + addr + "\n"
}

func formatSnapshotNotAliveLine(name string) string {
	return snapshotNotAlivePrefix + name + "\n"
}

func formatSnapshotClockLine(prefix string, t LamportTime) string {
	return prefix + strconv.FormatUint(uint64(t), 10) + "\n"
}

// formatCompactedSnapshot renders a state as a compacted file: one alive
// line per member (sorted by name; Serf uses map order, which any order
// satisfies), then all three clocks, even when zero. Never a leave line.
func formatCompactedSnapshot(st snapshotState) string {
	names := make([]string, 0, len(st.alive))
	for name := range st.alive {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(formatSnapshotAliveLine(name, st.alive[name]))
	}
	formatSnapshotLostLines(&b, st.lost)
	b.WriteString(formatSnapshotClockLine(snapshotClockPrefix, st.lastClock))
	b.WriteString(formatSnapshotClockLine(snapshotEventClockPrefix, st.lastEventClock))
	b.WriteString(formatSnapshotClockLine(snapshotQueryClockPrefix, st.lastQueryClock))
	return b.String()
}

// snapshotNameRecordable reports whether a member name can be written as a
// line. A name with a newline would split into lines of its own choosing
// (a remote node could plant a "leave" or a huge clock), so it is refused.
func snapshotNameRecordable(name string) bool {
	return name != "" && !strings.ContainsRune(name, '\n')
}

// snapshotMemberAddr formats a member's address as Serf writes it.
func snapshotMemberAddr(m *Member) string {
	return (&net.TCPAddr{IP: m.Addr, Port: int(m.Port)}).String()
}

// ---------------------------------------------------------------------------
// The recorder: a goroutine pair around an append-only file.

// Snapshotter records member changes and clock values in a file as events
// flow from Serf to the application, so that a restarted node can rejoin
// the members it knew and will not deliver old events and queries again.
//
// Two goroutines run until shutdownCh is closed: one takes events from the
// input channel, hands them to the recorder and forwards them to outCh; the
// other writes the file. Wait blocks until both have stopped.
type Snapshotter struct {
	path             string
	minCompactSize   int64
	rejoinAfterLeave bool
	logger           *log.Logger
	clock            *LamportClock
	metrics          *metrics.Metrics // nil: the go-metrics global
	now              func() time.Time

	inCh       chan Event
	streamCh   chan Event
	outCh      chan<- Event
	shutdownCh <-chan struct{}
	leaveCh    chan chan struct{}
	wg         sync.WaitGroup

	// Owned by the writing goroutine once it runs.
	fh                      *os.File
	buffered                *bufio.Writer
	offset                  int64 // size of the file including buffered bytes
	lastFlush               time.Time
	lastAttemptedCompaction time.Time
	leaving                 bool

	// Bounds of state.lost (SetLostLimits), guarded by mu.
	lostCapacity int
	lostWindow   time.Duration

	// mu guards state, which only the writing goroutine changes but the
	// accessors read.
	mu    sync.Mutex
	state snapshotState
}

// NewSnapshotter opens (or creates) the snapshot at path, replays it, and
// starts recording. It returns the channel Serf must send its events to;
// every event is forwarded to outCh. The goroutines stop when shutdownCh is
// closed. minCompactSize <= 0 means SnapshotMinCompactSize; a nil logger
// logs to stderr; a nil metricsSink means the go-metrics global.
func NewSnapshotter(path string, minCompactSize int, rejoinAfterLeave bool,
	logger *log.Logger, clock *LamportClock, outCh chan<- Event,
	shutdownCh <-chan struct{}, metricsSink *metrics.Metrics) (chan<- Event, *Snapshotter, error) {
	s, err := openSnapshotter(path, minCompactSize, rejoinAfterLeave, logger, clock, outCh, shutdownCh, metricsSink)
	if err != nil {
		return nil, nil, err
	}
	s.start()
	return s.inCh, s, nil
}

// openSnapshotter does everything NewSnapshotter does except starting the
// goroutines, so tests can drive the recorder step by step.
func openSnapshotter(path string, minCompactSize int, rejoinAfterLeave bool,
	logger *log.Logger, clock *LamportClock, outCh chan<- Event,
	shutdownCh <-chan struct{}, metricsSink *metrics.Metrics) (*Snapshotter, error) {
	if path == "" {
		return nil, errors.New("snapshot: empty path")
	}
	if clock == nil {
		return nil, errors.New("snapshot: nil member clock")
	}
	if minCompactSize <= 0 {
		minCompactSize = SnapshotMinCompactSize
	}
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}

	fh, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0644)
	if err != nil {
		// The *PathError already names the file; Serf's text is
		// "failed to open snapshot: open <path>: <reason>".
		return nil, fmt.Errorf("failed to open snapshot: %w", err)
	}
	st, complete, err := replaySnapshot(fh, rejoinAfterLeave, logger)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("failed to replay snapshot %q: %w", path, err)
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("failed to stat snapshot %q: %w", path, err)
	}
	if info.Size() > complete {
		// Serf would append after the torn line and garble the next
		// record; dropping the ignored bytes keeps every later line whole.
		if err := fh.Truncate(complete); err != nil {
			fh.Close()
			return nil, fmt.Errorf("failed to drop incomplete final line of snapshot %q: %w", path, err)
		}
	}

	s := &Snapshotter{
		path:             path,
		minCompactSize:   int64(minCompactSize),
		rejoinAfterLeave: rejoinAfterLeave,
		logger:           logger,
		clock:            clock,
		metrics:          metricsSink,
		now:              time.Now,
		inCh:             make(chan Event, snapshotEventChSize),
		streamCh:         make(chan Event, snapshotEventChSize),
		outCh:            outCh,
		shutdownCh:       shutdownCh,
		leaveCh:          make(chan chan struct{}),
		fh:               fh,
		buffered:         bufio.NewWriter(fh),
		offset:           complete,
		state:            st,
	}
	s.lastFlush = s.now()
	return s, nil
}

func (s *Snapshotter) start() {
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.teeStream()
	}()
	go func() {
		defer s.wg.Done()
		s.stream()
	}()
}

// AliveNodes returns the members currently recorded as alive, sorted by
// name. Right after NewSnapshotter these are the ones replayed from the
// file, to rejoin.
func (s *Snapshotter) AliveNodes() []*PreviousNode {
	s.mu.Lock()
	defer s.mu.Unlock()
	nodes := make([]*PreviousNode, 0, len(s.state.alive))
	for name, addr := range s.state.alive {
		nodes = append(nodes, &PreviousNode{Name: name, Addr: addr})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes
}

// LastClock returns the last member clock recorded (replayed at open).
func (s *Snapshotter) LastClock() LamportTime {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.lastClock
}

// LastEventClock returns the last user-event clock recorded.
func (s *Snapshotter) LastEventClock() LamportTime {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.lastEventClock
}

// LastQueryClock returns the last query clock recorded.
func (s *Snapshotter) LastQueryClock() LamportTime {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.lastQueryClock
}

// Leave records that this node is leaving gracefully: it writes the leave
// marker, flushes and fsyncs. From then on member, user and query events
// are no longer recorded (clock lines still are). Unless rejoinAfterLeave
// is set, the alive set is also cleared. Leave returns once the marker is
// on disk, or when shutdown begins.
func (s *Snapshotter) Leave() {
	done := make(chan struct{})
	select {
	case s.leaveCh <- done:
	case <-s.shutdownCh:
		return
	}
	select {
	case <-done:
	case <-s.shutdownCh:
	}
}

// Wait blocks until both goroutines have stopped, which they do after
// shutdownCh is closed, once the file is flushed, synced and closed.
func (s *Snapshotter) Wait() {
	s.wg.Wait()
}

// teeStream hands each event to the recorder and forwards it to outCh.
func (s *Snapshotter) teeStream() {
	defer close(s.streamCh)
	for {
		select {
		case e := <-s.inCh:
			s.record(e)
			s.forward(e)
		case <-s.shutdownCh:
			// Record what is already queued; forward only if there is
			// room, since the consumer is shutting down as well.
			for n := len(s.inCh); n > 0; n-- {
				e := <-s.inCh
				s.record(e)
				s.forwardIfRoom(e)
			}
			return
		}
	}
}

// record passes e to the writing goroutine without blocking. As in Serf,
// an event that finds the stream full is not recorded (it is still
// forwarded); the next clock or alive line repairs most of the loss.
func (s *Snapshotter) record(e Event) {
	select {
	case s.streamCh <- e:
	default:
		s.logger.Printf("[WARN] serf: Snapshot stream full, not recording %s", e.String())
	}
}

// forward delivers e to outCh.
//
// Serf 0.10 forwards with a non-blocking send only, so an event finding
// the next stage full is lost. Here the non-blocking send comes first, and
// if outCh is full we wait for room, giving up only when shutdown begins.
// Inside Serf the next stage always drains (the consumer stage at the end
// of the pipeline bounds its wait on the program's reader), so the wait
// is short; a program using the Snapshotter on its own gets back-pressure
// instead of loss. Recording is not delayed by this, because the event
// was handed to the recorder before forwarding.
func (s *Snapshotter) forward(e Event) {
	if s.outCh == nil || s.forwardIfRoom(e) {
		return
	}
	select {
	case s.outCh <- e:
	case <-s.shutdownCh:
	}
}

// forwardIfRoom sends e to outCh if that does not block.
func (s *Snapshotter) forwardIfRoom(e Event) bool {
	if _, ok := e.(forgetLostEvent); ok {
		return true // for the recorder only
	}
	if s.outCh == nil {
		return false
	}
	select {
	case s.outCh <- e:
		return true
	default:
		return false
	}
}

// stream is the writing goroutine.
func (s *Snapshotter) stream() {
	ticker := time.NewTicker(snapshotClockInterval)
	defer ticker.Stop()
	for {
		select {
		case done := <-s.leaveCh:
			s.handleLeave()
			close(done)

		case e, ok := <-s.streamCh:
			if !ok { // closed by teeStream, which only happens at shutdown
				s.handleShutdown()
				return
			}
			s.processEvent(e)

		case <-ticker.C:
			s.updateClock()
			s.flushIfIdle()

		case <-s.shutdownCh:
			s.handleShutdown()
			return
		}
	}
}

// handleShutdown records what is still pending, for at most
// snapshotShutdownDrainLimit, then flushes, syncs and closes the file.
func (s *Snapshotter) handleShutdown() {
	limit := time.NewTimer(snapshotShutdownDrainLimit)
	defer limit.Stop()
drain:
	for {
		select {
		case e, ok := <-s.streamCh:
			if !ok {
				break drain
			}
			s.processEvent(e)
		case <-limit.C:
			break drain
		}
	}

	s.updateClock()
	if err := s.buffered.Flush(); err != nil {
		s.logger.Printf("[ERR] serf: failed to flush snapshot: %v", err)
	}
	if err := s.fh.Sync(); err != nil {
		s.logger.Printf("[ERR] serf: failed to sync snapshot: %v", err)
	}
	if err := s.fh.Close(); err != nil {
		s.logger.Printf("[ERR] serf: failed to close snapshot: %v", err)
	}
}

// handleLeave writes the leave marker and makes it durable.
func (s *Snapshotter) handleLeave() {
	s.leaving = true
	if !s.rejoinAfterLeave {
		s.mu.Lock()
		s.state.alive = make(map[string]string)
		s.state.lost = make(map[string]lostRecord)
		s.mu.Unlock()
	}
	// Written directly rather than through appendLine: a compaction
	// triggered here would drop the marker, which compaction never writes.
	n, err := s.buffered.WriteString(snapshotLeaveLine + "\n")
	s.offset += int64(n)
	if err != nil {
		s.logger.Printf("[ERR] serf: failed to write leave to snapshot: %v", err)
		return
	}
	s.lastFlush = s.now()
	if err := s.buffered.Flush(); err != nil {
		s.logger.Printf("[ERR] serf: failed to flush leave to snapshot: %v", err)
		return
	}
	if err := s.fh.Sync(); err != nil {
		s.logger.Printf("[ERR] serf: failed to sync leave to snapshot: %v", err)
	}
}

// processEvent records one event. After the leave marker, nothing but
// clock lines is written.
func (s *Snapshotter) processEvent(e Event) {
	if s.leaving {
		return
	}
	switch ev := e.(type) {
	case MemberEvent:
		s.processMemberEvent(ev)
	case *MemberEvent:
		if ev != nil {
			s.processMemberEvent(*ev)
		}
	case UserEvent:
		s.processUserEvent(ev)
	case forgetLostEvent:
		s.forgetLost(ev.name)
	case *Query:
		if ev != nil {
			s.processQuery(ev)
		}
	}
}

func (s *Snapshotter) processMemberEvent(e MemberEvent) {
	switch e.Type {
	case EventMemberJoin:
		for i := range e.Members {
			m := &e.Members[i]
			if !snapshotNameRecordable(m.Name) {
				s.logger.Printf("[WARN] serf: Not recording member with unrecordable name %q in snapshot", m.Name)
				continue
			}
			addr := snapshotMemberAddr(m)
			s.mu.Lock()
			s.state.alive[m.Name] = addr
			s.mu.Unlock()
			s.tryAppend(formatSnapshotAliveLine(m.Name, addr))
			s.recordLost(e.Type, m)
		}
	case EventMemberLeave, EventMemberFailed:
		for i := range e.Members {
			m := &e.Members[i]
			if !snapshotNameRecordable(m.Name) {
				continue
			}
			s.mu.Lock()
			delete(s.state.alive, m.Name)
			s.mu.Unlock()
			s.tryAppend(formatSnapshotNotAliveLine(m.Name))
			s.recordLost(e.Type, m)
		}
	}
	// Every member event, update and reap included, checks the clock.
	s.updateClock()
}

func (s *Snapshotter) processUserEvent(e UserEvent) {
	s.mu.Lock()
	newer := e.LTime > s.state.lastEventClock
	if newer {
		s.state.lastEventClock = e.LTime
	}
	s.mu.Unlock()
	if newer {
		s.tryAppend(formatSnapshotClockLine(snapshotEventClockPrefix, e.LTime))
	}
}

func (s *Snapshotter) processQuery(q *Query) {
	s.mu.Lock()
	newer := q.LTime > s.state.lastQueryClock
	if newer {
		s.state.lastQueryClock = q.LTime
	}
	s.mu.Unlock()
	if newer {
		s.tryAppend(formatSnapshotClockLine(snapshotQueryClockPrefix, q.LTime))
	}
}

// updateClock writes a clock line if the member clock moved past the last
// value written. The clock's Time() is the next value to use, so the last
// one used is Time()-1.
func (s *Snapshotter) updateClock() {
	next := s.clock.Time()
	if next == 0 {
		return
	}
	lastSeen := next - 1
	s.mu.Lock()
	newer := lastSeen > s.state.lastClock
	if newer {
		s.state.lastClock = lastSeen
	}
	s.mu.Unlock()
	if newer {
		s.tryAppend(formatSnapshotClockLine(snapshotClockPrefix, lastSeen))
	}
}

// flushIfIdle flushes buffered lines that no later append has flushed.
// Serf leaves them in memory until the next append or shutdown; flushing
// on the ticker bounds how much a crash can lose, without changing what
// the file contains.
func (s *Snapshotter) flushIfIdle() {
	if s.buffered.Buffered() == 0 || s.now().Sub(s.lastFlush) <= snapshotFlushInterval {
		return
	}
	s.lastFlush = s.now()
	if err := s.buffered.Flush(); err != nil {
		s.recoverFromWriteError(err)
	}
}

// tryAppend appends a line, and on failure tries to recover.
func (s *Snapshotter) tryAppend(line string) {
	if err := s.appendLine(line); err != nil {
		s.recoverFromWriteError(err)
	}
}

// recoverFromWriteError logs a write error and, at most once every
// snapshotErrorRecoveryInterval, rewrites the file by compaction, which
// also replaces the writer (a bufio.Writer keeps failing after an error).
func (s *Snapshotter) recoverFromWriteError(err error) {
	s.logger.Printf("[ERR] serf: Failed to update snapshot: %v", err)
	now := s.now()
	if !s.lastAttemptedCompaction.IsZero() && now.Sub(s.lastAttemptedCompaction) <= snapshotErrorRecoveryInterval {
		return
	}
	s.lastAttemptedCompaction = now
	s.logger.Printf("[INFO] serf: Attempting compaction to recover from error...")
	if err := s.compact(); err != nil {
		s.logger.Printf("[ERR] serf: Compaction failed, will reattempt after %v: %v", snapshotErrorRecoveryInterval, err)
		return
	}
	s.logger.Printf("[INFO] serf: Finished compaction, successfully recovered from error state")
}

// appendLine writes one line, flushing if the last flush is older than
// snapshotFlushInterval, and compacts when the file has grown too big.
func (s *Snapshotter) appendLine(line string) error {
	defer s.measureSince(snapshotAppendLineMetric, time.Now())

	n, err := s.buffered.WriteString(line)
	s.offset += int64(n)
	if err != nil {
		return err
	}
	if now := s.now(); now.Sub(s.lastFlush) > snapshotFlushInterval {
		s.lastFlush = now
		if err := s.buffered.Flush(); err != nil {
			return err
		}
	}
	if s.offset > s.maxSize() {
		return s.compact()
	}
	return nil
}

// maxSize is the size past which the file is compacted.
func (s *Snapshotter) maxSize() int64 {
	s.mu.Lock()
	alive := int64(len(s.state.alive) + len(s.state.lost))
	s.mu.Unlock()
	threshold := alive * snapshotBytesPerNode * snapshotCompactionFactor
	if threshold < s.minCompactSize {
		return s.minCompactSize
	}
	return threshold
}

// compact rewrites the file as the current state: it writes
// <path>.compact, syncs it, and renames it over the live file, which is
// then reopened for appending.
func (s *Snapshotter) compact() error {
	defer s.measureSince(snapshotCompactMetric, time.Now())

	s.mu.Lock()
	content := formatCompactedSnapshot(s.state)
	s.mu.Unlock()

	newPath := s.path + snapshotCompactSuffix
	if err := writeCompactedSnapshot(newPath, content); err != nil {
		return err
	}

	// The compacted file holds everything, so a failed flush of the old
	// writer loses nothing.
	_ = s.buffered.Flush()
	_ = s.fh.Close()

	// Renaming over the live file is atomic on POSIX, so a crash leaves
	// either the old or the new file. Serf deletes first, then renames;
	// that is kept only as the fallback for systems that refuse to rename
	// over an existing file.
	renameErr := os.Rename(newPath, s.path)
	if renameErr != nil {
		if err := os.Remove(s.path); err == nil || errors.Is(err, os.ErrNotExist) {
			renameErr = os.Rename(newPath, s.path)
		}
	}
	if renameErr == nil {
		syncSnapshotDir(s.path)
	}

	// Reopen whatever file is now in place, so that appends continue even
	// if the rename failed.
	fh, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0644)
	if err != nil {
		return fmt.Errorf("failed to reopen snapshot %q after compaction: %w", s.path, err)
	}
	s.fh = fh
	s.buffered = bufio.NewWriter(fh)
	s.lastFlush = s.now()
	if info, err := fh.Stat(); err == nil {
		s.offset = info.Size()
	} else {
		s.offset = int64(len(content))
	}
	if renameErr != nil {
		return fmt.Errorf("failed to install compacted snapshot %q: %w", newPath, renameErr)
	}
	return nil
}

// writeCompactedSnapshot writes content to path durably.
func writeCompactedSnapshot(path, content string) error {
	// Mode 0755 is what Serf 0.10 uses for the compacted file.
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_TRUNC|os.O_CREATE, 0755)
	if err != nil {
		return fmt.Errorf("failed to open new snapshot %q: %w", path, err)
	}
	buf := bufio.NewWriter(fh)
	_, err = buf.WriteString(content)
	if err == nil {
		err = buf.Flush()
	}
	if err == nil {
		err = fh.Sync()
	}
	if closeErr := fh.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("failed to write new snapshot %q: %w", path, err)
	}
	return nil
}

// syncSnapshotDir makes a rename in the snapshot's directory durable, on
// systems that support syncing a directory. Errors are ignored: the file
// contents are already synced.
func syncSnapshotDir(path string) {
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return
	}
	_ = dir.Sync()
	_ = dir.Close()
}

func (s *Snapshotter) measureSince(key []string, start time.Time) {
	if s.metrics != nil {
		s.metrics.MeasureSince(key, start)
		return
	}
	metrics.MeasureSince(key, start)
}
