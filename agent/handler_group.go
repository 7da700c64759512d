package agent

import (
	"os"
	"sync"
	"time"
)

// processGroup is one script run's process group as the runner tracks it:
// from the start of the shell until no process of the group is left, or
// the agent stops. On Windows it is the shell process alone.
type processGroup struct {
	proc *os.Process

	mu sync.Mutex
	// running is true until the shell has been waited for; afterwards the
	// group may linger on through processes the script left behind.
	running bool
	// terminatedAt is when the group was asked to stop; zero if never.
	terminatedAt time.Time
	killed       bool
}

// newProcessGroup returns the group of a script about to start.
func newProcessGroup() *processGroup {
	return &processGroup{running: true}
}

// setProcess records the started shell. A stop requested before (the
// command's context can end between the start and this call) is sent now.
func (g *processGroup) setProcess(proc *os.Process) {
	g.mu.Lock()
	g.proc = proc
	pending := !g.terminatedAt.IsZero()
	g.mu.Unlock()
	if pending {
		_ = signalGroup(proc, false)
	}
}

// terminate asks every process of the group to stop (SIGTERM).
func (g *processGroup) terminate() error {
	return g.signal(false)
}

// kill stops every process of the group at once (SIGKILL).
func (g *processGroup) kill() error {
	return g.signal(true)
}

func (g *processGroup) signal(force bool) error {
	g.mu.Lock()
	if g.terminatedAt.IsZero() {
		g.terminatedAt = time.Now()
	}
	if force {
		g.killed = true
	}
	proc := g.proc
	g.mu.Unlock()
	if proc == nil {
		return nil
	}
	return signalGroup(proc, force)
}

// stopRequested returns when terminate or kill was first called.
func (g *processGroup) stopRequested() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.terminatedAt, !g.terminatedAt.IsZero()
}

// wasKilled reports whether kill was called.
func (g *processGroup) wasKilled() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.killed
}

// setDone records that the shell has been waited for.
func (g *processGroup) setDone() {
	g.mu.Lock()
	g.running = false
	g.mu.Unlock()
}

// isRunning reports whether the shell has not been waited for yet.
func (g *processGroup) isRunning() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}

// alive reports whether any process of the group is left. While the shell
// has not been waited for, it is there at least as a zombie.
func (g *processGroup) alive() bool {
	g.mu.Lock()
	running, proc := g.running, g.proc
	g.mu.Unlock()
	if proc == nil {
		return false
	}
	return running || groupAlive(proc)
}
