package agent

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"
)

// gracefulTimeout bounds a graceful leave on a signal, as in Serf; past
// it the agent exits with status 1.
const gracefulTimeout = 3 * time.Second

// waitForStop handles signals until one stops the agent, or the agent
// stops by itself, and returns the exit code with the deadline of the
// shutdown that follows. A graceful leave, when one is due, happens here,
// because its outcome decides the exit code.
func (d *Daemon) waitForStop(ctx context.Context) (int, context.Context, context.CancelFunc) {
	signalCh := make(chan os.Signal, 4)
	signal.Notify(signalCh, handledSignals...)
	defer signal.Stop(signalCh)

	for {
		var sig os.Signal
		select {
		case s := <-signalCh:
			sig = s
		case <-ctx.Done():
			sig = os.Interrupt
		case <-d.agent.ShutdownCh():
			// Serf stopped by itself (a lost name conflict) or an RPC leave.
			stopCtx, cancel := d.stopDeadline()
			return 0, stopCtx, cancel
		case <-d.retry.Fatal():
			stopCtx, cancel := d.stopDeadline()
			return 1, stopCtx, cancel
		}

		d.ui.Output(fmt.Sprintf("Caught signal: %v", sig))
		if isReloadSignal(sig) {
			d.reloadConfig()
			continue
		}

		stopCtx, cancel := d.stopDeadline()
		// No join may hold the stop: neither one in flight nor the retry
		// loop's next attempt.
		d.agent.AbandonJoins()
		d.retry.Stop()

		graceful := (sig == os.Interrupt && !d.conf.SkipLeaveOnInt) || (isTerminateSignal(sig) && d.conf.LeaveOnTerm)
		if !graceful {
			return 1, stopCtx, cancel
		}
		return d.leave(stopCtx, cancel, signalCh), stopCtx, cancel
	}
}

// leave leaves the cluster, giving up after gracefulTimeout, at the
// shutdown deadline, or on a second signal; each of those exits 1. A
// second signal also ends the shutdown's deadline (stop), so the exit
// follows at once.
func (d *Daemon) leave(ctx context.Context, stop context.CancelFunc, signalCh <-chan os.Signal) int {
	d.ui.Output("Gracefully shutting down agent...")
	_ = d.notifier.Notify("STOPPING=1")
	ctx, cancel := context.WithTimeout(ctx, gracefulTimeout)
	defer cancel()

	done := make(chan error, 1)
	d.stragglers.Add(1)
	go func() {
		defer d.stragglers.Done()
		done <- d.agent.Leave()
	}()
	select {
	case <-signalCh:
		stop()
		return 1
	case <-ctx.Done():
		return 1
	case err := <-done:
		if err == nil {
			return 0
		}
		// As Serf: the error is shown and the agent waits out the
		// graceful timeout (or a second signal) before exiting 1.
		d.ui.Error(fmt.Sprintf("Error: %s", err))
		select {
		case <-ctx.Done():
		case <-signalCh:
			stop()
		}
		return 1
	}
}

// reloadConfig re-reads the configuration and applies what Serf applies
// on SIGHUP: log level, event handlers and tags; and, beyond Serf, a new
// retry_join list.
func (d *Daemon) reloadConfig() {
	d.ui.Output("Reloading configuration...")
	conf, warnings, err := d.reload()
	if err != nil {
		d.ui.Error(err.Error())
		d.ui.Error("Failed to reload configs")
		return
	}
	for _, w := range warnings {
		d.ui.Error(w)
	}
	old := d.conf

	if level, err := ValidateLogLevel(conf.LogLevel); err != nil {
		d.ui.Error(err.Error())
		conf.LogLevel = old.LogLevel
	} else {
		for _, f := range d.logFilters {
			f.SetMinLevel(level)
		}
	}

	// BuildConfig has parsed and checked the handler specs.
	d.scripts.UpdateScripts(conf.Scripts)

	// A changed retry_join list takes effect, and a retry loop starts if
	// one is now configured and none runs.
	d.retry.SetAddrs(conf.RetryJoin)
	if len(conf.RetryJoin) > 0 && d.agent.Serf().NumMembers() <= 1 {
		d.retry.Start(conf)
	}

	// Serf 0.10 replaces the tags with the configured ones here, which
	// wipes a tags file. With a tags file we keep the runtime tags: the
	// file is their source of truth.
	if conf.TagsFile == "" {
		if err := d.agent.SetTags(conf.Tags); err != nil {
			d.ui.Error(fmt.Sprintf("Failed to update tags: %v", err))
		}
	}
	d.conf = conf
}
