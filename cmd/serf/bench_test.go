package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// idleSettle is how long the measured cluster idles before its memory is
// read.
const idleSettle = 15 * time.Second

// TestIdleAgentRSS prints the resident memory of each agent of an idle
// 3-member cluster, running the binary as shipped (no race detector) with
// the default LAN profile. It is a figure, not a check, so it only runs
// with SERF_MEASURE_RSS=1:
//
//	SERF_MEASURE_RSS=1 go test -run '^TestIdleAgentRSS$' -count=1 -v ./cmd/serf
//
// Serf 0.10 measured about 17 MB per agent.
func TestIdleAgentRSS(t *testing.T) {
	if os.Getenv("SERF_MEASURE_RSS") != "1" {
		t.Skip("set SERF_MEASURE_RSS=1 to measure an idle agent's memory")
	}
	bin := buildShippedBinary(t)

	ports, err := testutil.FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"rss-a", "rss-b", "rss-c"}
	var procs []*testutil.Process
	var rpcs []string
	firstBind := "127.0.0.1:" + strconv.Itoa(ports[0])
	for i, name := range names {
		bind := "127.0.0.1:" + strconv.Itoa(ports[2*i])
		rpc := "127.0.0.1:" + strconv.Itoa(ports[2*i+1])
		args := []string{"agent", "-node=" + name, "-bind=" + bind, "-rpc-addr=" + rpc}
		if i > 0 {
			args = append(args, "-join="+firstBind)
		}
		p, err := testutil.StartProcess(bin, t.TempDir(), nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Kill()
			if t.Failed() {
				t.Logf("output of %s:\n%s\nstderr:\n%s", name, p.Stdout(), p.Stderr())
			}
		})
		if err := p.WaitOutput("Log data will now stream in as it occurs", 20*time.Second); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		rpcs = append(rpcs, rpc)
	}

	for i, rpc := range rpcs {
		testutil.WaitFor(t, 30*time.Second, func() error {
			out, _, code, err := testutil.Run(bin, "", nil, 10*time.Second, "members", "-rpc-addr="+rpc)
			if err != nil || code != 0 {
				return fmt.Errorf("members on %s: %d %v: %s", names[i], code, err, out)
			}
			if strings.Count(out, " alive") != len(names) {
				return fmt.Errorf("%s does not see %d alive members yet:\n%s", names[i], len(names), out)
			}
			return nil
		})
	}

	time.Sleep(idleSettle) // the measurement is of an idle cluster, not a wait for a condition
	var total int
	for i, p := range procs {
		rss, hwm, err := procMemory(p.Cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		total += rss
		t.Logf("%s (pid %d): VmRSS %d kB (%.1f MB), VmHWM %d kB", names[i], p.Cmd.Process.Pid, rss, float64(rss)/1024, hwm)
	}
	t.Logf("mean VmRSS of an idle agent in a 3-member cluster after %v: %.1f MB (Serf 0.10: about 17 MB)",
		idleSettle, float64(total)/float64(len(procs))/1024)
}

// procMemory reads VmRSS and VmHWM, in kB, from /proc/<pid>/status.
func procMemory(pid int) (rss, hwm int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, err = strconv.Atoi(f[1])
		case "VmHWM:":
			hwm, err = strconv.Atoi(f[1])
		}
		if err != nil {
			return 0, 0, fmt.Errorf("parse %q: %w", line, err)
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// buildShippedBinary builds the serf binary as it ships (no race
// detector) into the test's temp dir, for the figures that measure it.
func buildShippedBinary(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "serf")
	build := exec.Command("go", "build", "-o", bin, "./cmd/serf")
	build.Dir = filepath.Join(wd, "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
