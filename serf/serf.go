package serf

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/coordinate"
)

// SerfState is the life-cycle state of the local Serf instance.
type SerfState int

const (
	SerfAlive SerfState = iota
	SerfLeaving
	SerfLeft
	SerfShutdown
)

// String returns the state's name.
func (s SerfState) String() string {
	switch s {
	case SerfAlive:
		return "alive"
	case SerfLeaving:
		return "leaving"
	case SerfLeft:
		return "left"
	case SerfShutdown:
		return "shutdown"
	default:
		return "unknown"
	}
}

// memberlistProtocol maps each Serf protocol to the memberlist protocol it
// runs on. Every supported Serf version uses memberlist protocol 2.
var memberlistProtocol = map[uint8]uint8{2: 2, 3: 2, 4: 2, 5: 2}

// Serf is one member of a Serf cluster. Create it with Create and stop it
// with Leave then Shutdown.
type Serf struct {
	config *Config
	logger *log.Logger
	mx     metricsEmitter

	// The three Lamport clocks: membership intents, user events, queries.
	clock      LamportClock
	eventClock LamportClock
	queryClock LamportClock

	memberlist *memberlist.Memberlist

	// Broadcast queues, drained by GetBroadcasts in this order.
	broadcasts      *memberlist.TransmitLimitedQueue
	queryBroadcasts *memberlist.TransmitLimitedQueue
	eventBroadcasts *memberlist.TransmitLimitedQueue

	// eventCh is the head of the event pipeline (snapshot, internal
	// queries, coalescers, application).
	eventCh chan<- Event

	memberLock    sync.RWMutex
	members       map[string]*memberState
	failedMembers []*memberState
	leftMembers   []*memberState
	recentIntents *intentBuffer
	// numMembers mirrors len(members) so the broadcast queues can read it
	// without the member lock (they are called while it may be held).
	numMembers atomic.Int64

	eventLock       sync.Mutex
	eventBuffer     *eventRing
	eventMinTime    LamportTime
	eventJoinIgnore atomic.Bool

	querySendLock sync.Mutex
	queryLock     sync.Mutex
	queryBuffer   *queryRing
	queryMinTime  LamportTime
	queryResponse map[LamportTime]*QueryResponse

	tagsLock sync.RWMutex
	tags     map[string]string

	joinLock  sync.Mutex
	stateLock sync.Mutex
	state     SerfState

	shutdownCh chan struct{}
	wg         sync.WaitGroup // every goroutine Serf starts
	goLock     sync.Mutex     // guards goClosed against wg.Add
	goClosed   bool

	snapshotter *Snapshotter
	keyManager  *KeyManager

	coordClient    *coordinate.Client
	coordCache     map[string]*coordinate.Coordinate
	coordCacheLock sync.RWMutex
}

// Errors returned by the public API.
var (
	// ErrFeatureNotSupported is returned for queries on protocol < 4.
	ErrFeatureNotSupported = errors.New("Feature not supported")
	errLeaveInProgress     = errors.New("Leave already in progress")
	errShutdown            = errors.New("Serf is shut down")
	errNotAlive            = errors.New("Serf can't Join after Leave or Shutdown")
)

// Create starts a Serf instance and its memberlist. The node is alone
// until Join is called (or it rejoins from a snapshot).
func Create(conf *Config) (*Serf, error) {
	if conf == nil {
		return nil, errors.New("serf: nil config")
	}
	if conf.ProtocolVersion < ProtocolVersionMin {
		return nil, fmt.Errorf("Protocol version '%d' too low. Must be in range: [%d, %d]",
			conf.ProtocolVersion, ProtocolVersionMin, ProtocolVersionMax)
	}
	if conf.ProtocolVersion > ProtocolVersionMax {
		return nil, fmt.Errorf("Protocol version '%d' too high. Must be in range: [%d, %d]",
			conf.ProtocolVersion, ProtocolVersionMin, ProtocolVersionMax)
	}
	if conf.UserEventSizeLimit > UserEventSizeLimit {
		return nil, fmt.Errorf("user event size limit exceeds limit of %d bytes", UserEventSizeLimit)
	}
	if conf.MemberlistConfig == nil {
		return nil, errors.New("serf: nil MemberlistConfig")
	}
	if conf.ValidateNodeNames {
		if err := validateNodeName(conf.NodeName); err != nil {
			return nil, err
		}
	}

	logger := conf.Logger
	if logger == nil {
		out := conf.LogOutput
		if out == nil {
			out = os.Stderr
		}
		logger = log.New(out, "", log.LstdFlags)
	}

	s := &Serf{
		config:        conf,
		logger:        logger,
		mx:            metricsEmitter{sink: conf.Metrics, labels: conf.MetricLabels},
		members:       make(map[string]*memberState),
		recentIntents: newIntentBuffer(),
		eventBuffer:   newEventRing(conf.EventBuffer),
		queryBuffer:   newQueryRing(conf.QueryBuffer),
		queryResponse: make(map[LamportTime]*QueryResponse),
		tags:          copyTags(conf.Tags),
		shutdownCh:    make(chan struct{}),
		state:         SerfAlive,
	}

	if meta, err := encodeTags(s.tags, conf.ProtocolVersion); err != nil {
		return nil, err
	} else if len(meta) > MetaMaxSize {
		return nil, fmt.Errorf("Encoded length of tags exceeds limit of %d bytes", MetaMaxSize)
	}

	// Start every clock at 1 so that an LTime of 0 never looks new.
	s.clock.Increment()
	s.eventClock.Increment()
	s.queryClock.Increment()

	// Build the event pipeline back to front: application <- member
	// coalescer <- user coalescer <- internal queries <- snapshot.
	var outCh chan<- Event = conf.EventCh
	if outCh != nil && conf.CoalescePeriod > 0 && conf.QuiescentPeriod > 0 {
		outCh = coalescedEventCh(outCh, s.shutdownCh, conf.CoalescePeriod, conf.QuiescentPeriod, newMemberEventCoalescer())
	}
	if outCh != nil && conf.UserCoalescePeriod > 0 && conf.UserQuiescentPeriod > 0 {
		outCh = coalescedEventCh(outCh, s.shutdownCh, conf.UserCoalescePeriod, conf.UserQuiescentPeriod, newUserEventCoalescer())
	}
	outCh = s.startInternalQueries(outCh)

	var previous []*PreviousNode // the members to rejoin
	if conf.SnapshotPath != "" {
		inCh, snap, err := NewSnapshotter(conf.SnapshotPath, SnapshotMinCompactSize, conf.RejoinAfterLeave,
			logger, &s.clock, outCh, s.shutdownCh, conf.Metrics)
		if err != nil {
			close(s.shutdownCh)
			s.waitGoroutines()
			return nil, fmt.Errorf("Failed to setup snapshot: %w", err)
		}
		s.snapshotter = snap
		outCh = inCh
		// Taken now, from the replay alone: once memberlist runs, the
		// recorder adds this node's own join, which is no one to rejoin.
		previous = snap.AliveNodes()

		s.clock.Witness(snap.LastClock())
		s.eventClock.Witness(snap.LastEventClock())
		s.queryClock.Witness(snap.LastQueryClock())
		s.eventMinTime = snap.LastEventClock() + 1
		s.queryMinTime = snap.LastQueryClock() + 1
	}
	s.eventCh = outCh

	if !conf.DisableCoordinates {
		client, err := coordinate.NewClient(coordinate.DefaultConfig())
		if err != nil {
			s.stopPipeline()
			return nil, fmt.Errorf("failed to create coordinate client: %w", err)
		}
		s.coordClient = client
		s.coordCache = map[string]*coordinate.Coordinate{conf.NodeName: client.GetCoordinate()}
	}

	numNodes := func() int { return int(s.numMembers.Load()) }
	retransmit := conf.MemberlistConfig.RetransmitMult
	s.broadcasts = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmit}
	s.eventBroadcasts = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmit}
	s.queryBroadcasts = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmit}
	s.keyManager = &KeyManager{serf: s}

	ml := conf.MemberlistConfig
	ml.Name = conf.NodeName
	ml.Events = &eventDelegate{serf: s}
	ml.Conflict = &conflictDelegate{serf: s}
	ml.Delegate = &delegate{serf: s}
	ml.DelegateProtocolVersion = conf.ProtocolVersion
	ml.DelegateProtocolMin = ProtocolVersionMin
	ml.DelegateProtocolMax = ProtocolVersionMax
	ml.ProtocolVersion = memberlistProtocol[conf.ProtocolVersion]
	ml.MetricLabels = conf.MetricLabels
	if !conf.DisableCoordinates {
		ml.Ping = &pingDelegate{serf: s}
	}
	// Always installed: plaintext gossip can claim any member, and a claim
	// no real node can make (no name, no IP, tags that do not decode) must
	// never reach the member list, whether or not the program has a hook.
	md := &mergeDelegate{serf: s}
	ml.Merge = md
	ml.Alive = md
	if ml.Logger == nil && ml.LogOutput == nil {
		ml.Logger = logger
	}

	list, err := memberlist.Create(ml)
	if err != nil {
		s.stopPipeline()
		return nil, fmt.Errorf("Failed to create memberlist: %w", err)
	}
	s.memberlist = list

	s.goFunc(s.reapLoop)
	s.goFunc(s.reconnectLoop)
	s.goFunc(func() { s.checkQueueDepth("Intent", s.broadcasts) })
	s.goFunc(func() { s.checkQueueDepth("Event", s.eventBroadcasts) })
	s.goFunc(func() { s.checkQueueDepth("Query", s.queryBroadcasts) })

	if len(previous) > 0 {
		s.goFunc(func() { s.handleRejoin(previous) })
	}
	return s, nil
}

// goFunc runs f on a goroutine that Shutdown waits for. Once Shutdown has
// begun waiting nothing new is started: the work would be moot, and a
// WaitGroup must not grow while it is waited on.
func (s *Serf) goFunc(f func()) {
	s.goLock.Lock()
	defer s.goLock.Unlock()
	if s.goClosed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// stopPipeline stops the event pipeline goroutines when Create fails late.
func (s *Serf) stopPipeline() {
	close(s.shutdownCh)
	if s.snapshotter != nil {
		s.snapshotter.Wait()
	}
	s.waitGoroutines()
}

// waitGoroutines stops new goroutines from starting and waits for the
// running ones, which all watch shutdownCh.
func (s *Serf) waitGoroutines() {
	s.goLock.Lock()
	s.goClosed = true
	s.goLock.Unlock()
	s.wg.Wait()
}

// validNodeName is the character set allowed when ValidateNodeNames is on.
var validNodeName = regexp.MustCompile(`^[A-Za-z0-9\-.]+$`)

func validateNodeName(name string) error {
	if !validNodeName.MatchString(name) {
		return fmt.Errorf("Node name contains invalid characters %v , Valid characters include all alpha-numerics and dashes and '.' ", name)
	}
	if len(name) > 128 {
		return fmt.Errorf("Node name is %v characters. Node name must be 128 characters or less", len(name))
	}
	return nil
}

func copyTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// ProtocolVersion is the Serf protocol this node speaks.
func (s *Serf) ProtocolVersion() uint8 { return s.config.ProtocolVersion }

// EncryptionEnabled reports whether gossip is encrypted (a keyring is set).
func (s *Serf) EncryptionEnabled() bool { return s.config.MemberlistConfig.Keyring != nil }

// KeyManager returns the cluster key manager.
func (s *Serf) KeyManager() *KeyManager { return s.keyManager }

// Memberlist exposes the underlying memberlist, for the agent.
func (s *Serf) Memberlist() *memberlist.Memberlist { return s.memberlist }

// ShutdownCh is closed when the instance shuts down, including when it
// shuts itself down after losing a name conflict.
func (s *Serf) ShutdownCh() <-chan struct{} { return s.shutdownCh }

// State returns the local life-cycle state.
func (s *Serf) State() SerfState {
	s.stateLock.Lock()
	defer s.stateLock.Unlock()
	return s.state
}

// LocalMember returns the local node's member record.
func (s *Serf) LocalMember() Member {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	if ms, ok := s.members[s.config.NodeName]; ok {
		return ms.clone()
	}
	return Member{Name: s.config.NodeName, Tags: s.LocalTags(), Status: StatusNone}
}

// LocalTags returns a copy of the local node's tags.
func (s *Serf) LocalTags() map[string]string {
	s.tagsLock.RLock()
	defer s.tagsLock.RUnlock()
	return copyTags(s.tags)
}

// Members returns every known member, in any status, self included.
func (s *Serf) Members() []Member {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	out := make([]Member, 0, len(s.members))
	for _, ms := range s.members {
		out = append(out, ms.clone())
	}
	return out
}

// NumMembers returns the number of member records, every status included.
func (s *Serf) NumMembers() int { return int(s.numMembers.Load()) }

// SetTags replaces the local tags and gossips them with a new incarnation.
func (s *Serf) SetTags(tags map[string]string) error {
	meta, err := encodeTags(tags, s.config.ProtocolVersion)
	if err != nil {
		return err
	}
	if len(meta) > MetaMaxSize {
		return fmt.Errorf("Encoded length of tags exceeds limit of %d bytes", MetaMaxSize)
	}
	s.tagsLock.Lock()
	s.tags = copyTags(tags)
	s.tagsLock.Unlock()
	return s.memberlist.UpdateNode(s.config.BroadcastTimeout)
}

// Join contacts the given addresses and merges their cluster state. With
// ignoreOld, user events from before the join are not delivered. One join
// intent is broadcast if any address answered.
func (s *Serf) Join(existing []string, ignoreOld bool) (int, error) {
	if s.State() != SerfAlive {
		return 0, errNotAlive
	}
	s.joinLock.Lock()
	defer s.joinLock.Unlock()

	if ignoreOld {
		s.eventJoinIgnore.Store(true)
		defer s.eventJoinIgnore.Store(false)
	}
	num, err := s.memberlist.Join(existing)
	if num > 0 {
		if berr := s.broadcastJoin(s.clock.Time()); berr != nil {
			return num, berr
		}
	}
	return num, err
}

// broadcastJoin applies a join intent for this node at ltime and gossips it.
func (s *Serf) broadcastJoin(ltime LamportTime) error {
	msg := messageJoin{LTime: ltime, Node: s.config.NodeName}
	s.clock.Witness(ltime)
	s.handleNodeJoinIntent(&msg)
	if err := s.broadcast(messageJoinType, &msg, nil); err != nil {
		s.logger.Printf("[WARN] serf: Failed to broadcast join intent: %v", err)
		return err
	}
	return nil
}

// Leave gossips a leave intent, leaves memberlist and waits for the news
// to spread. Call Shutdown afterwards.
func (s *Serf) Leave() error {
	s.stateLock.Lock()
	switch s.state {
	case SerfLeft:
		s.stateLock.Unlock()
		return nil
	case SerfLeaving:
		s.stateLock.Unlock()
		return errLeaveInProgress
	case SerfShutdown:
		s.stateLock.Unlock()
		return errShutdown
	}
	s.state = SerfLeaving
	s.stateLock.Unlock()

	if s.snapshotter != nil {
		s.snapshotter.Leave()
	}

	msg := messageLeave{LTime: s.clock.Time(), Node: s.config.NodeName}
	s.clock.Increment()
	s.handleNodeLeaveIntent(&msg)

	if s.hasAliveMembers() {
		notify := make(chan struct{})
		if err := s.broadcast(messageLeaveType, &msg, notify); err != nil {
			return err
		}
		select {
		case <-notify:
		case <-time.After(s.config.BroadcastTimeout):
			s.logger.Printf("[WARN] serf: timeout while waiting for graceful leave")
		}
	}

	if err := s.memberlist.Leave(s.config.BroadcastTimeout); err != nil {
		s.logger.Printf("[WARN] serf: timeout waiting for leave broadcast: %s", err)
	}

	// Keep answering probes while the leave spreads.
	select {
	case <-time.After(s.config.LeavePropagateDelay):
	case <-s.shutdownCh:
	}

	s.stateLock.Lock()
	if s.state != SerfShutdown {
		s.state = SerfLeft
	}
	s.stateLock.Unlock()
	return nil
}

// hasAliveMembers reports whether any member other than this node is alive.
func (s *Serf) hasAliveMembers() bool {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	for name, m := range s.members {
		if name != s.config.NodeName && m.Status == StatusAlive {
			return true
		}
	}
	return false
}

// RemoveFailedNode force-leaves a failed (or any) node: it becomes left
// everywhere and is no longer reconnected to.
func (s *Serf) RemoveFailedNode(node string) error {
	return s.forceLeave(node, false)
}

// RemoveFailedNodePrune force-leaves a node and erases it at once.
func (s *Serf) RemoveFailedNodePrune(node string) error {
	return s.forceLeave(node, true)
}

func (s *Serf) forceLeave(node string, prune bool) error {
	msg := messageLeave{LTime: s.clock.Time(), Node: node, Prune: prune}
	s.clock.Increment()
	s.handleNodeLeaveIntent(&msg)

	if !s.hasAliveMembers() {
		return nil
	}
	notify := make(chan struct{})
	if err := s.broadcast(messageLeaveType, &msg, notify); err != nil {
		return err
	}
	select {
	case <-notify:
		return nil
	case <-time.After(s.config.BroadcastTimeout):
		return errors.New("timed out broadcasting node removal")
	case <-s.shutdownCh:
		return errShutdown
	}
}

// Shutdown stops the instance without telling the cluster. Peers will see
// the node as failed unless Leave was called first.
func (s *Serf) Shutdown() error {
	s.stateLock.Lock()
	if s.state == SerfShutdown {
		s.stateLock.Unlock()
		return nil
	}
	if s.state != SerfLeft {
		s.logger.Printf("[WARN] serf: Shutdown without a Leave")
	}
	s.state = SerfShutdown
	s.stateLock.Unlock()

	err := s.memberlist.Shutdown()
	close(s.shutdownCh)
	if s.snapshotter != nil {
		s.snapshotter.Wait()
	}
	s.waitGoroutines()
	return err
}

// broadcast encodes msg and queues it on the intent queue.
func (s *Serf) broadcast(t messageType, msg interface{}, notify chan<- struct{}) error {
	raw, err := encodeMessage(t, msg)
	if err != nil {
		return err
	}
	s.broadcasts.QueueBroadcast(&broadcast{msg: raw, notify: notify})
	return nil
}

// emit hands an event to the pipeline, giving up only at shutdown.
func (s *Serf) emit(e Event) {
	if s.eventCh == nil {
		return
	}
	select {
	case s.eventCh <- e:
	case <-s.shutdownCh:
	}
}

// handleRejoin tries the members remembered in the snapshot, one at a time
// in random order, until one answers. No join intent is sent.
func (s *Serf) handleRejoin(previous []*PreviousNode) {
	for _, i := range randPerm(len(previous)) {
		prev := previous[i]
		if prev.Name == s.config.NodeName {
			continue
		}
		select {
		case <-s.shutdownCh:
			return
		default:
		}
		s.logger.Printf("[INFO] serf: Attempting re-join to previously known node: %s", prev)
		if _, err := s.memberlist.Join([]string{prev.Name + "/" + prev.Addr}); err == nil {
			s.logger.Printf("[INFO] serf: Re-joined to previously known node: %s", prev)
			return
		}
	}
	s.logger.Printf("[WARN] serf: Failed to re-join any previously known node")
}

// localAddr returns the advertised address of this node as memberlist
// holds it (4 or 16 bytes for IPv4), and its port.
func (s *Serf) localAddr() (net.IP, uint16) {
	n := s.memberlist.LocalNode()
	return n.Addr, n.Port
}
