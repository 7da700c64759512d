//go:build soak

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// TestSoakPacketLoss runs three agents in three namespaces that each drop
// 10% of incoming packets, for a minute of user events and queries, and
// checks that membership holds and every event reaches every node once.
// Run it with `make soak` (it installs nftables if needed).
func TestSoakPacketLoss(t *testing.T) {
	lab := testutil.NewNetLab(t, 3)
	dir := t.TempDir()
	var agents []*nsAgent
	for i, h := range lab.Hosts {
		out := filepath.Join(dir, fmt.Sprintf("events-%d", i))
		extra := []string{"-event-handler", "user=cat >> " + out + "; echo >> " + out}
		if i > 0 {
			extra = append(extra, "-join", lab.Hosts[0].IP+":7946")
		}
		agents = append(agents, startNSAgent(t, h, fmt.Sprintf("soak-%d", i), extra...))
	}
	for _, h := range lab.Hosts {
		h.DropRandom(t, 10)
	}

	const events = 30
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < events; i++ {
		a := agents[i%len(agents)]
		payload := fmt.Sprintf("ev-%02d", i)
		if out, err := a.host.Run(10*time.Second, serfBin, "event", "-rpc-addr="+a.rpc, "-coalesce=false", "soak", payload); err != nil {
			t.Fatalf("event: %v: %s", err, out)
		}
		time.Sleep(time.Until(deadline) / time.Duration(events-i) / 2)
	}

	for _, a := range agents {
		testutil.WaitFor(t, 60*time.Second, func() error {
			alive, err := a.aliveMembers()
			if err != nil {
				return err
			}
			if len(alive) != len(agents) {
				return fmt.Errorf("%s sees alive %v", a.name, alive)
			}
			return nil
		})
	}
	for i := range agents {
		out := filepath.Join(dir, fmt.Sprintf("events-%d", i))
		testutil.WaitFor(t, 60*time.Second, func() error {
			data, _ := os.ReadFile(out)
			seen := map[string]int{}
			for _, l := range strings.Fields(string(data)) {
				seen[l]++
			}
			for e := 0; e < events; e++ {
				if n := seen[fmt.Sprintf("ev-%02d", e)]; n != 1 {
					return fmt.Errorf("agent %d saw ev-%02d %d times", i, e, n)
				}
			}
			return nil
		})
	}
}
