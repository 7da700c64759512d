package agent

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"

	"github.com/serfclone/serf/testutil"
)

// agentGoroutines lists the goroutines running code of this module's
// agent or serf packages, other than the caller's.
func agentGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the caller
			continue
		}
		if strings.Contains(g, "serfclone/serf/agent.") || strings.Contains(g, "serfclone/serf/serf.") {
			out = append(out, g)
		}
	}
	return out
}

func testDaemonConfig() *Config {
	c := DefaultConfig()
	c.NodeName = "daemon"
	c.BindAddr = "127.0.0.1:0"
	c.RPCAddr = "127.0.0.1:0"
	c.Profile = "local"
	c.BroadcastTimeout = time.Second
	return c
}

// TestDaemonRunOwnsItsGoroutines starts the daemon, stops it through its
// context and checks that nothing it started is still running.
func TestDaemonRunOwnsItsGoroutines(t *testing.T) {
	testutil.WaitFor(t, 10*time.Second, func() error {
		if g := agentGoroutines(); len(g) > 0 {
			return fmt.Errorf("goroutines left by earlier tests:\n%s", strings.Join(g, "\n\n"))
		}
		return nil
	})
	var out testutil.SyncBuffer
	ui := &cli.PrefixedUi{OutputPrefix: "==> ", InfoPrefix: "    ", ErrorPrefix: "==> ",
		Ui: &cli.BasicUi{Writer: &out, ErrorWriter: &out}}
	conf := testDaemonConfig()
	conf.RetryJoin = []string{"127.0.0.1:1"} // refused at once: the loop keeps retrying
	d := NewDaemon(conf, ui, func() (*Config, []string, error) { return conf, nil, nil })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	codeCh := make(chan int, 1)
	go func() { codeCh <- d.Run(ctx) }()
	testutil.WaitFor(t, 20*time.Second, func() error {
		if !strings.Contains(out.String(), "Join failed: ") {
			return fmt.Errorf("no failed retry join yet:\n%s", out.String())
		}
		return nil
	})
	if len(agentGoroutines()) == 0 {
		t.Fatal("the goroutine check sees nothing of a running daemon")
	}
	cancel()
	select {
	case code := <-codeCh:
		if code != 0 {
			t.Errorf("exit code %d, want 0 (graceful leave)\n%s", code, out.String())
		}
	case <-time.After(conf.BroadcastTimeout + 5*time.Second):
		t.Fatalf("Run did not return after the context ended\n%s", out.String())
	}
	// A join abandoned at the stop may still be finishing its refused
	// connection; give it a moment, not the whole deadline.
	testutil.WaitFor(t, 2*time.Second, func() error {
		if g := agentGoroutines(); len(g) > 0 {
			return fmt.Errorf("goroutines still running after Run returned:\n%s", strings.Join(g, "\n\n"))
		}
		return nil
	})
}

// TestDaemonFailedStartStopsWhatStarted: a start that fails late (the RPC
// address is taken) prints Serf's error and leaves nothing running.
func TestDaemonFailedStartStopsWhatStarted(t *testing.T) {
	first := startTestNode(t, testAgentOptions{name: "holder"})
	var out testutil.SyncBuffer
	ui := &cli.PrefixedUi{OutputPrefix: "==> ", InfoPrefix: "    ", ErrorPrefix: "==> ",
		Ui: &cli.BasicUi{Writer: &out, ErrorWriter: &out}}
	conf := testDaemonConfig()
	conf.RPCAddr = first.rpcAddr
	code := NewDaemon(conf, ui, nil).Run(context.Background())
	want := "==> Starting Serf agent...\n==> Error starting RPC listener: listen tcp " + first.rpcAddr +
		": bind: address already in use\n"
	if code != 1 || out.String() != want {
		t.Errorf("exit %d, output %q; want 1, %q", code, out.String(), want)
	}
	first.ipc.Shutdown()
	_ = first.agent.Shutdown()
	// A goroutine that has run its deferred wg.Done is waited for but may
	// not have returned yet; give it a moment.
	testutil.WaitFor(t, 2*time.Second, func() error {
		if g := agentGoroutines(); len(g) > 0 {
			return fmt.Errorf("goroutines still running after a failed start:\n%s", strings.Join(g, "\n\n"))
		}
		return nil
	})
}
