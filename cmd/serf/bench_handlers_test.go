package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/testutil"
)

// floodEvents is how many user events TestHandlerFloodRSS sends.
const floodEvents = 100000

// TestHandlerFloodRSS prints the resident memory of an agent whose only
// user-event handler is `sleep 5`, idle and then after 100,000
// non-coalesced user events: the handler runs one event per 5 s, so
// nearly all of them wait in, or are dropped from, the bounded user lane.
// The same flood is sent to an agent with no user-event handler, whose
// growth is Serf's own (its broadcast queue holds every event until its
// next depth check trims it to 4096); the difference is what the handler
// runner holds. It runs the binary as shipped (no race detector) and is a
// figure, not a check, so it only runs with SERF_MEASURE_RSS=1:
//
//	SERF_MEASURE_RSS=1 go test -run '^TestHandlerFloodRSS$' -count=1 -v ./cmd/serf
func TestHandlerFloodRSS(t *testing.T) {
	if os.Getenv("SERF_MEASURE_RSS") != "1" {
		t.Skip("set SERF_MEASURE_RSS=1 to measure an agent's memory under an event flood")
	}
	bin := buildShippedBinary(t)
	base := floodAgent(t, bin, "member-join=true")
	withHandler := floodAgent(t, bin, "user=sleep 5")
	t.Logf("without a user handler: %s", base)
	t.Logf("with handler `user=sleep 5`: %s", withHandler)
	t.Logf("the handler runner's share after the flood: %+.1f MB right after, %+.1f MB settled",
		mb(withHandler.after-withHandler.idle)-mb(base.after-base.idle),
		mb(withHandler.settled-withHandler.idle)-mb(base.settled-base.idle))
	if withHandler.warnings == 0 {
		t.Errorf("no drop warning from the agent with a handler")
	}
}

// floodFigures are one agent's memory figures, in kB.
type floodFigures struct {
	idle, after, settled, hwm int
	sent                      time.Duration
	warnings                  int
}

func (f floodFigures) String() string {
	return fmt.Sprintf("idle VmRSS %.1f MB; %d events sent in %v; right after %.1f MB (%+.1f MB); 35 s later %.1f MB (%+.1f MB); VmHWM %.1f MB; %d drop warning(s)",
		mb(f.idle), floodEvents, f.sent.Round(time.Millisecond), mb(f.after), mb(f.after-f.idle),
		mb(f.settled), mb(f.settled-f.idle), mb(f.hwm), f.warnings)
}

// floodAgent starts an agent with one handler, floods it with user events
// over RPC and returns its memory figures.
func floodAgent(t *testing.T, bin, handler string) floodFigures {
	t.Helper()
	bind, rpc := freeAddrs(t)
	p, err := testutil.StartProcess(bin, t.TempDir(), nil, "agent", "-node=flood-a", "-bind="+bind,
		"-rpc-addr="+rpc, "-log-level=warn", "-event-handler", handler)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
		}
	}()
	if err := p.WaitOutput("Log data will now stream in as it occurs", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	pid := p.Cmd.Process.Pid
	var f floodFigures

	time.Sleep(idleSettle) // the first figure is of an idle agent, not a wait for a condition
	if f.idle, _, err = procMemory(pid); err != nil {
		t.Fatal(err)
	}
	c, err := client.ClientFromConfig(&client.Config{Addr: rpc, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := []byte(strings.Repeat("p", 64))
	start := time.Now()
	for i := 0; i < floodEvents; i++ {
		if err := c.UserEvent("flood-"+strconv.Itoa(i%100), payload, false); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	f.sent = time.Since(start)
	if f.after, _, err = procMemory(pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(35 * time.Second) // a figure after Serf's queue check, not a wait for a condition
	if f.settled, f.hwm, err = procMemory(pid); err != nil {
		t.Fatal(err)
	}
	f.warnings = strings.Count(p.Stdout(), "Handler queue for user events is full")
	return f
}

func mb(kb int) float64 { return float64(kb) / 1024 }
