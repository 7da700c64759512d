package agent

import (
	"runtime/debug"
	"time"
)

// The agent's memory, tuned for a process that runs on every node of a
// fleet and mostly idles. docs/performance.md has the measurements.
const (
	// DefaultGCPercent is the agent's garbage collector target (Go's
	// GOGC) when the environment sets none. An idle agent holds well
	// under 1 MiB of live heap, but memberlist allocates for every packet
	// it sends, so at Go's default of 100 the heap grows to the 4 MiB
	// floor Go gives small heaps before each collection. At 75 that floor
	// is 3 MiB, about 1.3 MiB less resident memory per agent. Lower goes
	// further (50: 2 MiB less) but makes the collector run during every
	// burst of events: with 64 agents on 2 CPUs, 50 took an event from 88
	// to 106 ms to reach every handler, 75 to 98 ms.
	DefaultGCPercent = 75

	// startupPagesDelay is how long after start the agent lets go of the
	// binary's pages (releaseStartupPages), once the first gossip,
	// push-pull and collection have run.
	startupPagesDelay = 10 * time.Second
)

// tuneGC sets DefaultGCPercent unless GOGC (env) is set, which Go has
// already applied.
func tuneGC(env string) {
	if env == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
}

// startPageRelease releases the start-up pages once, startupPagesDelay
// after start, unless the daemon stops first.
func (d *Daemon) startPageRelease() {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTimer(startupPagesDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-d.stopBackground:
			return
		}
		if err := releaseStartupPages(); err != nil {
			d.logger.Printf("[DEBUG] agent: start-up pages kept: %v", err)
		}
	}()
}
