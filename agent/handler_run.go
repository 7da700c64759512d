package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/serfclone/serf/serf"
)

// runScript runs one script for one event and, for a query, answers with
// the tail of its output, as Serf does. Its output goes to the log line by
// line: stdout at DEBUG, stderr at WARN.
func (h *ScriptEventHandler) runScript(laneName, script string, e serf.Event) {
	label := eventLabel(e)
	start := time.Now()
	output, timedOut, err := h.invoke(laneName, script, label, e)
	if errors.Is(err, errHandlerStopped) {
		return // the agent is stopping; the script never started
	}
	h.metrics.since(metricRunTime, laneName, start)
	h.metrics.invoked(script, start)

	if timedOut {
		h.metrics.incr(metricTimeouts, laneName, 1)
	}
	if err != nil {
		h.metrics.incr(metricFailures, laneName, 1)
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			h.logger.Printf("[WARN] agent: Error invoking script '%s': %s (event '%s')", script, err, label)
		} else {
			h.logger.Printf("[ERR] agent: Error invoking script '%s': %s (event '%s')", script, err, label)
		}
		return
	}
	if q, ok := e.(*serf.Query); ok && len(output) > 0 {
		if err := q.Respond(output); err != nil {
			h.logger.Printf("[WARN] agent: Failed to respond to query '%s': %s", q.String(), err)
		}
	}
}

// invoke runs script through /bin/sh in a process group of its own and
// returns the kept tail of its output and whether it hit the timeout. A
// script that exited cleanly but left a process holding its output is a
// success: its output is read for KillGrace more, then no longer.
func (h *ScriptEventHandler) invoke(laneName, script, label string, e serf.Event) (output []byte, timedOut bool, err error) {
	ctx, cancel := context.WithCancel(h.runCtx)
	if h.conf.Timeout > 0 {
		ctx, cancel = context.WithTimeout(h.runCtx, h.conf.Timeout)
	}
	defer cancel()

	tail := newTailBuffer(h.conf.ResponseLimit)
	stdout := newLineLogger(h.logger, "[DEBUG] agent: Event '"+label+"' script '"+script+"' stdout: ")
	stderr := newLineLogger(h.logger, "[WARN] agent: Event '"+label+"' script '"+script+"' stderr: ")

	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	self := h.conf.Self()
	cmd.Env = append(os.Environ(), eventEnv(self, e)...)
	cmd.Env = append(cmd.Env, extraEnv(self, h.conf.Timeout)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, false, err
	}
	cmd.Stdout = &teeWriter{tail, stdout}
	cmd.Stderr = &teeWriter{tail, stderr}
	// Once the shell has exited or been asked to stop, its output pipes
	// are read for at most KillGrace more: a backgrounded child holding
	// them cannot hang the lane.
	cmd.WaitDelay = h.conf.KillGrace
	placeInOwnGroup(cmd)

	group := newProcessGroup()
	var timeoutHit atomic.Bool
	cmd.Cancel = func() error {
		if h.runCtx.Err() == nil {
			timeoutHit.Store(true)
			h.logger.Printf("[WARN] agent: Script '%s' for event '%s' timed out after %v, sending %s to its process group",
				script, label, h.conf.Timeout, terminateSignalName)
		}
		return group.terminate()
	}

	err = h.startTracked(cmd, group)
	if !errors.Is(err, errHandlerStopped) {
		h.metrics.incr(metricRuns, laneName, 1)
	}
	if err != nil {
		stdin.Close()
		return nil, false, err
	}
	// The payload is written while the script runs, as Serf does; Wait
	// closes the pipe once the script has exited, which ends the write.
	written := make(chan error, 1)
	go func() {
		_, werr := stdin.Write(eventStdin(e))
		stdin.Close()
		written <- werr
	}()
	slow := time.AfterFunc(slowScriptWarning, func() {
		h.logger.Printf("[WARN] agent: Script '%s' slow, execution exceeding %v", script, slowScriptWarning)
	})
	err = cmd.Wait()
	slow.Stop()
	group.setDone()
	stdout.Flush()
	stderr.Flush()
	if werr := <-written; werr != nil && laneName != laneMember {
		// A script that does not read its payload: Serf logs it for
		// user events and queries only.
		h.logger.Printf("[ERR] Error writing payload: %s", werr)
	}
	output = tail.Bytes()
	h.logger.Printf("[DEBUG] agent: Event '%s' script output: %s", eventTypeOf(e), output)

	if _, stopping := group.stopRequested(); stopping {
		h.finishStop(group, script, label)
	}
	h.release(group, script, label)

	if errors.Is(err, exec.ErrWaitDelay) {
		h.logger.Printf("[WARN] agent: Script '%s' for event '%s' exited but left a process holding its output; no longer reading it",
			script, label)
		err = nil
	}
	return output, timeoutHit.Load(), err
}

// startTracked starts cmd, unless the runner is shutting down, and tracks
// its process group so Shutdown can stop it. Holding the lock across the
// start means Shutdown either sees the group or the run sees Shutdown.
func (h *ScriptEventHandler) startTracked(cmd *exec.Cmd, g *processGroup) error {
	h.groupsLock.Lock()
	defer h.groupsLock.Unlock()
	if h.closed {
		return errHandlerStopped
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	g.setProcess(cmd.Process)
	h.groups[g] = struct{}{}
	return nil
}

// finishStop completes the stop of a script asked to stop: processes of
// its group that outlived the shell get until KillGrace after the SIGTERM,
// then SIGKILL.
func (h *ScriptEventHandler) finishStop(g *processGroup, script, label string) {
	at, _ := g.stopRequested()
	deadline := at.Add(h.conf.KillGrace)
	for g.alive() && time.Now().Before(deadline) {
		time.Sleep(groupPollInterval) // polling the kernel, not waiting on a test condition
	}
	if g.alive() && !g.wasKilled() {
		h.logger.Printf("[WARN] agent: Script '%s' for event '%s' still running %v after %s, sending %s to its process group",
			script, label, h.conf.KillGrace, terminateSignalName, killSignalName)
		_ = g.kill()
	}
}

// release stops tracking a finished run's group, unless processes the
// script started are still in it: those stay tracked, so Shutdown stops
// them too. Groups left earlier that are now empty are forgotten.
func (h *ScriptEventHandler) release(g *processGroup, script, label string) {
	h.groupsLock.Lock()
	defer h.groupsLock.Unlock()
	for other := range h.groups {
		if other != g && !other.alive() {
			delete(h.groups, other)
		}
	}
	if g.alive() {
		h.logger.Printf("[DEBUG] agent: Script '%s' for event '%s' left processes running; they are stopped when the agent stops",
			script, label)
		return
	}
	delete(h.groups, g)
}

// teeWriter writes to the kept tail and to the line logger.
type teeWriter struct {
	tail *tailBuffer
	log  *lineLogger
}

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.tail.Write(p)
	return t.log.Write(p)
}
