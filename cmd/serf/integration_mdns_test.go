package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// nsAgent is one `serf agent` running inside a network namespace.
type nsAgent struct {
	name string
	host *testutil.NetHost
	rpc  string
	proc *testutil.Process
}

// startNSAgent runs `serf agent` inside host's namespace, bound to the
// namespace's own address (never a wildcard) with the RPC listener on the
// namespace's loopback, and waits until it runs.
func startNSAgent(t *testing.T, host *testutil.NetHost, name string, extra ...string) *nsAgent {
	t.Helper()
	a := &nsAgent{name: name, host: host, rpc: "127.0.0.1:7373"}
	args := append([]string{"agent", "-node=" + name, "-bind=" + host.IP + ":7946", "-rpc-addr=" + a.rpc,
		"-profile=local", "-log-level=debug"}, extra...)
	prog, argv := host.Exec(serfBin, args...)
	var err error
	a.proc, err = testutil.StartProcess(prog, t.TempDir(), nil, argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.proc.Kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s\nstderr:\n%s", name, a.proc.Stdout(), a.proc.Stderr())
		}
	})
	if err := a.proc.WaitOutput("Log data will now stream in as it occurs", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return a
}

// aliveMembers runs `serf members` inside the agent's namespace and
// returns the names of the alive members.
func (a *nsAgent) aliveMembers() ([]string, error) {
	out, err := a.host.Run(10*time.Second, serfBin, "members", "-rpc-addr="+a.rpc)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var alive []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "alive" {
			alive = append(alive, f[0])
		}
	}
	return alive, nil
}

// TestIntegrationMDNSDiscovery starts two agents in two namespaces joined
// by a bridge, with -discover and no -join: they must find each other
// over mDNS (224.0.0.251:5353 on the bridge) and form a cluster.
func TestIntegrationMDNSDiscovery(t *testing.T) {
	lab := testutil.NewNetLab(t, 2)
	h1, h2 := lab.Hosts[0], lab.Hosts[1]

	a := startNSAgent(t, h1, "mdns-a", "-discover=testcluster", "-iface="+h1.Iface)
	// b starts once a answers mDNS: b's poll at startup finds a at once,
	// rather than at the next poll 60s later.
	b := startNSAgent(t, h2, "mdns-b", "-discover=testcluster", "-iface="+h2.Iface)

	if !strings.Contains(b.proc.Stdout(), "mDNS cluster: testcluster") {
		t.Errorf("mdns-b banner lacks the mDNS cluster:\n%s", b.proc.Stdout())
	}

	for _, ag := range []*nsAgent{a, b} {
		testutil.WaitFor(t, 20*time.Second, func() error {
			alive, err := ag.aliveMembers()
			if err != nil {
				return err
			}
			if len(alive) != 2 || !contains(alive, "mdns-a") || !contains(alive, "mdns-b") {
				return fmt.Errorf("%s sees alive %v, want mdns-a and mdns-b", ag.name, alive)
			}
			return nil
		})
	}
	if !strings.Contains(b.proc.Stdout(), "[INFO] agent: Starting mDNS listener on interface ") {
		t.Errorf("no mDNS listener line in the output of mdns-b")
	}
	if !strings.Contains(b.proc.Stdout(), "agent.mdns: Joined") {
		t.Errorf("mdns-b never logged an mDNS join:\n%s", b.proc.Stdout())
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
