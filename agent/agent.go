package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"

	"github.com/serfclone/serf/serf"
)

// EventHandler consumes the events the agent receives from Serf: the
// script runner and every RPC event stream.
type EventHandler interface {
	HandleEvent(serf.Event)
}

// Agent runs a Serf instance for the `serf agent` command: it feeds the
// events to the handlers and offers the operations the RPC server needs.
type Agent struct {
	agentConf *Config
	serfConf  *serf.Config

	logger    *log.Logger
	logOutput io.Writer

	// eventCh receives every event from Serf.
	eventCh chan serf.Event

	handlersLock sync.RWMutex
	handlers     map[EventHandler]struct{}

	serf *serf.Serf

	// joinCtx is cancelled when shutdown starts: joins in flight are then
	// abandoned. memberlist's Join cannot be interrupted, so the goroutine
	// running it is left to end on memberlist's TCP timeout, or with the
	// process.
	joinCtx     context.Context
	cancelJoins context.CancelFunc

	// tagsLock serialises tag changes so the tags file and the gossiped
	// tags never disagree.
	tagsLock sync.Mutex

	shutdownLock sync.Mutex
	isShutdown   bool
	shutdownCh   chan struct{}
	// wg counts the agent's own goroutines besides the event loop (the
	// cluster gauges); Shutdown waits for them.
	wg sync.WaitGroup
	// stopping is closed when Shutdown starts, so the event loop can tell
	// a requested shutdown from Serf stopping on its own.
	stopping chan struct{}
	loopDone chan struct{}
}

// Create prepares an agent; Start starts Serf. serfConf.EventCh is set by
// the agent.
func Create(agentConf *Config, serfConf *serf.Config, logOutput io.Writer) (*Agent, error) {
	if logOutput == nil {
		logOutput = io.Discard
	}
	a := &Agent{
		agentConf:  agentConf,
		serfConf:   serfConf,
		logger:     log.New(logOutput, "", log.LstdFlags),
		logOutput:  logOutput,
		eventCh:    make(chan serf.Event, 64),
		handlers:   make(map[EventHandler]struct{}),
		shutdownCh: make(chan struct{}),
		stopping:   make(chan struct{}),
		loopDone:   make(chan struct{}),
	}
	a.joinCtx, a.cancelJoins = context.WithCancel(context.Background())
	serfConf.EventCh = a.eventCh
	return a, nil
}

// Start creates the Serf instance and starts delivering its events.
func (a *Agent) Start() error {
	a.logger.Printf("[INFO] agent: Serf agent starting")
	s, err := serf.Create(a.serfConf)
	if err != nil {
		return fmt.Errorf("Error creating Serf: %w", err)
	}
	a.serf = s
	go a.eventLoop()
	return nil
}

// Serf returns the running Serf instance.
func (a *Agent) Serf() *serf.Serf { return a.serf }

// Config returns the agent configuration it was started with.
func (a *Agent) Config() *Config { return a.agentConf }

// Logger returns the agent's logger.
func (a *Agent) Logger() *log.Logger { return a.logger }

// RegisterEventHandler adds a consumer of events.
func (a *Agent) RegisterEventHandler(h EventHandler) {
	a.handlersLock.Lock()
	defer a.handlersLock.Unlock()
	a.handlers[h] = struct{}{}
}

// DeregisterEventHandler removes a consumer of events.
func (a *Agent) DeregisterEventHandler(h EventHandler) {
	a.handlersLock.Lock()
	defer a.handlersLock.Unlock()
	delete(a.handlers, h)
}

// eventLoop hands each event to every handler, one event at a time. When
// Serf stops by itself (a lost name conflict), it shuts the agent down in
// place, so no goroutine outlives the loop.
func (a *Agent) eventLoop() {
	defer close(a.loopDone)
	serfShutdown := a.serf.ShutdownCh()
	for {
		select {
		case e := <-a.eventCh:
			a.logger.Printf("[INFO] agent: Received event: %s", e.String())
			a.handlersLock.RLock()
			for h := range a.handlers {
				h.HandleEvent(e)
			}
			a.handlersLock.RUnlock()
		case <-serfShutdown:
			select {
			case <-a.stopping:
			default:
				a.logger.Printf("[WARN] agent: Serf shutdown detected, quitting")
				if err := a.shutdown(); err != nil {
					a.logger.Printf("[ERR] agent: shutdown failed: %v", err)
				}
			}
			return
		case <-a.stopping:
			return
		}
	}
}

// Leave leaves the cluster gracefully.
// A shutdown may overtake a leave the daemon stopped waiting for; the
// library then returns an error instead of leaving.
func (a *Agent) Leave() error {
	if a.serf == nil {
		return nil
	}
	a.logger.Println("[INFO] agent: requesting graceful leave from Serf")
	return a.serf.Leave()
}

// Shutdown stops Serf without leaving, and waits for the event loop and
// the cluster gauges. Safe to call more than once, from any goroutine but
// an event handler's.
func (a *Agent) Shutdown() error {
	err := a.shutdown()
	if a.serf != nil {
		<-a.loopDone
	}
	a.wg.Wait()
	return err
}

// shutdown stops Serf and closes ShutdownCh, without waiting for the
// event loop, which calls it too.
func (a *Agent) shutdown() error {
	a.shutdownLock.Lock()
	defer a.shutdownLock.Unlock()
	if a.isShutdown {
		return nil
	}
	select {
	case <-a.stopping:
	default:
		close(a.stopping)
	}
	a.AbandonJoins()
	if a.serf != nil {
		a.logger.Println("[INFO] agent: requesting serf shutdown")
		if err := a.serf.Shutdown(); err != nil {
			return err
		}
	}
	a.logger.Println("[INFO] agent: shutdown complete")
	a.isShutdown = true
	close(a.shutdownCh)
	return nil
}

// ShutdownCh is closed when the agent has shut down.
func (a *Agent) ShutdownCh() <-chan struct{} { return a.shutdownCh }

// errJoinAbandoned is the result of a join the agent stopped waiting for.
var errJoinAbandoned = errors.New("join abandoned: the agent is shutting down")

// Join joins the cluster through the given addresses. It returns early,
// with errJoinAbandoned, once shutdown has started: a join to a host that
// accepts the connection and never answers would otherwise hold the
// shutdown for memberlist's TCP timeout per address.
func (a *Agent) Join(addrs []string, replay bool) (int, error) {
	a.logger.Printf("[INFO] agent: joining: %v replay: %v", addrs, replay)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	if a.joinCtx.Err() != nil {
		return 0, errJoinAbandoned
	}
	go func() {
		n, err := a.serf.Join(addrs, !replay)
		done <- result{n, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-a.joinCtx.Done():
		r = result{0, errJoinAbandoned}
	}
	if r.n > 0 {
		a.logger.Printf("[INFO] agent: joined: %d nodes", r.n)
	}
	if r.err != nil {
		a.logger.Printf("[WARN] agent: error joining: %v", r.err)
	}
	return r.n, r.err
}

// AbandonJoins makes every join in flight, and every later one, return
// errJoinAbandoned at once. Shutdown calls it first; the daemon calls it as
// soon as a signal asks it to stop.
func (a *Agent) AbandonJoins() { a.cancelJoins() }

// ForceLeave force-leaves a failed node, optionally erasing it.
func (a *Agent) ForceLeave(node string, prune bool) error {
	var err error
	if prune {
		a.logger.Printf("[INFO] agent: Force leaving node (prune): %s", node)
		err = a.serf.RemoveFailedNodePrune(node)
	} else {
		a.logger.Printf("[INFO] agent: Force leaving node: %s", node)
		err = a.serf.RemoveFailedNode(node)
	}
	if err != nil {
		a.logger.Printf("[WARN] agent: failed to remove node: %v", err)
	}
	return err
}

// UserEvent sends a user event.
func (a *Agent) UserEvent(name string, payload []byte, coalesce bool) error {
	a.logger.Printf("[DEBUG] agent: Requesting user event send: %s. Coalesced: %#v. Payload: %#v",
		name, coalesce, string(payload))
	err := a.serf.UserEvent(name, payload, coalesce)
	if err != nil {
		a.logger.Printf("[WARN] agent: failed to send user event: %v", err)
	}
	return err
}

// errInternalQuery refuses user queries that would pose as Serf's own.
var errInternalQuery = errors.New("Queries cannot contain the '_serf_' prefix")

// Query sends a query. Names with Serf's internal prefix are refused,
// except the ping that `serf reachability` sends.
func (a *Agent) Query(name string, payload []byte, params *serf.QueryParam) (*serf.QueryResponse, error) {
	if strings.HasPrefix(name, serf.InternalQueryPrefix) {
		if name != serf.InternalQueryPrefix+"ping" || payload != nil {
			return nil, errInternalQuery
		}
	}
	a.logger.Printf("[DEBUG] agent: Requesting query send: %s. Payload: %#v", name, string(payload))
	resp, err := a.serf.Query(name, payload, params)
	if err != nil {
		a.logger.Printf("[WARN] agent: failed to start user query: %v", err)
	}
	return resp, err
}

// SetTags replaces the node's tags, writing the tags file first if one is
// configured, so a restart finds what the cluster was told. Tags Serf
// would refuse are refused before the file is touched.
func (a *Agent) SetTags(tags map[string]string) error {
	a.tagsLock.Lock()
	defer a.tagsLock.Unlock()
	return a.setTagsLocked(tags)
}

// UpdateTags applies an RPC tags request: set these, delete those. The
// current tags are read and the new ones written under one lock, so two
// requests at once both take effect.
func (a *Agent) UpdateTags(set map[string]string, del []string) error {
	a.tagsLock.Lock()
	defer a.tagsLock.Unlock()
	// Deletes go first: a tag both deleted and set ends up set, as in Serf.
	tags := a.serf.LocalTags()
	for _, k := range del {
		delete(tags, k)
	}
	for k, v := range set {
		tags[k] = v
	}
	return a.setTagsLocked(tags)
}

// setTagsLocked does SetTags' work; the caller holds tagsLock.
func (a *Agent) setTagsLocked(tags map[string]string) error {
	if err := serf.ValidateTags(tags, a.serfConf.ProtocolVersion); err != nil {
		return err
	}
	if a.agentConf.TagsFile != "" {
		if err := WriteTagsFile(a.agentConf.TagsFile, tags); err != nil {
			a.logger.Printf("[ERR] agent: %s", err)
			return err
		}
	}
	return a.serf.SetTags(tags)
}

// InstallKey installs a key on every member.
func (a *Agent) InstallKey(key string) (*serf.KeyResponse, error) {
	a.logger.Print("[INFO] agent: Initiating key installation")
	return a.serf.KeyManager().InstallKey(key)
}

// UseKey makes a key the primary key on every member.
func (a *Agent) UseKey(key string) (*serf.KeyResponse, error) {
	a.logger.Print("[INFO] agent: Initiating primary key change")
	return a.serf.KeyManager().UseKey(key)
}

// RemoveKey removes a key from every member.
func (a *Agent) RemoveKey(key string) (*serf.KeyResponse, error) {
	a.logger.Print("[INFO] agent: Initiating key removal")
	return a.serf.KeyManager().RemoveKey(key)
}

// ListKeys lists the keys of every member.
func (a *Agent) ListKeys() (*serf.KeyResponse, error) {
	a.logger.Print("[INFO] agent: Initiating key listing")
	return a.serf.KeyManager().ListKeys()
}
