package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// serfBin is the binary under test, built once by TestMain.
var serfBin string

func TestMain(m *testing.M) {
	// A -race binary sleeps a second before exiting unless told not to;
	// every CLI call of these tests would pay it.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	dir, err := os.MkdirTemp("", "serf-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wd, _ := os.Getwd()
	serfBin, err = testutil.BuildBinary(filepath.Join(wd, "..", ".."), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testAgent is one `serf agent` process on loopback ports.
type testAgent struct {
	t       *testing.T
	name    string
	bind    string
	rpc     string
	dir     string
	proc    *testutil.Process
	stopped bool
}

// startAgent runs `serf agent` with a fresh node name, free ports and the
// local timing profile, plus extra arguments, and waits until it runs.
func startAgent(t *testing.T, name string, extra ...string) *testAgent {
	t.Helper()
	ports, err := testutil.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	a := &testAgent{
		t:    t,
		name: name,
		bind: "127.0.0.1:" + strconv.Itoa(ports[0]),
		rpc:  "127.0.0.1:" + strconv.Itoa(ports[1]),
		dir:  t.TempDir(),
	}
	args := append([]string{"agent", "-node=" + name, "-bind=" + a.bind, "-rpc-addr=" + a.rpc,
		"-profile=local", "-log-level=debug"}, extra...)
	a.proc, err = testutil.StartProcess(serfBin, a.dir, nil, args...)
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

// cli runs a serf subcommand against this agent.
func (a *testAgent) cli(args ...string) (string, int) {
	a.t.Helper()
	full := append([]string{args[0], "-rpc-addr=" + a.rpc}, args[1:]...)
	out, errOut, code, err := testutil.Run(serfBin, a.dir, nil, 30*time.Second, full...)
	if err != nil {
		a.t.Fatalf("serf %v: %v", args, err)
	}
	return out + errOut, code
}

// waitMember waits until `serf members` on a shows node with status.
func (a *testAgent) waitMember(node, status string, timeout time.Duration) {
	a.t.Helper()
	// Each poll starts a CLI process; 20ms polls would crowd the CPU.
	if err := testutil.Poll(timeout, 200*time.Millisecond, func() error {
		out, code := a.cli("members")
		if code != 0 {
			return fmt.Errorf("members exited %d: %s", code, out)
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == node && f[2] == status {
				return nil
			}
		}
		return fmt.Errorf("%s does not see %s as %s:\n%s", a.name, node, status, out)
	}); err != nil {
		a.t.Fatal(err)
	}
}

func TestIntegrationSingleAgentMembers(t *testing.T) {
	a := startAgent(t, "solo", "-tag", "role=web")
	out, code := a.cli("members")
	if code != 0 || !strings.Contains(out, "solo") || !strings.Contains(out, "alive") || !strings.Contains(out, "role=web") {
		t.Fatalf("members: %d %q", code, out)
	}
	if !strings.Contains(a.proc.Stdout(), "Node name: 'solo'") {
		t.Errorf("banner lacks the node name:\n%s", a.proc.Stdout())
	}
}

func TestIntegrationJoinTagsAndGrep(t *testing.T) {
	a := startAgent(t, "int-a", "-tag", "role=web")
	b := startAgent(t, "int-b", "-tag", "role=db", "-join", a.bind)
	a.waitMember("int-b", "alive", 20*time.Second)
	b.waitMember("int-a", "alive", 20*time.Second)

	// The agent lists members by name, whichever agent is asked.
	for _, ag := range []*testAgent{a, b} {
		out, _ := ag.cli("members")
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				names = append(names, f[0])
			}
		}
		if strings.Join(names, " ") != "int-a int-b" {
			t.Errorf("members on %s lists %v, want int-a then int-b:\n%s", ag.name, names, out)
		}
	}

	out, _ := a.cli("members", "-tag", "role=db")
	if !strings.Contains(out, "int-b") || strings.Contains(out, "int-a") {
		t.Errorf("members -tag role=db:\n%s", out)
	}
	// Scripts grep the plain output for a tag.
	lines := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "role=db") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("grep role=db found %d lines", lines)
	}

	if out, code := b.cli("tags", "-set", "role=cache", "-set", "dc=east"); code != 0 {
		t.Fatalf("tags -set: %d %s", code, out)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		out, _ := a.cli("members", "-name", "int-b")
		if !strings.Contains(out, "role=cache") || !strings.Contains(out, "dc=east") {
			return fmt.Errorf("tags not seen yet: %s", out)
		}
		return nil
	})
}

func TestIntegrationEventHandler(t *testing.T) {
	dir := t.TempDir()
	outFile := filepath.Join(dir, "event.out")
	script := filepath.Join(dir, "handler.sh")
	body := "#!/bin/sh\n{ env | grep '^SERF_' | sort; echo STDIN; cat; } > " + outFile + ".tmp && mv " + outFile + ".tmp " + outFile + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "ev-a", "-tag", "role=web", "-event-handler", "user:deploy="+script)
	b := startAgent(t, "ev-b", "-join", a.bind)
	a.waitMember("ev-b", "alive", 20*time.Second)

	if out, code := b.cli("event", "-coalesce=false", "deploy", "v42"); code != 0 {
		t.Fatalf("event: %d %s", code, out)
	}
	var got string
	testutil.WaitFor(t, 20*time.Second, func() error {
		data, err := os.ReadFile(outFile)
		if err != nil {
			return err
		}
		got = string(data)
		return nil
	})
	for _, want := range []string{"SERF_EVENT=user", "SERF_SELF_NAME=ev-a", "SERF_SELF_ROLE=web",
		"SERF_TAG_ROLE=web", "SERF_USER_EVENT=deploy", "SERF_USER_LTIME=", "STDIN\nv42\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("handler output lacks %q:\n%s", want, got)
		}
	}
}

func TestIntegrationInterruptLeavesKillFails(t *testing.T) {
	a := startAgent(t, "sig-a")
	b := startAgent(t, "sig-b", "-join", a.bind)
	c := startAgent(t, "sig-c", "-join", a.bind)
	// d only confirms c's failure to a, which cuts memberlist's suspicion
	// timeout from its maximum to its minimum.
	startAgent(t, "sig-d", "-join", a.bind)
	for _, n := range []string{"sig-b", "sig-c", "sig-d"} {
		a.waitMember(n, "alive", 20*time.Second)
	}

	// b leaves first: with a failed member around, some of the leave's
	// gossip would go to the dead node.
	if err := b.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, err := b.proc.Wait(15 * time.Second)
	if err != nil || code != 0 {
		t.Errorf("SIGINT exit = %d, %v\n%s", code, err, b.proc.Stdout())
	}
	// A member that missed the leave intent sees the node fail first and
	// learns of the leave at the next push-pull, so allow a few of those.
	a.waitMember("sig-b", "left", 45*time.Second)

	if err := c.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.waitMember("sig-c", "failed", 30*time.Second)

	if out, code := a.cli("force-leave", "sig-c"); code != 0 {
		t.Fatalf("force-leave: %d %s", code, out)
	}
	a.waitMember("sig-c", "left", 20*time.Second)
}

func TestIntegrationConfigDirAndReload(t *testing.T) {
	dir := t.TempDir()
	confDir := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := func(name string) string { return filepath.Join(dir, name) }
	writeConf := func(handler string) {
		conf := fmt.Sprintf(`{"tags": {"role": "from-dir"}, "event_handlers": ["user=touch %s"]}`, handler)
		if err := os.WriteFile(filepath.Join(confDir, "10-base.json"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf(marker("first"))
	if err := os.WriteFile(filepath.Join(confDir, "20-more.json"), []byte(`{"tags": {"dc": "east"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "cfg-a", "-config-dir", confDir)
	out, _ := a.cli("members")
	if !strings.Contains(out, "role=from-dir") || !strings.Contains(out, "dc=east") {
		t.Fatalf("config dir tags missing:\n%s", out)
	}

	a.cli("event", "-coalesce=false", "one")
	testutil.WaitFor(t, 20*time.Second, func() error {
		_, err := os.Stat(marker("first"))
		return err
	})

	writeConf(marker("second"))
	if err := a.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := a.proc.WaitOutput("Reloading configuration...", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	a.cli("event", "-coalesce=false", "two")
	testutil.WaitFor(t, 20*time.Second, func() error {
		_, err := os.Stat(marker("second"))
		return err
	})
}

func TestIntegrationBadConfigExits(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"node_name": "x", "bogus_key": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	negative := filepath.Join(dir, "negative.json")
	if err := os.WriteFile(negative, []byte(`{"reconnect_interval": "-5s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"agent", "-config-file", bad}, "bogus_key"},
		{"negative interval", []string{"agent", "-bind", "127.0.0.1:0", "-rpc-addr", "127.0.0.1:0", "-config-file", negative},
			"==> Invalid reconnect_interval: -5s (must be greater than zero)"},
		{"bad tag", []string{"agent", "-tag", "novalue"}, "Invalid tag: 'novalue'"},
		{"bad bind", []string{"agent", "-bind", "bad:host:x"}, "Invalid bind address"},
		{"bad protocol", []string{"agent", "-bind", "127.0.0.1:0", "-rpc-addr", "127.0.0.1:0", "-protocol", "9"}, "Protocol version '9' too high"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code, err := testutil.Run(serfBin, dir, nil, 20*time.Second, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if code != 1 || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, output:\n%s%s", code, out, errOut)
			}
		})
	}
}

func TestIntegrationSecondInterruptAndTerm(t *testing.T) {
	a := startAgent(t, "sig2-a")
	b := startAgent(t, "sig2-b", "-join", a.bind)
	c := startAgent(t, "sig2-c", "-join", a.bind)
	a.waitMember("sig2-b", "alive", 20*time.Second)
	a.waitMember("sig2-c", "alive", 20*time.Second)

	// SIGTERM without leave_on_terminate: no leave, exit 1, seen as failed.
	// b still runs and confirms the suspicion, which keeps it short.
	if err := c.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := c.proc.Wait(10 * time.Second); err != nil || code != 1 {
		t.Errorf("SIGTERM: exit %d, %v", code, err)
	}
	a.waitMember("sig2-c", "failed", 30*time.Second)

	// A second interrupt during the graceful leave exits at once, with 1.
	if err := b.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := b.proc.WaitOutput("Gracefully shutting down agent...", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code, err := b.proc.Wait(10 * time.Second); err != nil || code != 1 {
		t.Errorf("second SIGINT: exit %d, %v", code, err)
	}
}
