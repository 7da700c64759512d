// Package testutil holds helpers shared by the tests of every package:
// deadlines for eventually-consistent checks, free loopback ports, and
// (for multi-host tests) network namespaces.
package testutil

import (
	"fmt"
	"time"
)

// TB is the part of testing.TB the helpers need, so they can be tested.
type TB interface {
	Helper()
	Fatalf(format string, args ...interface{})
}

// WaitFor calls check until it returns nil or timeout passes, then fails
// the test with check's last error. It polls every 20ms.
func WaitFor(t TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := Poll(timeout, 20*time.Millisecond, check); err != nil {
		t.Fatalf("%v", err)
	}
}

// Poll calls check every interval until it returns nil or timeout passes,
// and returns its last error wrapped with the time spent.
func Poll(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

// HoldsFor calls check every 100ms for d and fails the test at the first
// error: the check of something that must stay true, not become true.
func HoldsFor(t TB, d time.Duration, check func() error) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := check(); err != nil {
			t.Fatalf("%v", err)
		}
	}
}
