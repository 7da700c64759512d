package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// This file builds small private networks for multi-host tests: N network
// namespaces, each with one veth interface plugged into a bridge that lives
// in a namespace of its own. Nothing is created in the host's namespace, so
// test traffic (multicast included) can neither leave the machine nor reach
// the host's interfaces, and the host's firewall never sees it.

// netnsCommandTimeout bounds every `ip` command the helpers run.
const netnsCommandTimeout = 10 * time.Second

// NetHost is one namespace of a NetLab.
type NetHost struct {
	// Namespace is the name given to `ip netns`.
	Namespace string
	// Iface is the veth interface inside the namespace.
	Iface string
	// IP is Iface's IPv4 address, e.g. "10.213.7.1"; its prefix is /24.
	IP string
}

// NetLab is a set of namespaces joined by one bridge.
type NetLab struct {
	// Hub is the namespace that holds the bridge.
	Hub string
	// Bridge is the bridge's name inside Hub.
	Bridge string
	// Hosts are the namespaces, in creation order.
	Hosts []*NetHost
}

// NewNetLab creates n namespaces joined by a bridge, with addresses
// 10.213.<x>.1 … 10.213.<x>.n/24 (x random), loopback up, and multicast
// routed to the veth. Everything is deleted when the test ends, whether it
// passed or not. The test is skipped when it does not run as root or when
// the kernel or container refuses to create a namespace.
func NewNetLab(t testing.TB, n int) *NetLab {
	t.Helper()
	if n < 1 || n > 250 {
		t.Fatalf("NewNetLab: %d hosts, want 1 to 250", n)
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("network namespace tests need iproute2: %v", err)
	}
	random := make([]byte, 3)
	if _, err := rand.Read(random); err != nil {
		t.Fatalf("random: %v", err)
	}
	id := hex.EncodeToString(random)
	subnet := fmt.Sprintf("10.213.%d", 1+int(random[0])%250)
	lab := &NetLab{
		Hub:    "serf-" + id + "-br",
		Bridge: "serfbr" + id,
	}

	// The first namespace is the capability probe: if it fails the
	// machine cannot run these tests at all.
	if out, err := ipCommand("netns", "add", lab.Hub); err != nil {
		t.Skipf("cannot create a network namespace (ip netns add: %v: %s)", err, out)
	}
	t.Cleanup(func() { lab.destroy(t) })

	lab.must(t, "-n", lab.Hub, "link", "set", "lo", "up")
	// Snooping off: the bridge floods every multicast frame, mDNS included.
	lab.must(t, "-n", lab.Hub, "link", "add", lab.Bridge, "type", "bridge", "mcast_snooping", "0")
	lab.must(t, "-n", lab.Hub, "link", "set", lab.Bridge, "up")

	for i := 1; i <= n; i++ {
		h := &NetHost{
			Namespace: fmt.Sprintf("serf-%s-%d", id, i),
			Iface:     fmt.Sprintf("sv%sn%d", id, i),
			IP:        fmt.Sprintf("%s.%d", subnet, i),
		}
		hubEnd := fmt.Sprintf("sv%sh%d", id, i)
		lab.must(t, "netns", "add", h.Namespace)
		lab.Hosts = append(lab.Hosts, h)
		lab.must(t, "-n", h.Namespace, "link", "set", "lo", "up")
		lab.must(t, "-n", lab.Hub, "link", "add", hubEnd, "type", "veth", "peer", "name", h.Iface, "netns", h.Namespace)
		lab.must(t, "-n", lab.Hub, "link", "set", hubEnd, "master", lab.Bridge)
		lab.must(t, "-n", lab.Hub, "link", "set", hubEnd, "up")
		lab.must(t, "-n", h.Namespace, "addr", "add", h.IP+"/24", "dev", h.Iface)
		// A fresh IPv6 link-local address stays "tentative" for a second
		// or two of duplicate address detection, and sending to ff02::fb
		// fails meanwhile ("cannot assign requested address"), which makes
		// a whole mDNS query fail. On a bridge of our own there is nothing
		// to detect: the address is usable at once, as on a host that has
		// been up for a while.
		lab.must(t, "netns", "exec", h.Namespace, "sh", "-c", "echo 0 > "+h.ipv6Conf("accept_dad"))
		lab.must(t, "-n", h.Namespace, "link", "set", h.Iface, "multicast", "on", "up")
		// Without a route for 224.0.0.0/4, joining a multicast group on
		// "any interface" fails with ENODEV: the namespace has no default
		// route.
		lab.must(t, "-n", h.Namespace, "route", "add", "224.0.0.0/4", "dev", h.Iface)
	}
	for _, h := range lab.Hosts {
		lab.waitLinkLocal(t, h)
	}
	return lab
}

// Exec returns the program and arguments that run bin with args inside
// the namespace, for exec.Command or StartProcess.
func (h *NetHost) Exec(bin string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", h.Namespace, bin}, args...)
}

// Run runs bin with args inside the namespace and returns its combined
// output. It gives up after timeout.
func (h *NetHost) Run(timeout time.Duration, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	prog, argv := h.Exec(bin, args...)
	out, err := exec.CommandContext(ctx, prog, argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w", bin, strings.Join(args, " "), h.Namespace, err)
	}
	return string(out), nil
}

// ipv6Conf is the /proc/sys file of one IPv6 setting of h's veth, as seen
// from inside the namespace.
func (h *NetHost) ipv6Conf(setting string) string {
	return "/proc/sys/net/ipv6/conf/" + h.Iface + "/" + setting
}

// must runs one `ip` command and fails the test if it fails.
func (l *NetLab) must(t testing.TB, args ...string) {
	t.Helper()
	if out, err := ipCommand(args...); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// waitLinkLocal waits until h's veth has a usable IPv6 link-local
// address, so IPv6 multicast works from the start, as IPv4 does. Hosts
// with IPv6 disabled are not waited for.
func (l *NetLab) waitLinkLocal(t testing.TB, h *NetHost) {
	t.Helper()
	if out, err := ipCommand("netns", "exec", h.Namespace, "cat", h.ipv6Conf("disable_ipv6")); err != nil || out != "0" {
		return
	}
	err := Poll(5*time.Second, 20*time.Millisecond, func() error {
		out, err := ipCommand("-n", h.Namespace, "-6", "addr", "show", "dev", h.Iface, "scope", "link")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "inet6 fe80:") || strings.Contains(out, "tentative") {
			return fmt.Errorf("no usable link-local address on %s in %s yet: %s", h.Iface, h.Namespace, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
}

// destroy deletes the namespaces; their interfaces and the bridge go with
// them. Processes still running inside keep their network until they
// exit, but the names are freed.
func (l *NetLab) destroy(t testing.TB) {
	for _, h := range l.Hosts {
		if out, err := ipCommand("netns", "del", h.Namespace); err != nil {
			t.Logf("ip netns del %s: %v: %s", h.Namespace, err, out)
		}
	}
	if out, err := ipCommand("netns", "del", l.Hub); err != nil {
		t.Logf("ip netns del %s: %v: %s", l.Hub, err, out)
	}
}

// ipCommand runs `ip args…` with a deadline.
func ipCommand(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), netnsCommandTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// DropRandom makes the namespace drop about percent% of the packets it
// receives, chosen at random by nftables (`numgen random`), since this
// kernel has no netem. It needs the nft command; the test is skipped
// without it.
func (h *NetHost) DropRandom(t testing.TB, percent int) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("packet loss needs nftables (apt-get install nftables): %v", err)
	}
	rules := fmt.Sprintf(`table inet serfloss {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "lo" accept
		numgen random mod 100 < %d drop
	}
}
`, percent)
	prog, argv := h.Exec("nft", "-f", "-")
	cmd := exec.Command(prog, argv...)
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", h.Namespace, err, out)
	}
}
