package serf

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// serfGoroutines returns the stacks of running goroutines that are in a
// function of this package's production code.
func serfGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if !strings.HasPrefix(line, "github.com/serfclone/serf/serf.") {
				continue
			}
			if strings.Contains(line, "Test") || strings.Contains(line, "serfGoroutines") ||
				strings.Contains(line, "newEventRecorder") || strings.Contains(line, "newBlackhole") {
				break // the test's own goroutines
			}
			out = append(out, g)
			break
		}
	}
	return out
}

// TestShutdownWaitsForEveryGoroutine runs a node with every stage of the
// pipeline (snapshot, both coalescers, consumer) and a query in flight,
// and checks that once Shutdown returns no goroutine of Serf is left.
func TestShutdownWaitsForEveryGoroutine(t *testing.T) {
	tweak := func(c *Config) {
		c.SnapshotPath = filepath.Join(t.TempDir(), "snap")
		c.CoalescePeriod, c.QuiescentPeriod = time.Second, 100*time.Millisecond
		c.UserCoalescePeriod, c.UserQuiescentPeriod = time.Second, 100*time.Millisecond
	}
	nodes, _ := cluster(t, 2, tweak)
	if err := nodes[0].UserEvent("deploy", nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Query("echo", nil, &QueryParam{Timeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := n.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	// A goroutine that has signalled its WaitGroup from a deferred call
	// still shows in the stacks for a moment; one still there after a
	// while is not owned.
	testutil.WaitFor(t, 5*time.Second, func() error {
		if left := serfGoroutines(); len(left) > 0 {
			return fmt.Errorf("%d goroutine(s) of Serf outlive Shutdown:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		return nil
	})
}
