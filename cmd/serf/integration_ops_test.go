package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/serfclone/serf/testutil"
)

// Operations tests: what survives a restart (snapshot, tags file, keyring
// file), how the agent comes up (retry join, systemd notify) and what it
// exposes (Prometheus), all against the real binary.

// launchAgent starts `serf agent` on the given addresses, with extra
// environment, and waits until it runs. Restarts use it to bring a node
// back where it was: memberlist refuses a failed node that returns from
// another address.
func launchAgent(t *testing.T, name, bind, rpc string, env []string, extra ...string) *testAgent {
	t.Helper()
	a := &testAgent{t: t, name: name, bind: bind, rpc: rpc, dir: t.TempDir()}
	args := append([]string{"agent", "-node=" + name, "-bind=" + bind, "-rpc-addr=" + rpc,
		"-profile=local", "-log-level=debug"}, extra...)
	var err error
	a.proc, err = testutil.StartProcess(serfBin, a.dir, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.proc.Kill()
		// The binary is built with -race; a report does not stop it.
		if strings.Contains(a.proc.Stderr(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", name)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s\nstderr:\n%s", name, a.proc.Stdout(), a.proc.Stderr())
		}
	})
	if err := a.proc.WaitOutput("Log data will now stream in as it occurs", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return a
}

// startOpsAgent is startAgent, plus a check for data race reports.
func startOpsAgent(t *testing.T, name string, extra ...string) *testAgent {
	t.Helper()
	bind, rpc := freeAddrs(t)
	return launchAgent(t, name, bind, rpc, nil, extra...)
}

// restart starts the node again on its addresses, with new arguments.
func (a *testAgent) restart(extra ...string) *testAgent {
	a.t.Helper()
	return launchAgent(a.t, a.name, a.bind, a.rpc, nil, extra...)
}

// stop sends sig and returns the exit code.
func (a *testAgent) stop(sig syscall.Signal) int {
	a.t.Helper()
	if err := a.proc.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
	code, err := a.proc.Wait(15 * time.Second)
	if err != nil {
		a.t.Fatalf("%s after %v: %v", a.name, sig, err)
	}
	a.stopped = true
	return code
}

// info returns the "serf" section of `serf info`.
func (a *testAgent) info() map[string]string {
	a.t.Helper()
	out, code := a.cli("info", "-format=json")
	if code != 0 {
		a.t.Fatalf("info: %d %s", code, out)
	}
	var sections map[string]map[string]string
	if err := json.Unmarshal([]byte(out), &sections); err != nil {
		a.t.Fatalf("info output: %v\n%s", err, out)
	}
	return sections["serf"]
}

// members returns the node names `serf members` lists.
func (a *testAgent) members() []string {
	a.t.Helper()
	out, code := a.cli("members")
	if code != 0 {
		a.t.Fatalf("members: %d %s", code, out)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ports, err := testutil.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(ports[0])
}

// freeAddrs returns two distinct free loopback addresses, for a bind and
// an RPC listener.
func freeAddrs(t *testing.T) (string, string) {
	t.Helper()
	ports, err := testutil.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(ports[0]), "127.0.0.1:" + strconv.Itoa(ports[1])
}

// countLines counts the lines of path that contain s (0 if it is missing).
func countLines(path, s string) int {
	data, _ := os.ReadFile(path)
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// clocksNotBehind fails unless each Lamport clock of `serf info` in after
// is at least its value in before.
func clocksNotBehind(t *testing.T, before, after map[string]string) {
	t.Helper()
	for _, key := range []string{"member_time", "event_time", "query_time"} {
		b, errB := strconv.ParseUint(before[key], 10, 64)
		a, errA := strconv.ParseUint(after[key], 10, 64)
		if errB != nil || errA != nil {
			t.Errorf("%s not a number: before %q, after %q", key, before[key], after[key])
			continue
		}
		if a < b {
			t.Errorf("%s went back across the restart: %d -> %d", key, b, a)
		}
	}
}

// startFailsWith runs `serf agent` with args, expects exit 1 and output
// containing want, and returns the output.
func startFailsWith(t *testing.T, want string, args ...string) string {
	t.Helper()
	bind, rpc := freeAddrs(t)
	full := append([]string{"agent", "-node=bad", "-bind=" + bind, "-rpc-addr=" + rpc,
		"-profile=local"}, args...)
	out, errOut, code, err := testutil.Run(serfBin, t.TempDir(), nil, 20*time.Second, full...)
	if err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(out+errOut, want) {
		t.Errorf("serf %v: exit %d, want 1 and %q in:\n%s%s", args, code, want, out, errOut)
	}
	return out + errOut
}

func TestIntegrationSnapshotRejoinAfterCrash(t *testing.T) {
	dir := t.TempDir()
	snap := func(n string) string { return filepath.Join(dir, n+".snapshot") }
	events := filepath.Join(dir, "events")
	handler := "user:deploy=cat >> " + events + "; echo >> " + events

	a := startOpsAgent(t, "snap-a", "-snapshot", snap("a"))
	b := startOpsAgent(t, "snap-b", "-snapshot", snap("b"), "-join", a.bind)
	c := startOpsAgent(t, "snap-c", "-snapshot", snap("c"), "-event-handler", handler, "-join", a.bind)
	for _, n := range []*testAgent{a, b, c} {
		for _, m := range []string{"snap-a", "snap-b", "snap-c"} {
			n.waitMember(m, "alive", 20*time.Second)
		}
	}

	if info, err := os.Stat(snap("a")); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("snapshot file: %v %v, want mode 0644", info, err)
	}

	if out, code := a.cli("event", "-coalesce=false", "deploy", "before-restart"); code != 0 {
		t.Fatalf("event: %d %s", code, out)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		if countLines(events, "before-restart") != 1 {
			return fmt.Errorf("handler has not run for the first event")
		}
		return nil
	})
	// A query moves the query clocks too, so all three are checked.
	if out, code := a.cli("query", "-timeout", "1s", "ping"); code != 0 {
		t.Fatalf("query: %d %s", code, out)
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		if q := c.info()["query_time"]; q == "1" {
			return fmt.Errorf("c has not seen the query (query_time %s)", q)
		}
		return nil
	})
	before := c.info()

	// SIGTERM: no leave, so the others see a failure.
	if code := c.stop(syscall.SIGTERM); code != 1 {
		t.Errorf("SIGTERM exit = %d, want 1", code)
	}
	a.waitMember("snap-c", "failed", 30*time.Second)
	b.waitMember("snap-c", "failed", 30*time.Second)

	c2 := c.restart("-snapshot", snap("c"), "-event-handler", handler)
	clocksNotBehind(t, before, c2.info())
	if err := c2.proc.WaitOutput("Re-joined to previously known node", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testAgent{a, b, c2} {
		for _, m := range []string{"snap-a", "snap-b", "snap-c"} {
			n.waitMember(m, "alive", 20*time.Second)
		}
	}
	clocksNotBehind(t, before, c2.info())

	// A later event runs the handler; the one from before the restart,
	// which the rejoin's state exchange carried again, does not.
	if out, code := a.cli("event", "-coalesce=false", "deploy", "after-restart"); code != 0 {
		t.Fatalf("event: %d %s", code, out)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		if countLines(events, "after-restart") != 1 {
			return fmt.Errorf("handler has not run for the second event")
		}
		return nil
	})
	if n := countLines(events, "before-restart"); n != 1 {
		data, _ := os.ReadFile(events)
		t.Errorf("the event from before the restart ran the handler %d times:\n%s", n, data)
	}
}

func TestIntegrationSnapshotRejoinAfterLeave(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "b.snapshot")
	a := startOpsAgent(t, "rj-a")
	b := startOpsAgent(t, "rj-b", "-snapshot", snap, "-join", a.bind)
	a.waitMember("rj-b", "alive", 20*time.Second)
	b.waitMember("rj-a", "alive", 20*time.Second)

	if code := b.stop(syscall.SIGINT); code != 0 {
		t.Errorf("SIGINT exit = %d, want 0", code)
	}
	a.waitMember("rj-b", "left", 20*time.Second)

	// Without -rejoin the leave in the snapshot wins: b starts alone.
	alone := b.restart("-snapshot", snap)
	testutil.HoldsFor(t, 2*time.Second, func() error {
		if got := alone.members(); len(got) != 1 || got[0] != "rj-b" {
			return fmt.Errorf("members after a restart without -rejoin: %v", got)
		}
		return nil
	})
	if strings.Contains(alone.proc.Stdout(), "re-join") {
		t.Errorf("tried to re-join after a leave without -rejoin:\n%s", alone.proc.Stdout())
	}
	alone.stop(syscall.SIGTERM)

	// With -rejoin the leave is ignored and b finds a by itself.
	back := b.restart("-snapshot", snap, "-rejoin")
	for _, want := range []string{"Ignoring previous leave in snapshot", "Re-joined to previously known node: rj-a"} {
		if err := back.proc.WaitOutput(want, 20*time.Second); err != nil {
			t.Error(err)
		}
	}
	a.waitMember("rj-b", "alive", 20*time.Second)
	back.waitMember("rj-a", "alive", 20*time.Second)
}

func TestIntegrationTagsFile(t *testing.T) {
	dir := t.TempDir()
	tagsFile := filepath.Join(dir, "tags.json")
	a := startOpsAgent(t, "tf-a", "-tags-file", tagsFile)
	if out, code := a.cli("tags", "-set", "a=b", "-set", "role=web"); code != 0 {
		t.Fatalf("tags -set: %d %s", code, out)
	}
	const want = "{\n  \"a\": \"b\",\n  \"role\": \"web\"\n}"
	fileHoldsTags := func() error {
		data, err := os.ReadFile(tagsFile)
		if err != nil {
			return err
		}
		if string(data) != want {
			return fmt.Errorf("tags file = %q, want %q", data, want)
		}
		return nil
	}
	agentHasTags := func(a *testAgent) func() error {
		return func() error {
			out, _ := a.cli("members", "-name", "tf-a")
			if !strings.Contains(out, "a=b") || !strings.Contains(out, "role=web") {
				return fmt.Errorf("tags missing from members:\n%s", out)
			}
			return nil
		}
	}
	if err := fileHoldsTags(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(tagsFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("tags file: %v %v, want mode 0600", info, err)
	}

	// Beyond Serf 0.10, which wipes them here: a reload keeps the tags.
	if err := a.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := a.proc.WaitOutput("Reloading configuration...", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	testutil.HoldsFor(t, time.Second, func() error {
		if err := fileHoldsTags(); err != nil {
			return err
		}
		return agentHasTags(a)()
	})

	if code := a.stop(syscall.SIGINT); code != 0 {
		t.Errorf("SIGINT exit = %d", code)
	}
	a2 := a.restart("-tags-file", tagsFile)
	if !strings.Contains(a2.proc.Stdout(), "[INFO] agent: Restored 2 tag(s) from "+tagsFile) {
		t.Errorf("no restore line:\n%s", a2.proc.Stdout())
	}
	if err := agentHasTags(a2)(); err != nil {
		t.Error(err)
	}

	startFailsWith(t, "==> Failed to setup the Serf agent: Tags config not allowed while using tag files",
		"-tags-file", tagsFile, "-tag", "x=y")
	for name, body := range map[string]string{
		"not json":      "{not json",
		"not strings":   `{"a": 1}`,
		"not an object": `["a"]`,
	} {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "tags.json")
			if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			startFailsWith(t, "==> Failed to setup the Serf agent: Failed to decode tags file: ", "-tags-file", bad)
		})
	}
}

func TestIntegrationKeyringFile(t *testing.T) {
	ringA := writeKeyring(t, t.TempDir(), keyOne)
	ringB := writeKeyring(t, t.TempDir(), keyOne)
	a := startOpsAgent(t, "kr-a", "-keyring-file", ringA)
	b := startOpsAgent(t, "kr-b", "-keyring-file", ringB, "-join", a.bind)
	a.waitMember("kr-b", "alive", 20*time.Second)
	for _, ag := range []*testAgent{a, b} {
		if want := "[INFO] agent: Restored keyring with 1 keys from "; !strings.Contains(ag.proc.Stdout(), want) {
			t.Errorf("%s: no %q line:\n%s", ag.name, want, ag.proc.Stdout())
		}
	}

	if out, code := a.cli("keys", "-install", keyTwo); code != 0 {
		t.Fatalf("keys -install: %d %s", code, out)
	}
	// Serf's format: a JSON array, primary first, 2-space indent.
	const want = "[\n  \"" + keyOne + "\",\n  \"" + keyTwo + "\"\n]"
	ringsHoldBoth := func() error {
		for _, ring := range []string{ringA, ringB} {
			data, err := os.ReadFile(ring)
			if err != nil {
				return err
			}
			if string(data) != want {
				return fmt.Errorf("keyring file %s = %q, want %q", ring, data, want)
			}
		}
		return nil
	}
	testutil.WaitFor(t, 10*time.Second, ringsHoldBoth)

	if err := a.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := a.proc.WaitOutput("Reloading configuration...", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	testutil.HoldsFor(t, time.Second, ringsHoldBoth)
	out, code := a.cli("keys", "-list")
	if code != 0 || !strings.Contains(out, keyOne+"  [2/2]") || !strings.Contains(out, keyTwo+"  [2/2]") {
		t.Errorf("keys -list after reload: %d\n%s", code, out)
	}

	// b restarts from the file it was given and finds the cluster again.
	if code := b.stop(syscall.SIGINT); code != 0 {
		t.Errorf("SIGINT exit = %d", code)
	}
	b2 := b.restart("-keyring-file", ringB, "-join", a.bind)
	if !strings.Contains(b2.proc.Stdout(), "Restored keyring with 2 keys from "+ringB) {
		t.Errorf("no restore line:\n%s", b2.proc.Stdout())
	}
	a.waitMember("kr-b", "alive", 20*time.Second)
	if out, code := b2.cli("keys", "-list"); code != 0 || !strings.Contains(out, keyTwo+"  [2/2]") {
		t.Errorf("keys -list on the restarted node: %d\n%s", code, out)
	}

	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	startFailsWith(t, "==> Failed to setup the Serf agent: stat "+missing+": no such file or directory",
		"-keyring-file", missing)
	cases := []struct{ name, body, want string }{
		{"not json", "[not json", "Failed to decode keyring file: "},
		{"not base64", `["%%%"]`, "Failed to decode key from keyring: "},
		{"empty", `[]`, "Keyring file contains no keys"},
		{"wrong key size", `["AAECAw=="]`, "Failed to restore keyring: key size must be 16, 24 or 32 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ring := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(ring, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			startFailsWith(t, "==> Failed to setup the Serf agent: "+tc.want, "-keyring-file", ring)
		})
	}
}

func TestIntegrationRetryJoin(t *testing.T) {
	t.Run("target starts later", func(t *testing.T) {
		laterBind, laterRPC := freeAddrs(t)
		a := startOpsAgent(t, "rt-a", "-retry-join", laterBind, "-retry-interval", "1s")
		if err := a.proc.WaitOutput("[WARN] agent: Join failed: ", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		later := launchAgent(t, "rt-b", laterBind, laterRPC, nil)
		if err := a.proc.WaitOutput("[INFO] agent: Join completed. Synced with 1 initial agents", 20*time.Second); err != nil {
			t.Fatal(err)
		}
		a.waitMember("rt-b", "alive", 20*time.Second)
		later.waitMember("rt-a", "alive", 20*time.Second)
	})

	t.Run("gives up", func(t *testing.T) {
		start := time.Now()
		out := startFailsWith(t, "[ERR] agent: maximum retry join attempts made, exiting",
			"-retry-join", freeAddr(t), "-retry-interval", "1s", "-retry-max", "2")
		if n := strings.Count(out, "[INFO] agent: Joining cluster...(replay: false)"); n != 3 {
			t.Errorf("%d join attempts, want 3:\n%s", n, out)
		}
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("gave up after %v, before two retry intervals", took)
		}
	})
}

func TestIntegrationPrometheusMetrics(t *testing.T) {
	metricsAddr := freeAddr(t)
	a := startOpsAgent(t, "prom-a", "-metrics-addr", metricsAddr)
	b := startOpsAgent(t, "prom-b", "-join", a.bind)
	a.waitMember("prom-b", "alive", 20*time.Second)

	client := &http.Client{Timeout: 5 * time.Second}
	var perNode []string // series labelled with a node name
	testutil.WaitFor(t, 20*time.Second, func() error {
		resp, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /metrics: %s", resp.Status)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("/metrics is not Prometheus text: %v", err)
		}
		perNode = nil
		for name, fam := range families {
			if strings.Contains(name, "prom_a") || strings.Contains(name, "prom_b") {
				perNode = append(perNode, name)
			}
			for _, m := range fam.GetMetric() {
				for _, l := range m.GetLabel() {
					if v := l.GetValue(); v == a.name || v == b.name {
						perNode = append(perNode, fmt.Sprintf("%s{%s=%q}", name, l.GetName(), v))
					}
				}
			}
		}
		fam, ok := families["serf_agent_serf_members"]
		if !ok {
			return fmt.Errorf("no serf_agent_serf_members family")
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == "alive" {
					if v := m.GetGauge().GetValue(); v != 2 {
						return fmt.Errorf("alive members gauge = %v, want 2", v)
					}
					return nil
				}
			}
		}
		return fmt.Errorf("no status=alive series in %v", fam)
	})
	// The cluster gauges have no per-peer series, so their number does
	// not grow with the cluster.
	if len(perNode) > 0 {
		t.Errorf("series labelled with a node name: %v", perNode)
	}

	// An address that is taken stops the start.
	startFailsWith(t, "==> Failed to start Prometheus metrics: ", "-metrics-addr", metricsAddr)
}

// notifyListener is a stand-in for systemd's notification socket.
type notifyListener struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	// Socket paths are limited to about 100 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &notifyListener{path: filepath.Join(dir, "notify"), msgs: make(chan string, 16)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

func (n *notifyListener) env() []string { return []string{"NOTIFY_SOCKET=" + n.path} }

// expect waits for the next message and fails unless it is want.
func (n *notifyListener) expect(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	select {
	case got := <-n.msgs:
		if got != want {
			t.Fatalf("notification %q, want %q", got, want)
		}
	case <-time.After(timeout):
		t.Fatalf("no %q notification after %v", want, timeout)
	}
}

// none fails if a message arrives within d.
func (n *notifyListener) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-n.msgs:
		t.Fatalf("unexpected notification %q", got)
	case <-time.After(d):
	}
}

func TestIntegrationSystemdNotify(t *testing.T) {
	t.Run("ready and stopping", func(t *testing.T) {
		n := listenNotify(t)
		bind, rpc := freeAddrs(t)
		a := launchAgent(t, "sd-a", bind, rpc, n.env())
		n.expect(t, "READY=1", 10*time.Second)
		if err := a.proc.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		n.expect(t, "STOPPING=1", 10*time.Second)
		if code, err := a.proc.Wait(15 * time.Second); err != nil || code != 0 {
			t.Errorf("SIGINT exit = %d, %v", code, err)
		}
	})

	t.Run("ready after join", func(t *testing.T) {
		target := startOpsAgent(t, "sd-target")
		n := listenNotify(t)
		bind, rpc := freeAddrs(t)
		a := launchAgent(t, "sd-join", bind, rpc, n.env(), "-join", target.bind)
		n.expect(t, "READY=1", 10*time.Second)
		if !strings.Contains(a.proc.Stdout(), "Join completed. Synced with 1 initial agents") {
			t.Errorf("ready before the join completed:\n%s", a.proc.Stdout())
		}
	})

	t.Run("ready after retry join", func(t *testing.T) {
		laterBind, laterRPC := freeAddrs(t)
		n := listenNotify(t)
		bind, rpc := freeAddrs(t)
		a := launchAgent(t, "sd-retry", bind, rpc, n.env(),
			"-retry-join", laterBind, "-retry-interval", "1s")
		if err := a.proc.WaitOutput("[WARN] agent: Join failed: ", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		n.none(t, 1500*time.Millisecond)
		launchAgent(t, "sd-later", laterBind, laterRPC, nil)
		n.expect(t, "READY=1", 20*time.Second)
		if err := a.proc.WaitOutput("Join completed. Synced with 1 initial agents", 5*time.Second); err != nil {
			t.Error(err)
		}
	})
}

func TestIntegrationSnapshotBadInput(t *testing.T) {
	t.Run("unwritable path", func(t *testing.T) {
		// CI runs as root, which ignores permissions: a path below a
		// regular file cannot be created by anyone.
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(file, "snapshot")
		startFailsWith(t, "==> Failed to start the Serf agent: Error creating Serf: Failed to setup snapshot: failed to open snapshot: open "+path+": not a directory",
			"-snapshot", path)
	})

	t.Run("garbled line", func(t *testing.T) {
		peer := startOpsAgent(t, "gb-peer")
		snap := filepath.Join(t.TempDir(), "snapshot")
		body := "alive: gb-node 127.0.0.1:1\n" +
			"alive: gb-peer " + peer.bind + "\n" +
			"clock: 40\n" +
			"alive: gb-ghost 127.0.0.1:7clock: 41\n" + // two writes torn into one line
			"clo\x00\x01\n" +
			"event-clock: 9x\n" +
			"event-clock: 7\n" +
			"query-clock: 5\n"
		if err := os.WriteFile(snap, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		a := startOpsAgent(t, "gb-node", "-snapshot", snap)
		for _, want := range []string{`[WARN] serf: Skipping malformed snapshot line "alive: gb-ghost`,
			"Re-joined to previously known node: gb-peer"} {
			if err := a.proc.WaitOutput(want, 20*time.Second); err != nil {
				t.Error(err)
			}
		}
		if strings.Contains(a.proc.Stdout(), "re-join to previously known node: gb-ghost") {
			t.Errorf("tried to re-join the garbled member")
		}
		peer.waitMember("gb-node", "alive", 20*time.Second)
		info := a.info()
		clocksNotBehind(t, map[string]string{"member_time": "41", "event_time": "8", "query_time": "6"}, info)
	})
}

func TestIntegrationSnapshotVector(t *testing.T) {
	src := "../../testdata/vectors/snapshot/node-h.snapshot.txt"
	data, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("snapshot vectors not available: %v", err)
	}
	// The last value of each clock kind in the file.
	last := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		for _, kind := range []string{"clock", "event-clock", "query-clock"} {
			if v, ok := strings.CutPrefix(line, kind+": "); ok {
				last[kind], _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	if last["clock"] == 0 || !strings.Contains(string(data), "\nleave\n") {
		t.Fatalf("%s is not the capture this test expects:\n%s", src, data)
	}
	atLeast := func(kind string) string { return strconv.FormatUint(last[kind]+1, 10) }

	// The capture ends with node-h leaving gracefully: its peers were
	// already recorded as gone (node-p1 left, node-p2 failed), then the
	// leave marker, then a clock line written at shutdown.
	startFrom := func(t *testing.T, extra ...string) *testAgent {
		snap := filepath.Join(t.TempDir(), "node-h.snapshot")
		if err := os.WriteFile(snap, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return startOpsAgent(t, "node-h", append([]string{"-snapshot", snap}, extra...)...)
	}

	t.Run("after the leave", func(t *testing.T) {
		// The leave resets the alive set and the clocks; only the clock
		// line after it counts.
		a := startFrom(t)
		clocksNotBehind(t, map[string]string{"member_time": atLeast("clock"), "event_time": "1", "query_time": "1"}, a.info())
		if got := a.members(); len(got) != 1 || got[0] != "node-h" {
			t.Errorf("members: %v", got)
		}
		if out := a.proc.Stdout(); strings.Contains(out, "re-join") {
			t.Errorf("re-join attempted with nobody alive in the snapshot:\n%s", out)
		}
	})

	t.Run("with -rejoin", func(t *testing.T) {
		// The leave is ignored: every clock is restored. The only member
		// still alive in the file is node-h itself, which is skipped, so
		// the re-join ends at once without trying anyone.
		a := startFrom(t, "-rejoin")
		for _, want := range []string{"[INFO] serf: Ignoring previous leave in snapshot",
			"[WARN] serf: Failed to re-join any previously known node"} {
			if err := a.proc.WaitOutput(want, 10*time.Second); err != nil {
				t.Error(err)
			}
		}
		if out := a.proc.Stdout(); strings.Contains(out, "Attempting re-join") {
			t.Errorf("re-join attempted to a member the file records as gone:\n%s", out)
		}
		clocksNotBehind(t, map[string]string{"member_time": atLeast("clock"),
			"event_time": atLeast("event-clock"), "query_time": atLeast("query-clock")}, a.info())
	})
}

// A tag change Serf refuses must not reach the tags file, or the next
// start would fail to load it.
func TestIntegrationTagsFileRefusedChange(t *testing.T) {
	tagsFile := filepath.Join(t.TempDir(), "tags.json")
	a := startOpsAgent(t, "tf-big", "-tags-file", tagsFile)
	if out, code := a.cli("tags", "-set", "a=b"); code != 0 {
		t.Fatalf("tags -set a=b: %d %s", code, out)
	}
	out, code := a.cli("tags", "-set", "big="+strings.Repeat("x", 600))
	if code != 1 || !strings.Contains(out, "Encoded length of tags exceeds limit of 512 bytes") {
		t.Fatalf("oversized tags: exit %d, output %q", code, out)
	}
	if code := a.stop(syscall.SIGINT); code != 0 {
		t.Errorf("SIGINT exit = %d", code)
	}
	again := a.restart("-tags-file", tagsFile)
	if !strings.Contains(again.proc.Stdout(), "Restored 1 tag(s) from "+tagsFile) {
		t.Errorf("restart did not restore the one tag:\n%s", again.proc.Stdout())
	}
}

// When the RPC address is taken, Serf prints the error right after
// "Starting Serf agent..." and never announces the RPC server.
func TestIntegrationRPCListenerInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bind := freeAddr(t)
	out, errOut, code, err := testutil.Run(serfBin, t.TempDir(), nil, 20*time.Second,
		"agent", "-node=busy", "-bind="+bind, "-rpc-addr="+taken.Addr().String(), "-profile=local")
	if err != nil {
		t.Fatal(err)
	}
	want := "==> Starting Serf agent...\n==> Error starting RPC listener: listen tcp " +
		taken.Addr().String() + ": bind: address already in use\n"
	if code != 1 || out+errOut != want {
		t.Errorf("exit %d, output:\n%q\nwant:\n%q", code, out+errOut, want)
	}
}
