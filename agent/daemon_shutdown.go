package agent

import (
	"context"
	"sync"
)

// shutdown stops everything start started, in the order net/http's
// Server.Shutdown would: stop taking new work, let the work in flight
// finish until the deadline, then wait for every goroutine. Each step
// copes with its part never having started (a failed start).
func (d *Daemon) shutdown(ctx context.Context) {
	// 1. Joins: those in flight are abandoned, retry join ends.
	if d.agent != nil {
		d.agent.AbandonJoins()
	}
	if d.retry != nil {
		d.retry.Stop()
	}
	// 2. Event handlers, bounded by the deadline.
	d.stopHandlers(ctx)
	// 3. Listeners: mDNS responder and poller, the RPC server and its
	// connections.
	if d.mdns != nil {
		d.mdns.Shutdown()
	}
	if d.ipc != nil {
		d.ipc.Shutdown()
	}
	if d.http != nil {
		if err := d.http.Shutdown(ctx); err != nil {
			d.logger.Printf("[WARN] agent: HTTP server shutdown: %v", err)
		}
	}
	// 4. Serf, the agent's event loop and gauges.
	if d.agent != nil {
		if err := d.agent.Shutdown(); err != nil {
			d.logger.Printf("[ERR] agent: shutdown failed: %v", err)
		}
	}
	// 5. systemd watchdog, page release and telemetry.
	close(d.stopBackground)
	d.wg.Wait()
	d.telemetry.Stop()
	// 6. What was left running at a deadline (a leave, the handler stop),
	// bounded by the deadline now. Abandoned joins are not waited for:
	// nothing can stop them, and they end on memberlist's TCP timeout or
	// with the process.
	if !waitGroupContext(ctx, &d.stragglers) {
		d.logger.Printf("[WARN] agent: shutdown deadline passed with a leave or event handler still running")
	}
}

// stopHandlers stops the event handler runner, waiting for it at most
// until ctx is done. It is a step of its own so that the runner's own
// bounded Shutdown(ctx) can take its place.
func (d *Daemon) stopHandlers(ctx context.Context) {
	if d.scripts == nil {
		return
	}
	done := make(chan struct{})
	d.stragglers.Add(1)
	go func() {
		defer d.stragglers.Done()
		defer close(done)
		// The runner's own bound: SIGTERM to every running script's
		// process group, SIGKILL after its grace, all before ctx ends.
		hctx, cancel := context.WithTimeout(ctx, HandlerShutdownTimeout)
		defer cancel()
		if err := d.scripts.Shutdown(hctx); err != nil {
			d.logger.Printf("[WARN] agent: %v", err)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		d.logger.Printf("[WARN] agent: event handler still running at the shutdown deadline; not waiting for it")
	}
}

// waitGroupContext waits for wg until ctx is done, and reports whether
// wg finished.
func waitGroupContext(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
