package agent

import (
	"encoding/json"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

// handlerVector is one file of testdata/vectors/handlers (captured from Serf 0.10).
type handlerVector struct {
	Event string            `json:"event"`
	Env   map[string]string `json:"env"`
	Stdin string            `json:"stdin"`
}

// vectorSelf is the agent the handler vectors were captured on.
var vectorSelf = serf.Member{
	Name: "node-h",
	Addr: net.ParseIP("127.0.0.1"),
	Tags: map[string]string{"role": "web", "dc": "east", "my-tag.v2": "abc"},
}

// eventFromVector rebuilds the event a vector's handler saw.
func eventFromVector(t *testing.T, v handlerVector) serf.Event {
	t.Helper()
	switch v.Event {
	case "user":
		lt, _ := strconv.ParseUint(v.Env["SERF_USER_LTIME"], 10, 64)
		return serf.UserEvent{LTime: serf.LamportTime(lt), Name: v.Env["SERF_USER_EVENT"], Payload: []byte(strings.TrimSuffix(v.Stdin, "\n"))}
	case "query":
		lt, _ := strconv.ParseUint(v.Env["SERF_QUERY_LTIME"], 10, 64)
		return &serf.Query{LTime: serf.LamportTime(lt), Name: v.Env["SERF_QUERY_NAME"], Payload: []byte(strings.TrimSuffix(v.Stdin, "\n"))}
	}
	types := map[string]serf.EventType{
		"member-join": serf.EventMemberJoin, "member-leave": serf.EventMemberLeave,
		"member-failed": serf.EventMemberFailed, "member-update": serf.EventMemberUpdate,
		"member-reap": serf.EventMemberReap,
	}
	ev := serf.MemberEvent{Type: types[v.Event]}
	for _, line := range strings.Split(strings.TrimSuffix(v.Stdin, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("bad member line %q", line)
		}
		m := serf.Member{Name: f[0], Addr: net.ParseIP(f[1]), Tags: map[string]string{}}
		if f[3] != "" {
			for _, kv := range strings.Split(f[3], ",") {
				k, val, _ := strings.Cut(kv, "=")
				m.Tags[k] = val
			}
		}
		ev.Members = append(ev.Members, m)
	}
	return ev
}

// normalizeStdin sorts the tags of each member line, whose order is Go's
// map order in Serf too.
func normalizeStdin(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) == 4 && f[3] != "" {
			tags := strings.Split(f[3], ",")
			sort.Strings(tags)
			f[3] = strings.Join(tags, ",")
			lines[i] = strings.Join(f, "\t")
		}
	}
	return strings.Join(lines, "\n")
}

func loadHandlerVectors(t *testing.T) map[string]handlerVector {
	t.Helper()
	dir := filepath.Join("..", "testdata", "vectors", "handlers")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no handler vectors in %s", dir)
	}
	out := map[string]handlerVector{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v handlerVector
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = v
	}
	return out
}

func TestHandlerEnvAndStdinMatchVectors(t *testing.T) {
	for name, v := range loadHandlerVectors(t) {
		t.Run(name, func(t *testing.T) {
			e := eventFromVector(t, v)
			got := map[string]string{}
			for _, kv := range eventEnv(vectorSelf, e) {
				k, val, _ := strings.Cut(kv, "=")
				got[k] = val
			}
			if len(got) != len(v.Env) {
				t.Errorf("env has %d SERF_ variables, want %d: %v", len(got), len(v.Env), got)
			}
			for k, want := range v.Env {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			if stdin := normalizeStdin(string(eventStdin(e))); stdin != normalizeStdin(v.Stdin) {
				t.Errorf("stdin = %q, want %q", stdin, v.Stdin)
			}
		})
	}
}

// TestHandlerScriptRun runs a real script through the shell and checks
// what it saw, as the vectors' capture script did.
func TestHandlerScriptRun(t *testing.T) {
	vectors := loadHandlerVectors(t)
	v := vectors["user.json"]
	dir := t.TempDir()
	out := filepath.Join(dir, "seen")
	script := "env | grep '^SERF_' | sort > " + out + "; echo --- >> " + out + "; cat >> " + out
	logger := log.New(&testutil.SyncBuffer{}, "", 0)
	if err := invokeEventScript(logger, script, vectorSelf, eventFromVector(t, v)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env, stdin, _ := strings.Cut(string(data), "---\n")
	var want []string
	for k, val := range v.Env {
		want = append(want, k+"="+val)
	}
	sort.Strings(want)
	if env != strings.Join(want, "\n")+"\n" {
		t.Errorf("script env:\n%s\nwant:\n%s", env, strings.Join(want, "\n"))
	}
	if stdin != v.Stdin {
		t.Errorf("script stdin = %q, want %q", stdin, v.Stdin)
	}
}

func TestHandlerFailureAndSlowScript(t *testing.T) {
	lw := &testutil.SyncBuffer{}
	logger := log.New(lw, "", 0)
	err := invokeEventScript(logger, "exit 3", vectorSelf, serf.UserEvent{Name: "x"})
	if err == nil || err.Error() != "exit status 3" {
		t.Errorf("failing script: %v", err)
	}
	start := time.Now()
	if err := invokeEventScript(logger, "sleep 1.3", vectorSelf, serf.UserEvent{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second || !strings.Contains(lw.String(), "[WARN] agent: Script 'sleep 1.3' slow, execution exceeding 1s") {
		t.Errorf("no slow-script warning in:\n%s", lw.String())
	}
}

func TestTailBufferKeepsLastBytes(t *testing.T) {
	b := newTailBuffer(8)
	for _, w := range []string{"abc", "defgh", "ij", "0123456789xyz"} {
		_, _ = b.Write([]byte(w))
	}
	if got := string(b.Bytes()); got != "56789xyz" {
		t.Errorf("tail = %q", got)
	}
	b2 := newTailBuffer(8)
	_, _ = b2.Write([]byte("abcdef"))
	_, _ = b2.Write([]byte("ghij"))
	if got := string(b2.Bytes()); got != "cdefghij" {
		t.Errorf("tail = %q", got)
	}
}

// TestScriptHandlerDoesNotBlock checks that a hung script delays only
// later scripts: HandleEvent returns at once and events keep their order.
func TestScriptHandlerDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "order")
	gate := filepath.Join(dir, "gate")
	scripts, err := ParseEventHandlers([]string{
		"user:slow=while [ ! -e " + gate + " ]; do sleep 0.05; done; echo slow >> " + out,
		"user:fast=echo fast >> " + out,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := NewScriptEventHandler(func() serf.Member { return vectorSelf }, scripts, log.New(&testutil.SyncBuffer{}, "", 0))
	defer h.Stop()

	start := time.Now()
	h.HandleEvent(serf.UserEvent{Name: "slow"})
	for i := 0; i < 100; i++ {
		h.HandleEvent(serf.UserEvent{Name: "fast"})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("HandleEvent blocked for %v", d)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) == 101 {
			if lines[0] != "slow" {
				t.Errorf("events ran out of order: first %q", lines[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d scripts ran", len(lines))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
