//go:build !windows

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// Signal tests (Unix signals, hence the build tag): SIGUSR1 dumps the
// metrics; and whatever the agent is waiting for (a join to a host that
// never answers, a running handler), SIGINT and SIGTERM end it within
// broadcast_timeout plus two seconds.

func TestIntegrationShutdownAbandonsJoinInFlight(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			hole := testutil.NewBlackhole(t).Addr().String()
			// The lan profile waits 10s for a TCP answer; the local one
			// only 1s, which would hide the hang.
			a := startOpsAgent(t, "hole-"+sig.String()[:3], "-profile=lan", "-broadcast-timeout=1s",
				"-retry-join", hole, "-retry-interval", "1s")
			if err := a.proc.WaitOutput("[INFO] agent: joining: ["+hole+"]", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := a.proc.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// broadcast_timeout (1s) + 2s, plus slack for a loaded machine;
			// a join that is waited for takes the 10s TCP timeout.
			if _, err := a.proc.Wait(8 * time.Second); err != nil {
				t.Fatalf("agent still running %v after %v (join in flight not abandoned)", time.Since(start), sig)
			}
			a.stopped = true
		})
	}
}

// A handler script that runs long does not hold the exit: the daemon stops
// waiting for the runner at the shutdown deadline.
func TestIntegrationShutdownDoesNotWaitForHandler(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	script := filepath.Join(dir, "slow.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+started+"\nexec sleep 20\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := startOpsAgent(t, "slow-handler", "-broadcast-timeout=1s", "-event-handler", "user:slow="+script)
	if out, code := a.cli("event", "-coalesce=false", "slow"); code != 0 {
		t.Fatalf("event: %d %s", code, out)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		_, err := os.Stat(started)
		return err
	})
	start := time.Now()
	if err := a.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// broadcast_timeout (1s) + 2s, plus slack for a loaded machine; the
	// script sleeps 20s.
	if _, err := a.proc.Wait(8 * time.Second); err != nil {
		t.Fatalf("agent still running %v after SIGINT with a handler running", time.Since(start))
	}
	a.stopped = true
}

func TestIntegrationUSR1DumpsMetrics(t *testing.T) {
	a := startAgent(t, "usr1-a")
	// Generate a counter: an RPC command.
	a.cli("members")
	// The dump leaves out the 10s interval still being aggregated, as in
	// Serf, so ask again until a finished interval holds the counter.
	testutil.WaitFor(t, 30*time.Second, func() error {
		if err := a.proc.Signal(syscall.SIGUSR1); err != nil {
			return err
		}
		time.Sleep(time.Second)
		if !strings.Contains(a.proc.Stderr(), "'serf-agent.agent.ipc.command'") {
			return fmt.Errorf("no metrics dump on stderr yet:\n%s", a.proc.Stderr())
		}
		return nil
	})
	if a.proc.Exited() {
		t.Errorf("the agent exited after SIGUSR1")
	}
}
