package serf

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/coordinate"
	"github.com/serfclone/serf/transport"
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
//
// Locks. Each lock, what it guards, and the order they may be taken in:
// a goroutine holding a lock may only take locks further down the list.
//
//	1  joinLock        serializes Join (and the eventJoinIgnore window);
//	                   memberlist's merge callbacks run under it, so it
//	                   comes before every lock they take.
//	2  querySendLock   serializes Query, so two queries never share an
//	                   LTime; handleQuery runs under it.
//	3  leaveLock       makes memberlist's Leave and Shutdown exclusive.
//	4  memberLock      members, failedMembers, leftMembers, recentIntents.
//	5  queryLock       queryBuffer, queryMinTime, queryResponse.
//	6  eventLock       eventBuffer, eventMinTime.
//	7  tagsLock        tags.
//	8  coordCacheLock  coordCache (and, under it, coordClient's own lock).
//	9  stateLock       state.
//	10 goLock          goClosed, against wg.Add after Shutdown's wait.
//
// Locks 5 to 10 are leaves in practice: nothing is taken while holding
// one, except that memberLock's holders take 8, 9 and 10. KeyManager.lock
// comes before all of them: a key change runs its query under it. The
// other locks of the package (QueryResponse.closeLock, Query.respLock,
// Snapshotter.mu, addressBook.mu) are leaves.
//
// What may be done while holding a lock: event sends into the pipeline
// (emit), because every stage of the pipeline is Serf's own, takes none of
// these locks, and keeps draining (the consumer stage bounds its wait on
// the program's reader); non-blocking sends; log lines and metrics. Never
// a call into the program's code (ReconnectTimeoutOverride is asked off
// the member lock; the MergeDelegate runs from memberlist with no Serf
// lock held) and never a wait for the network, except Join's, which is
// the point of joinLock, and leaveLock's bounded memberlist Leave.
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

	// eventCh is the head of the event pipeline; pipeline.go lists its
	// stages in the order events flow.
	eventCh chan<- Event

	memberLock    versionedRWMutex
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

	pushes pushBudget // rate limit of push.go
	// pushRingCache is the member order pushes follow (push_tree.go).
	pushRingCache pushRingCache

	tagsLock sync.RWMutex
	tags     map[string]string

	joinLock sync.Mutex
	// leaveLock: memberlist panics on a Leave that starts after its
	// Shutdown.
	leaveLock sync.Mutex
	stateLock sync.Mutex
	state     SerfState

	shutdownCh chan struct{}
	wg         sync.WaitGroup // every goroutine Serf starts but the joins
	joins      abandonableJoins
	goLock     sync.Mutex // guards goClosed against wg.Add
	// joinSyncPending is set while a state exchange after a join waits
	// (join.go).
	joinSyncPending atomic.Bool
	goClosed        bool

	snapshotter *Snapshotter
	// previousNodes are the members the snapshot recorded as alive, taken
	// from the replay alone before memberlist runs: once it does, the
	// recorder adds this node's own join, which is no one to rejoin.
	previousNodes []*PreviousNode
	keyManager    *KeyManager
	// book remembers lost peers for the heal loop (heal.go).
	book *addressBook

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
	if err := conf.check(); err != nil {
		return nil, err
	}
	s, err := newSerf(conf)
	if err != nil {
		return nil, err
	}
	if err := s.buildEventPipeline(); err != nil {
		s.stopPipeline()
		return nil, err
	}
	if err := s.setupCoordinates(); err != nil {
		s.stopPipeline()
		return nil, err
	}
	s.setupBroadcastQueues()
	if err := s.startMemberlist(); err != nil {
		s.stopPipeline()
		return nil, err
	}
	s.startBackgroundLoops()
	s.startRejoin()
	return s, nil
}

// loggerOr returns logger, or when it is nil a standard logger writing to
// out (stderr when out is nil too), as Serf and memberlist both choose.
func loggerOr(logger *log.Logger, out io.Writer) *log.Logger {
	if logger != nil {
		return logger
	}
	if out == nil {
		out = os.Stderr
	}
	return log.New(out, "", log.LstdFlags)
}

// newSerf builds the instance's state: logger, member tables, the
// de-duplication rings, tags (checked to fit memberlist's meta) and the
// three clocks, each started at 1 so that an LTime of 0 never looks new.
func newSerf(conf *Config) (*Serf, error) {
	logger := loggerOr(conf.Logger, conf.LogOutput)
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
		book:          newAddressBook(conf.NodeName, conf.AddressBookSize, conf.RejoinWindow),
	}
	if err := ValidateTags(s.tags, conf.ProtocolVersion); err != nil {
		return nil, err
	}
	s.clock.Increment()
	s.eventClock.Increment()
	s.queryClock.Increment()
	return s, nil
}

// setupCoordinates starts the Vivaldi client unless coordinates are off.
func (s *Serf) setupCoordinates() error {
	if s.config.DisableCoordinates {
		return nil
	}
	client, err := coordinate.NewClient(coordinate.DefaultConfig())
	if err != nil {
		return fmt.Errorf("failed to create coordinate client: %w", err)
	}
	s.coordClient = client
	s.coordCache = map[string]*coordinate.Coordinate{s.config.NodeName: client.GetCoordinate()}
	return nil
}

// setupBroadcastQueues builds the three gossip queues and the key manager.
func (s *Serf) setupBroadcastQueues() {
	numNodes := func() int { return int(s.numMembers.Load()) }
	retransmit := s.config.MemberlistConfig.RetransmitMult
	s.broadcasts = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmit}
	s.eventBroadcasts = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmit}
	s.queryBroadcasts = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: retransmit}
	s.keyManager = &KeyManager{serf: s}
}

// startMemberlist fills in the fields of the memberlist configuration Serf
// owns (name, delegates, protocol versions) and starts memberlist.
func (s *Serf) startMemberlist() error {
	conf := s.config
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
		ml.Logger = s.logger
	}
	if ml.Transport != nil {
		list, err := memberlist.Create(ml)
		if err != nil {
			return fmt.Errorf("Failed to create memberlist: %w", err)
		}
		s.memberlist = list
		return nil
	}

	// No transport given: ours (see package transport), set on a copy of
	// the memberlist config so that the caller's config never holds a
	// transport that this Serf shuts down.
	logger := loggerOr(ml.Logger, ml.LogOutput)
	tr, err := transport.New(transport.Config{
		BindAddrs:    []string{ml.BindAddr},
		BindPort:     ml.BindPort,
		Logger:       logger,
		MetricLabels: ml.MetricLabels,
	})
	if err != nil {
		return fmt.Errorf("Failed to create memberlist: could not set up network transport: %w", err)
	}
	if ml.BindPort == 0 {
		// As memberlist does for its own transport: the port the kernel
		// chose is the one to bind and advertise.
		ml.BindPort = tr.Port()
		ml.AdvertisePort = ml.BindPort
	}
	own := *ml
	own.Transport = tr
	list, err := memberlist.Create(&own)
	if err != nil {
		_ = tr.Shutdown()
		return fmt.Errorf("Failed to create memberlist: %w", err)
	}
	s.memberlist = list
	return nil
}

// startBackgroundLoops starts the reaper, the reconnector, the three
// queue-depth checks and the heal loop.
func (s *Serf) startBackgroundLoops() {
	s.goFunc(s.reapLoop)
	s.goFunc(s.reconnectLoop)
	s.goFunc(func() { s.checkQueueDepth("Intent", s.broadcasts) })
	s.goFunc(func() { s.checkQueueDepth("Event", s.eventBroadcasts) })
	s.goFunc(func() { s.checkQueueDepth("Query", s.queryBroadcasts) })
	s.startHeal()
}

// startRejoin tries, in the background, the members the snapshot recorded
// as alive.
func (s *Serf) startRejoin() {
	if len(s.previousNodes) > 0 {
		previous := s.previousNodes
		s.goFunc(func() { s.handleRejoin(previous) })
	}
}

// goFunc runs f on a goroutine that Shutdown waits for, and reports
// whether it did. Once Shutdown has begun waiting nothing new is started:
// the work would be moot, and a WaitGroup must not grow while it is
// waited on.
func (s *Serf) goFunc(f func()) bool {
	s.goLock.Lock()
	defer s.goLock.Unlock()
	if s.goClosed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
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
// shuts itself down after losing a name conflict. Call Shutdown then too:
// it waits for Serf's goroutines to end.
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
	if err := ValidateTags(tags, s.config.ProtocolVersion); err != nil {
		return err
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
		s.syncAfterJoin() // join.go
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
		case <-s.shutdownCh:
			return errShutdown
		}
	}

	if err := s.leaveMemberlist(); err != nil {
		return err
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

// leaveMemberlist leaves memberlist unless Serf is shutting down, which a
// concurrent Shutdown may have begun at any point of Leave. A Shutdown
// racing this waits for it, at most BroadcastTimeout.
func (s *Serf) leaveMemberlist() error {
	s.leaveLock.Lock()
	defer s.leaveLock.Unlock()
	if s.State() == SerfShutdown {
		return errShutdown
	}
	if err := s.memberlist.Leave(s.config.BroadcastTimeout); err != nil {
		s.logger.Printf("[WARN] serf: timeout waiting for leave broadcast: %s", err)
	}
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

// Shutdown stops the instance without telling the cluster, and waits for
// every goroutine Serf started (the joins it abandons aside, which end on
// memberlist's own timeouts). Peers will see the node as failed unless
// Leave was called first. It is safe to call more than once, and after
// Serf shut itself down (see ShutdownCh).
func (s *Serf) Shutdown() error {
	err := s.stop()
	if s.snapshotter != nil {
		s.snapshotter.Wait()
	}
	s.waitGoroutines()
	return err
}

// stop begins the shutdown, once: it stops memberlist and closes
// shutdownCh, which every goroutine of Serf watches. It does not wait for
// them, so a goroutine of Serf's own (the name conflict resolution) can
// call it; whoever called Create then calls Shutdown, which waits.
func (s *Serf) stop() error {
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

	s.leaveLock.Lock()
	err := s.memberlist.Shutdown()
	s.leaveLock.Unlock()
	close(s.shutdownCh)
	return err
}

// broadcast encodes msg and queues it on the intent queue.
func (s *Serf) broadcast(t messageType, msg interface{}, notify chan<- struct{}) error {
	raw, err := encodeMessage(t, msg)
	if err != nil {
		return err
	}
	s.queueBounded(s.broadcasts, &broadcast{msg: raw, notify: notify})
	return nil
}

// emit hands an event to the pipeline, giving up only at shutdown.
func (s *Serf) emit(e Event) {
	s.book.observe(e)
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
		_, err := s.joinUnlessShutdown([]string{prev.Name + "/" + prev.Addr})
		if errors.Is(err, errShutdown) {
			return
		}
		if err == nil {
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
