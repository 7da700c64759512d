//go:build !windows

package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// These tests run handler scripts under the real binary: what the agent
// does with them on a signal, at their timeout, and where their output
// goes.

// handlerMarker returns a `sleep` argument unique to the calling test, so
// its processes can be found by command line, and makes sure none is left
// when the test ends, whatever happened.
func handlerMarker(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("600.%09d", n.Int64())
	t.Cleanup(func() {
		for _, pid := range testutil.LiveProcesses("sleep", marker) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return marker
}

func waitSleepers(t *testing.T, marker string, want int, timeout time.Duration) {
	t.Helper()
	testutil.WaitFor(t, timeout, func() error {
		if got := testutil.LiveProcesses("sleep", marker); len(got) != want {
			return fmt.Errorf("%d `sleep %s` processes (%v), want %d", len(got), marker, got, want)
		}
		return nil
	})
}

func needProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc to find handler processes")
	}
}

// TestIntegrationInterruptStopsRunningHandler: a member-join handler that
// would run for ten minutes, with a backgrounded child, must not keep the
// agent from leaving and exiting on SIGINT within broadcast_timeout + 2s,
// and none of its processes may outlive the agent.
func TestIntegrationInterruptStopsRunningHandler(t *testing.T) {
	needProc(t)
	marker := handlerMarker(t)
	const broadcastTimeout = 5 * time.Second
	a := startOpsAgent(t, "hstop-a", "-broadcast-timeout", broadcastTimeout.String(),
		"-event-handler", "member-join=sh -c 'sleep "+marker+" & sleep "+marker+"'")
	// The agent's own join runs the handler.
	waitSleepers(t, marker, 2, 20*time.Second)

	start := time.Now()
	if err := a.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, err := a.proc.Wait(broadcastTimeout + 2*time.Second)
	if err != nil {
		t.Fatalf("agent still running %v after SIGINT: %v", time.Since(start), err)
	}
	if code != 0 {
		t.Errorf("exit code %d after a graceful leave", code)
	}
	t.Logf("agent exited %v after SIGINT", time.Since(start))
	waitSleepers(t, marker, 0, 2*time.Second)
}

// TestIntegrationHandlerStderrInMonitor: what a failing script prints on
// stderr, and its exit status, reach `serf monitor` at WARN.
func TestIntegrationHandlerStderrInMonitor(t *testing.T) {
	script := "echo to-stdout; echo oops-from-the-script >&2; exit 3"
	a := startOpsAgent(t, "hmon-a", "-event-handler", "user:fail="+script)
	mon, err := testutil.StartProcess(serfBin, a.dir, nil, "monitor", "-rpc-addr="+a.rpc, "-log-level=warn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mon.Kill)
	if out, code := a.cli("event", "-coalesce=false", "fail"); code != 0 {
		t.Fatalf("event: %d %s", code, out)
	}
	for _, want := range []string{
		"[WARN] agent: Event 'user:fail' script '" + script + "' stderr: oops-from-the-script",
		"[WARN] agent: Error invoking script '" + script + "': exit status 3 (event 'user:fail')",
	} {
		if err := mon.WaitOutput(want, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(mon.Stdout(), "stdout: to-stdout") {
		t.Errorf("a WARN monitor shows the script's stdout (a DEBUG line):\n%s", mon.Stdout())
	}
	// At DEBUG the agent's own log has stdout too.
	if err := a.proc.WaitOutput("[DEBUG] agent: Event 'user:fail' script '"+script+"' stdout: to-stdout", 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationHandlerTimeoutFromConfig: handler_timeout and
// handler_queue_limit from a config file; the timed-out script and its
// child are killed, SERF_HANDLER_TIMEOUT is set, and the runner's metrics
// reach the Prometheus endpoint.
func TestIntegrationHandlerTimeoutFromConfig(t *testing.T) {
	needProc(t)
	marker := handlerMarker(t)
	dir := t.TempDir()
	envOut := filepath.Join(dir, "timeout-env")
	conf := filepath.Join(dir, "handlers.json")
	body := fmt.Sprintf(`{"handler_timeout": "3s", "handler_queue_limit": 16, "event_handlers": [%q, %q]}`,
		"user:slow=sh -c 'sleep "+marker+" & sleep "+marker+"'",
		"user:env=echo \"$SERF_HANDLER_TIMEOUT $SERF_SELF_ADDR $SERF_SELF_PORT\" > "+envOut)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr := freeAddr(t)
	a := startOpsAgent(t, "htime-a", "-config-file", conf, "-metrics-addr", metricsAddr)

	a.cli("event", "-coalesce=false", "slow")
	a.cli("event", "-coalesce=false", "env")
	waitSleepers(t, marker, 2, 20*time.Second)
	if err := a.proc.WaitOutput("for event 'user:slow' timed out after 3s, sending SIGTERM to its process group", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	waitSleepers(t, marker, 0, 10*time.Second)

	testutil.WaitFor(t, 20*time.Second, func() error {
		data, err := os.ReadFile(envOut)
		if err != nil {
			return err
		}
		if got, want := strings.TrimSpace(string(data)), "3s 127.0.0.1 "+a.bind[strings.LastIndexByte(a.bind, ':')+1:]; got != want {
			return fmt.Errorf("script saw %q, want %q", got, want)
		}
		return nil
	})

	client := &http.Client{Timeout: 5 * time.Second}
	testutil.WaitFor(t, 30*time.Second, func() error {
		resp, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		page, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		for _, want := range []string{`serf_agent_agent_handler_timeouts{lane="user"} 1`, `serf_agent_agent_handler_runs{lane="user"} 2`} {
			if !strings.Contains(string(page), want) {
				return fmt.Errorf("no %q in /metrics yet", want)
			}
		}
		return nil
	})
}
