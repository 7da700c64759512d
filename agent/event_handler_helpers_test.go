package agent

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-metrics"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

// Helpers of the handler runner tests: a runner wired to a log buffer and
// a private metrics sink, and ways to find a script's processes.

// testRunner is a runner under test with what it wrote.
type testRunner struct {
	*ScriptEventHandler
	log  *testutil.SyncBuffer
	sink *metrics.InmemSink
}

// startRunner starts a runner logging to a buffer and counting into a
// sink of its own; it is shut down when the test ends. warnEvery is the
// drop warning interval (0 for the default).
func startRunner(t testing.TB, conf HandlerConfig, warnEvery time.Duration) *testRunner {
	t.Helper()
	buf := &testutil.SyncBuffer{}
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	mc := metrics.DefaultConfig("test")
	mc.EnableHostname = false
	mc.EnableRuntimeMetrics = false
	m, err := metrics.New(mc, sink)
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = log.New(buf, "", 0)
	conf.Metrics = m
	if conf.Self == nil {
		conf.Self = func() serf.Member { return vectorSelf }
	}
	if warnEvery == 0 {
		warnEvery = dropWarnInterval
	}
	h := newScriptEventHandler(conf, warnEvery)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("runner log:\n%s", buf.String())
		}
	})
	return &testRunner{ScriptEventHandler: h, log: buf, sink: sink}
}

// mustScripts parses handler specs.
func mustScripts(t testing.TB, specs ...string) []EventScript {
	t.Helper()
	scripts, err := ParseEventHandlers(specs)
	if err != nil {
		t.Fatal(err)
	}
	return scripts
}

// waitLog waits until the runner's log holds want.
func (r *testRunner) waitLog(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	testutil.WaitFor(t, timeout, func() error {
		if !strings.Contains(r.log.String(), want) {
			return fmt.Errorf("no %q in the log yet", want)
		}
		return nil
	})
}

// counter sums a labelled counter of the runner's sink.
func (r *testRunner) counter(name []string, lane string) float64 {
	key := "test." + strings.Join(name, ".")
	var sum float64
	for _, iv := range r.sink.Data() {
		iv.RLock()
		for _, c := range iv.Counters {
			if c.Name != key {
				continue
			}
			for _, l := range c.Labels {
				if l.Name == "lane" && l.Value == lane {
					sum += c.Sum
				}
			}
		}
		iv.RUnlock()
	}
	return sum
}

// sleepMarker returns a `sleep` argument no other test uses, such as
// "600.1234567", so the processes of one test can be found by their
// command line.
func sleepMarker(t testing.TB) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("600.%09d", n.Int64())
}

// waitProcesses waits until exactly want processes carry marker.
func waitProcesses(t testing.TB, marker string, want int, timeout time.Duration) {
	t.Helper()
	testutil.WaitFor(t, timeout, func() error {
		if got := testutil.LiveProcesses("sleep", marker); len(got) != want {
			return fmt.Errorf("%d processes with %q (%v), want %d", len(got), marker, got, want)
		}
		return nil
	})
}

// haveProc reports whether /proc can be read for the process checks.
func haveProc(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc to find a script's processes")
	}
}
