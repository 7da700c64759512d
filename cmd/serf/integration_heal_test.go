package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// The heal tests run five real agents in five network namespaces with
// short timings: failed members are reaped after reconnect_timeout (3s)
// at the next reap (every 15s, Serf's fixed interval), and the heal loop
// runs every 2 to 4 seconds.
const healTestConfig = `{"reconnect_timeout": "3s", "tombstone_timeout": "3s", "heal_interval": "2s"}`

// healBound is the generous limit on a heal, far above the two heal
// intervals it takes on an idle machine, for a loaded 2-core CI host.
const healBound = 45 * time.Second

// healCluster is the five agents and what is needed to restart them.
type healCluster struct {
	t      *testing.T
	lab    *testutil.NetLab
	config string
	snaps  []string
	agents []*nsAgent
}

func healName(i int) string { return fmt.Sprintf("heal-%d", i+1) }

// start runs agent i; join, if set, is passed as -join.
func (c *healCluster) start(i int, join string) {
	h := c.lab.Hosts[i]
	args := []string{"-config-file=" + c.config, "-snapshot=" + c.snaps[i]}
	if join != "" {
		args = append(args, "-join="+join)
	}
	c.agents[i] = startNSAgent(c.t, h, healName(i), args...)
}

// statuses returns agent i's view: member name -> status.
func (c *healCluster) statuses(i int) (map[string]string, error) {
	a := c.agents[i]
	out, err := a.host.Run(10*time.Second, serfBin, "members", "-rpc-addr="+a.rpc)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	st := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			st[f[0]] = f[2]
		}
	}
	return st, nil
}

// waitView waits until every agent in group sees exactly the members in
// want with the given status, and no others (reaped members are absent).
func (c *healCluster) waitView(timeout time.Duration, group []int, want map[string]string) time.Duration {
	c.t.Helper()
	start := time.Now()
	testutil.WaitFor(c.t, timeout, func() error {
		for _, i := range group {
			st, err := c.statuses(i)
			if err != nil {
				return err
			}
			if fmt.Sprint(st) != fmt.Sprint(want) {
				return fmt.Errorf("%s sees %v, want %v", healName(i), st, want)
			}
		}
		return nil
	})
	return time.Since(start)
}

// split makes the two groups unreachable from each other with blackhole
// routes (both directions, as each side routes the other's addresses
// into nothing); heal removes them.
func (c *healCluster) route(op string, a, b []int) {
	c.t.Helper()
	for _, i := range a {
		for _, j := range b {
			for _, pair := range [][2]int{{i, j}, {j, i}} {
				from, to := c.lab.Hosts[pair[0]], c.lab.Hosts[pair[1]]
				if out, err := from.Run(10*time.Second, "ip", "route", op, "blackhole", to.IP+"/32"); err != nil {
					c.t.Fatalf("%v: %s", err, out)
				}
			}
		}
	}
}

func viewOf(group []int, status string) map[string]string {
	m := map[string]string{}
	for _, i := range group {
		m[healName(i)] = status
	}
	return m
}

// healLines counts the successful heals the agents logged.
func (c *healCluster) healLines() int {
	n := 0
	for _, a := range c.agents {
		n += strings.Count(a.proc.Stdout(), "serf: rejoined partition via ")
	}
	return n
}

// TestIntegrationHeal: five agents split 2|3 until each side has reaped
// the other, then the network heals and so does the cluster, with no
// command run; then, after a second such split, every agent is killed
// and all are restarted at once from their snapshots without -join and
// form one cluster again; last, an agent that leaves gracefully is
// neither brought back nor contacted, and restarted it stays alone.
func TestIntegrationHeal(t *testing.T) {
	lab := testutil.NewNetLab(t, 5)
	dir := t.TempDir()
	c := &healCluster{t: t, lab: lab, config: filepath.Join(dir, "heal.json"), agents: make([]*nsAgent, 5)}
	if err := os.WriteFile(c.config, []byte(healTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range lab.Hosts {
		c.snaps = append(c.snaps, filepath.Join(dir, healName(i)+".snap"))
	}
	all, left, right := []int{0, 1, 2, 3, 4}, []int{0, 1}, []int{2, 3, 4}

	c.start(0, "")
	for i := 1; i < 5; i++ {
		c.start(i, lab.Hosts[0].IP+":7946")
	}
	c.waitView(30*time.Second, all, viewOf(all, "alive"))

	// 1. A partition longer than the reconnect timeout heals by itself.
	c.route("add", left, right)
	reap := c.waitView(60*time.Second, left, viewOf(left, "alive"))
	c.waitView(30*time.Second, right, viewOf(right, "alive"))
	t.Logf("split 2|3: each side reaped the other after %v", reap.Round(time.Second))
	c.route("del", left, right)
	healed := c.waitView(healBound, all, viewOf(all, "alive"))
	t.Logf("HEAL partition: all five alive on every node %v after the network healed", healed.Round(100*time.Millisecond))
	if c.healLines() == 0 {
		t.Errorf("no agent logged a heal")
	}

	// 2. Split again, reap, kill every agent, heal the network, restart
	// them all at once from their snapshots, with no -join.
	c.route("add", left, right)
	c.waitView(60*time.Second, left, viewOf(left, "alive"))
	c.waitView(30*time.Second, right, viewOf(right, "alive"))
	for _, a := range c.agents {
		a.proc.Kill()
	}
	c.route("del", left, right)
	for _, i := range all {
		snap, err := os.ReadFile(c.snaps[i])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(snap), "# lost: ") {
			t.Errorf("snapshot of %s remembers no lost peer:\n%s", healName(i), snap)
		}
	}
	restart := time.Now()
	done := make(chan int, 5)
	for _, i := range all {
		go func() { defer func() { done <- i }(); c.start(i, "") }()
	}
	for range all {
		<-done
	}
	c.waitView(healBound, all, viewOf(all, "alive"))
	t.Logf("HEAL restart: one cluster of five %v after all were restarted at once", time.Since(restart).Round(100*time.Millisecond))

	// 3. A graceful leave is final: heal-5 leaves and stops; the others
	// show it left, then reap it, and never try it again.
	gone := c.agents[4]
	if out, err := gone.host.Run(20*time.Second, serfBin, "leave", "-rpc-addr="+gone.rpc); err != nil {
		t.Fatalf("leave: %v: %s", err, out)
	}
	if _, err := gone.proc.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	rest := []int{0, 1, 2, 3}
	mark := make([]int, 4)
	for _, i := range rest {
		mark[i] = len(c.agents[i].proc.Stdout())
	}
	c.waitView(60*time.Second, rest, viewOf(rest, "alive")) // reaped after the tombstone timeout
	// Restarted from its snapshot, which ends with its leave, heal-5
	// starts alone and stays alone; the others do not try it. Three
	// heal rounds at least.
	c.start(4, "")
	time.Sleep(8 * time.Second)
	if st, err := c.statuses(4); err != nil || fmt.Sprint(st) != fmt.Sprint(viewOf([]int{4}, "alive")) {
		t.Errorf("heal-5 restarted after its leave sees %v (%v), want only itself", st, err)
	}
	if out := c.agents[4].proc.Stdout(); strings.Contains(out, "Heal: attempting join") {
		t.Errorf("heal-5 tried to heal after its leave:\n%s", out)
	}
	var tried []string
	for _, i := range rest {
		out := c.agents[i].proc.Stdout()[mark[i]:]
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "Heal: attempting join") && strings.Contains(line, lab.Hosts[4].IP) {
				tried = append(tried, healName(i)+": "+line)
			}
		}
	}
	sort.Strings(tried)
	if len(tried) > 0 {
		t.Errorf("the agent that left was contacted again:\n%s", strings.Join(tried, "\n"))
	}
	for _, i := range rest {
		if st, err := c.statuses(i); err != nil || st[healName(4)] != "" {
			t.Errorf("%s sees %s as %q (%v), want it gone", healName(i), healName(4), st[healName(4)], err)
		}
	}
}
