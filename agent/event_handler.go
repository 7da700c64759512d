package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/hashicorp/go-metrics"

	"github.com/serfclone/serf/serf"
)

// Defaults of the handler runner.
const (
	// DefaultHandlerQueueLimit is how many events may wait in each lane.
	DefaultHandlerQueueLimit = 1024
	// DefaultHandlerKillGrace is how long a script asked to stop (SIGTERM)
	// has before it is killed (SIGKILL).
	DefaultHandlerKillGrace = time.Second
)

// slowScriptWarning is when a still-running handler gets a warning.
const slowScriptWarning = time.Second

// HandlerConfig configures the handler runner.
type HandlerConfig struct {
	// Self returns the local member, whose name, tags, address and port
	// fill SERF_SELF_*, SERF_TAG_*. Nil means an empty member.
	Self func() serf.Member
	// Scripts are the configured handlers, in order.
	Scripts []EventScript
	// Logger receives the runner's log lines and the scripts' output.
	// Nil discards them.
	Logger *log.Logger
	// QueueLimit is how many events may wait in each lane (member, user,
	// query); past it events are dropped, or member events merged. <= 0
	// means DefaultHandlerQueueLimit.
	QueueLimit int
	// Timeout bounds one script run; 0 means no limit, as in Serf.
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL to a script's
	// process group, at its timeout and at shutdown. <= 0 means
	// DefaultHandlerKillGrace.
	KillGrace time.Duration
	// ResponseLimit is how many bytes of a script's output are kept, the
	// tail of which answers a query. <= 0 means 8 KiB, Serf's size.
	ResponseLimit int
	// Metrics receives the runner's metrics; nil means go-metrics'
	// process-wide instance.
	Metrics *metrics.Metrics
}

// DefaultHandlerConfig returns a configuration with the defaults filled
// in and no scripts.
func DefaultHandlerConfig() HandlerConfig {
	return HandlerConfig{
		QueueLimit:    DefaultHandlerQueueLimit,
		KillGrace:     DefaultHandlerKillGrace,
		ResponseLimit: defaultResponseLimit,
	}
}

// withDefaults fills the unset fields of c.
func (c HandlerConfig) withDefaults() HandlerConfig {
	d := DefaultHandlerConfig()
	if c.Self == nil {
		c.Self = func() serf.Member { return serf.Member{} }
	}
	if c.Logger == nil {
		c.Logger = log.New(io.Discard, "", 0)
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = d.QueueLimit
	}
	if c.Timeout < 0 {
		c.Timeout = 0
	}
	if c.KillGrace <= 0 {
		c.KillGrace = d.KillGrace
	}
	if c.ResponseLimit <= 0 {
		c.ResponseLimit = d.ResponseLimit
	}
	return c
}

// errHandlerStopped refuses to start a script once Shutdown has begun.
var errHandlerStopped = errors.New("handler runner is shutting down")

// ScriptEventHandler runs the configured handler scripts for each event.
//
// Events wait in three bounded lanes, member events, user events and
// queries, each served by a goroutine of its own: within a lane scripts
// run one at a time in event order; a slow script delays only later
// events of its own lane, never another lane, the agent's event loop, RPC
// streams or membership. Each script runs in a process group of its own,
// which is stopped (SIGTERM, then SIGKILL after KillGrace) at Timeout and
// at Shutdown, so no handler process outlives the agent.
type ScriptEventHandler struct {
	conf    HandlerConfig
	logger  *log.Logger
	metrics handlerMetrics

	scriptsLock sync.RWMutex
	scripts     *scriptSet

	lanes map[string]*lane

	// runCtx is the parent of every script run; Shutdown cancels it,
	// which sends SIGTERM to every running script's process group.
	runCtx     context.Context
	cancelRuns context.CancelFunc
	stop       chan struct{}
	lanesWG    sync.WaitGroup
	lanesDone  chan struct{}

	// groupsLock guards closed and groups: the process groups that are
	// running, or that a finished script left processes in.
	groupsLock sync.Mutex
	closed     bool
	groups     map[*processGroup]struct{}
	// killedAt is when Shutdown sent SIGKILL to what was left.
	killedAt time.Time

	shutdownOnce sync.Once
}

// NewScriptEventHandler starts the runner and its lanes; Shutdown stops
// them.
func NewScriptEventHandler(conf HandlerConfig) *ScriptEventHandler {
	return newScriptEventHandler(conf, dropWarnInterval)
}

func newScriptEventHandler(conf HandlerConfig, warnEvery time.Duration) *ScriptEventHandler {
	conf = conf.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &ScriptEventHandler{
		conf:       conf,
		logger:     conf.Logger,
		metrics:    handlerMetrics{m: conf.Metrics},
		scripts:    &scriptSet{scripts: conf.Scripts},
		lanes:      make(map[string]*lane, len(laneNames)),
		runCtx:     ctx,
		cancelRuns: cancel,
		stop:       make(chan struct{}),
		lanesDone:  make(chan struct{}),
		groups:     make(map[*processGroup]struct{}),
	}
	for _, name := range laneNames {
		l := newLane(name, conf.QueueLimit, h.metrics, h.warnDropped, warnEvery)
		h.lanes[name] = l
		h.lanesWG.Add(1)
		go h.serveLane(l)
	}
	go func() {
		h.lanesWG.Wait()
		close(h.lanesDone)
	}()
	return h
}

// UpdateScripts replaces the scripts for events that arrive from now on
// (SIGHUP). Events already waiting run the scripts they arrived under.
func (h *ScriptEventHandler) UpdateScripts(scripts []EventScript) {
	h.scriptsLock.Lock()
	defer h.scriptsLock.Unlock()
	h.scripts = &scriptSet{scripts: scripts}
}

// HandleEvent queues the event in its lane; it never blocks. An event no
// script would run for is not queued.
func (h *ScriptEventHandler) HandleEvent(e serf.Event) {
	h.scriptsLock.RLock()
	set := h.scripts
	h.scriptsLock.RUnlock()
	if !set.matches(e) {
		return
	}
	h.lanes[laneOf(e)].enqueue(queuedEvent{event: e, scripts: set})
}

// warnDropped is the rate-limited warning of a full lane.
func (h *ScriptEventHandler) warnDropped(lane string, limit, n int) {
	h.logger.Printf("[WARN] agent: Handler queue for %s events is full (%d waiting): dropped %d event(s)", lane, limit, n)
}

// serveLane runs the lane's events until the runner stops.
func (h *ScriptEventHandler) serveLane(l *lane) {
	defer h.lanesWG.Done()
	for {
		it, ok := l.next(h.stop)
		if !ok {
			return
		}
		h.dispatch(l, it)
	}
}

// dispatch runs every script whose filter matches, in configuration order.
func (h *ScriptEventHandler) dispatch(l *lane, it queuedEvent) {
	eventType, name := eventTypeAndName(it.event)
	for _, s := range it.scripts.scripts {
		if !s.Matches(eventType, name) {
			continue
		}
		select {
		case <-h.stop:
			return
		default:
		}
		if q, ok := it.event.(*serf.Query); ok {
			if d := q.Deadline(); !d.IsZero() && time.Now().After(d) {
				h.logger.Printf("[WARN] agent: Query '%s' deadline passed before script '%s' could start, not running it", q.Name, s.Script)
				h.metrics.incr(metricExpired, l.name, 1)
				continue
			}
		}
		h.runScript(l.name, s.Script, it.event)
	}
}

// Shutdown stops the runner, as net/http's Server.Shutdown does: it stops
// taking events (those still waiting are dropped), asks every script's
// process group to stop (SIGTERM), kills those still there after
// KillGrace (SIGKILL), and waits for every lane goroutine and script.
// When ctx ends first, whatever is left is killed at once and ctx's error
// returned; the kill is sent a little before ctx's deadline, so that the
// processes are gone by then. Safe to call more than once.
func (h *ScriptEventHandler) Shutdown(ctx context.Context) error {
	h.shutdownOnce.Do(h.beginShutdown)

	killAt := time.Now().Add(h.conf.KillGrace)
	if dl, ok := ctx.Deadline(); ok {
		if early := dl.Add(-shutdownKillMargin); early.Before(killAt) {
			killAt = early
		}
	}
	killTimer := time.NewTimer(time.Until(killAt))
	defer killTimer.Stop()
	poll := time.NewTicker(groupPollInterval)
	defer poll.Stop()

	for {
		select {
		case <-h.lanesDone:
			// Processes a script left behind may outlast their shell;
			// after SIGKILL they are given one more grace to vanish and
			// then no longer waited for.
			killedAt := h.killTime()
			if !h.anyGroupAlive() || (!killedAt.IsZero() && time.Since(killedAt) > h.conf.KillGrace) {
				return nil
			}
		default:
		}
		select {
		case <-ctx.Done():
			h.killGroups()
			return fmt.Errorf("stop event handlers: %w", ctx.Err())
		case <-killTimer.C:
			if n := h.killGroups(); n > 0 {
				h.logger.Printf("[WARN] agent: %d handler process group(s) still running after %s, sent %s",
					n, terminateSignalName, killSignalName)
			}
		case <-poll.C:
		}
	}
}

// Stop shuts the runner down with no deadline beyond its own kill grace.
func (h *ScriptEventHandler) Stop() { _ = h.Shutdown(context.Background()) }

const (
	// shutdownKillMargin is how long before Shutdown's deadline the
	// remaining process groups are killed.
	shutdownKillMargin = 200 * time.Millisecond
	// groupPollInterval is how often Shutdown and a stopped script's
	// lane look whether a process group is gone.
	groupPollInterval = 10 * time.Millisecond
)

// beginShutdown closes the lanes, cancels every running script (SIGTERM to
// its group through the command's Cancel) and asks the groups finished
// scripts left behind to stop.
func (h *ScriptEventHandler) beginShutdown() {
	h.groupsLock.Lock()
	h.closed = true
	h.groupsLock.Unlock()

	close(h.stop)
	waiting := 0
	for _, name := range laneNames {
		waiting += h.lanes[name].close()
	}
	if waiting > 0 {
		h.logger.Printf("[INFO] agent: Stopping event handlers: %d waiting event(s) will not run", waiting)
	}
	h.cancelRuns()

	h.groupsLock.Lock()
	defer h.groupsLock.Unlock()
	for g := range h.groups {
		if !g.isRunning() {
			_ = g.terminate()
		}
	}
}

// killGroups sends SIGKILL to every tracked group that is still there,
// records when, and returns how many it signalled.
func (h *ScriptEventHandler) killGroups() int {
	h.groupsLock.Lock()
	defer h.groupsLock.Unlock()
	if h.killedAt.IsZero() {
		h.killedAt = time.Now()
	}
	n := 0
	for g := range h.groups {
		if g.alive() {
			n++
			_ = g.kill()
		}
	}
	return n
}

// killTime returns when Shutdown first sent SIGKILL; zero if not yet.
func (h *ScriptEventHandler) killTime() time.Time {
	h.groupsLock.Lock()
	defer h.groupsLock.Unlock()
	return h.killedAt
}

// anyGroupAlive reports whether a tracked group still has a process.
func (h *ScriptEventHandler) anyGroupAlive() bool {
	h.groupsLock.Lock()
	defer h.groupsLock.Unlock()
	for g := range h.groups {
		if g.alive() {
			return true
		}
	}
	return false
}
