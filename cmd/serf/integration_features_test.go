package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// Test keys from the vectors: K1 is bytes 0x00..0x1f, K2 0x20..0x3f.
const (
	keyOne = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	keyTwo = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
)

func TestIntegrationQueries(t *testing.T) {
	handler := `query:ping=echo pong from $SERF_SELF_NAME`
	a := startAgent(t, "q-a", "-tag", "role=web", "-event-handler", handler)
	b := startAgent(t, "q-b", "-tag", "role=db", "-event-handler", handler, "-join", a.bind)
	c := startAgent(t, "q-c", "-tag", "role=web", "-join", a.bind) // no handler: acks only
	a.waitMember("q-b", "alive", 20*time.Second)
	a.waitMember("q-c", "alive", 20*time.Second)
	_ = b
	_ = c

	cases := []struct {
		name      string
		args      []string
		acks      []string
		responses []string
	}{
		{"all", nil, []string{"q-a", "q-b", "q-c"}, []string{"q-a", "q-b"}},
		{"node subset", []string{"-node", "q-b", "-node", "q-c"}, []string{"q-b", "q-c"}, []string{"q-b"}},
		{"tag subset", []string{"-tag", "role=^db$"}, []string{"q-b"}, []string{"q-b"}},
		{"no ack", []string{"-no-ack"}, nil, []string{"q-a", "q-b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"query", "-timeout", "3s"}, tc.args...), "ping", "hello")
			out, code := a.cli(args...)
			if code != 0 {
				t.Fatalf("query exited %d:\n%s", code, out)
			}
			if !strings.Contains(out, "Query 'ping' dispatched") {
				t.Errorf("no dispatch line:\n%s", out)
			}
			for _, n := range tc.acks {
				if !strings.Contains(out, "Ack from '"+n+"'") {
					t.Errorf("no ack from %s:\n%s", n, out)
				}
			}
			for _, n := range tc.responses {
				if !strings.Contains(out, "Response from '"+n+"': pong from "+n) {
					t.Errorf("no response from %s:\n%s", n, out)
				}
			}
			if tc.acks != nil && !strings.Contains(out, fmt.Sprintf("Total Acks: %d", len(tc.acks))) {
				t.Errorf("wrong ack total:\n%s", out)
			}
			if !strings.Contains(out, fmt.Sprintf("Total Responses: %d", len(tc.responses))) {
				t.Errorf("wrong response total:\n%s", out)
			}
		})
	}

	out, code := a.cli("query", "-tag", "role=(", "ping")
	if code == 0 {
		t.Errorf("a bad regex was accepted:\n%s", out)
	}
}

// writeKeyring writes a keyring file holding keys.
func writeKeyring(t *testing.T, dir string, keys ...string) string {
	t.Helper()
	path := filepath.Join(dir, "keyring.json")
	body := "[\n  \"" + strings.Join(keys, "\",\n  \"") + "\"\n]"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIntegrationKeyRotation(t *testing.T) {
	ringA := writeKeyring(t, t.TempDir(), keyOne)
	ringB := writeKeyring(t, t.TempDir(), keyOne)
	dir := t.TempDir()
	marker := filepath.Join(dir, "events")
	handler := "user=cat >> " + marker

	a := startAgent(t, "k-a", "-keyring-file", ringA, "-event-handler", handler)
	b := startAgent(t, "k-b", "-keyring-file", ringB, "-join", a.bind)
	a.waitMember("k-b", "alive", 20*time.Second)
	if !strings.Contains(a.proc.Stdout(), "Encrypted: true") {
		t.Errorf("banner does not say encrypted")
	}

	sendAndSee := func(payload string) {
		t.Helper()
		if out, code := b.cli("event", "-coalesce=false", "rotate", payload); code != 0 {
			t.Fatalf("event: %d %s", code, out)
		}
		testutil.WaitFor(t, 20*time.Second, func() error {
			data, _ := os.ReadFile(marker)
			if !strings.Contains(string(data), payload) {
				return fmt.Errorf("event %q not delivered yet", payload)
			}
			return nil
		})
	}
	sendAndSee("before")

	steps := [][]string{{"keys", "-install", keyTwo}, {"keys", "-use", keyTwo}, {"keys", "-remove", keyOne}}
	for i, step := range steps {
		out, code := a.cli(step...)
		if code != 0 {
			t.Fatalf("%v: %d\n%s", step, code, out)
		}
		sendAndSee(fmt.Sprintf("step-%d", i))
	}

	out, code := a.cli("keys", "-list")
	if code != 0 || !strings.Contains(out, keyTwo+"  [2/2]") || strings.Contains(out, keyOne) {
		t.Errorf("keys -list after rotation: %d\n%s", code, out)
	}
	// Removing the primary key is refused.
	if out, code := a.cli("keys", "-remove", keyTwo); code == 0 {
		t.Errorf("removing the primary key succeeded:\n%s", out)
	}

	for _, ring := range []string{ringA, ringB} {
		data, err := os.ReadFile(ring)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != "[\n  \""+keyTwo+"\"\n]" {
			t.Errorf("keyring file %s = %q", ring, data)
		}
	}

	// b restarts from its keyring file and finds the cluster again.
	if err := b.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if _, err := b.proc.Wait(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	startAgent(t, "k-b", "-keyring-file", ringB, "-join", a.bind)
	a.waitMember("k-b", "alive", 20*time.Second)

	// A node with the old key cannot join.
	_, _, code, err := testutil.Run(serfBin, dir, nil, 30*time.Second, "agent", "-node=k-wrong",
		"-bind=127.0.0.1:0", "-rpc-addr=127.0.0.1:0", "-profile=local", "-encrypt", keyOne, "-join", a.bind)
	if err != nil {
		t.Fatal(err)
	}
	if code != 1 {
		t.Errorf("an agent with the wrong key joined (exit %d)", code)
	}
}

func TestIntegrationKeysWithoutEncryption(t *testing.T) {
	a := startAgent(t, "nokey-a")
	out, code := a.cli("keys", "-list")
	if code != 1 || !strings.Contains(out, "encryption not enabled") {
		t.Errorf("keys -list without encryption: %d\n%s", code, out)
	}
	out, code = a.cli("keys", "-install", "not-base64")
	if code != 1 {
		t.Errorf("installing a malformed key: %d\n%s", code, out)
	}
	out, code = a.cli("keygen")
	if code != 0 || len(strings.TrimSpace(out)) != 44 {
		t.Errorf("keygen: %d %q", code, out)
	}
}

func TestIntegrationRTT(t *testing.T) {
	a := startAgent(t, "rtt-a")
	b := startAgent(t, "rtt-b", "-join", a.bind)
	a.waitMember("rtt-b", "alive", 20*time.Second)
	re := regexp.MustCompile(`Estimated rtt-a <-> rtt-b rtt: ([0-9.]+) ms`)
	var last float64
	testutil.WaitFor(t, 30*time.Second, func() error {
		out, code := a.cli("rtt", "rtt-a", "rtt-b")
		if code != 0 {
			return fmt.Errorf("rtt: %d %s", code, out)
		}
		m := re.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("unexpected rtt output %q", out)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		last = v
		// Loopback RTTs are well under a few milliseconds once the
		// coordinates have seen some probes.
		if v <= 0 || v > 5 {
			return fmt.Errorf("estimate %v ms has not converged", v)
		}
		return nil
	})
	t.Logf("converged rtt estimate: %.3f ms", last)
	_ = b
	if out, code := a.cli("rtt", "nope"); code != 1 {
		t.Errorf("rtt to an unknown node: %d %s", code, out)
	}
}

func TestIntegrationReachability(t *testing.T) {
	// The LAN profile detects failures slowly enough for the killed node
	// to still count as live while reachability runs.
	a := startAgent(t, "r-a", "-profile=lan")
	b := startAgent(t, "r-b", "-profile=lan", "-join", a.bind)
	c := startAgent(t, "r-c", "-profile=lan", "-join", a.bind)
	a.waitMember("r-b", "alive", 20*time.Second)
	a.waitMember("r-c", "alive", 20*time.Second)
	_ = b
	out, code := a.cli("reachability")
	if code != 0 || !strings.Contains(out, "Successfully contacted all live nodes") {
		t.Fatalf("reachability: %d\n%s", code, out)
	}
	// Killed and not yet detected as failed: it is live but silent.
	if err := c.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		out, code = a.cli("reachability", "-verbose")
		if code == 1 && strings.Contains(out, "Missing acks from:") && strings.Contains(out, "\tr-c") {
			return nil
		}
		return fmt.Errorf("reachability did not list r-c: %d\n%s", code, out)
	})
}
