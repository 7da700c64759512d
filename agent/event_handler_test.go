package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
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

// TestHandlerScriptRun runs a real script through the runner and checks
// what it saw: Serf's variables and stdin exactly as the vectors hold
// them, plus this agent's own variables.
func TestHandlerScriptRun(t *testing.T) {
	vectors := loadHandlerVectors(t)
	v := vectors["user.json"]
	dir := t.TempDir()
	out := filepath.Join(dir, "seen")
	script := "env | grep '^SERF_' | sort > " + out + ".tmp; echo --- >> " + out + ".tmp; cat >> " + out + ".tmp; mv " + out + ".tmp " + out
	r := startRunner(t, HandlerConfig{Scripts: mustScripts(t, script)}, 0)
	r.HandleEvent(eventFromVector(t, v))

	var data []byte
	testutil.WaitFor(t, 20*time.Second, func() error {
		var err error
		data, err = os.ReadFile(out)
		return err
	})
	env, stdin, _ := strings.Cut(string(data), "---\n")
	var want []string
	for k, val := range v.Env {
		want = append(want, k+"="+val)
	}
	want = append(want, "SERF_SELF_ADDR=127.0.0.1", "SERF_SELF_PORT=0")
	sort.Strings(want)
	if env != strings.Join(want, "\n")+"\n" {
		t.Errorf("script env:\n%s\nwant:\n%s", env, strings.Join(want, "\n"))
	}
	if stdin != v.Stdin {
		t.Errorf("script stdin = %q, want %q", stdin, v.Stdin)
	}
}

// TestHandlerExtraVariables checks the variables beyond Serf's: the
// advertised address and port, and the timeout when one is set.
func TestHandlerExtraVariables(t *testing.T) {
	self := serf.Member{Name: "node-x", Addr: net.ParseIP("127.0.0.2"), Port: 7999, Tags: map[string]string{}}
	cases := []struct {
		name    string
		timeout time.Duration
		want    []string
	}{
		{"no timeout", 0, []string{"SERF_SELF_ADDR=127.0.0.2", "SERF_SELF_PORT=7999"}},
		{"timeout", 90 * time.Second, []string{"SERF_HANDLER_TIMEOUT=1m30s", "SERF_SELF_ADDR=127.0.0.2", "SERF_SELF_PORT=7999"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "env")
			r := startRunner(t, HandlerConfig{
				Self:    func() serf.Member { return self },
				Scripts: mustScripts(t, "user=env | grep -E '^SERF_(SELF_ADDR|SELF_PORT|HANDLER_TIMEOUT)=' | sort > "+out+".tmp && mv "+out+".tmp "+out),
				Timeout: tc.timeout,
			}, 0)
			r.HandleEvent(serf.UserEvent{Name: "x"})
			var data []byte
			testutil.WaitFor(t, 20*time.Second, func() error {
				var err error
				data, err = os.ReadFile(out)
				return err
			})
			if got := strings.Fields(string(data)); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("variables %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHandlerOutputLogged checks that a script's output reaches the log
// line by line, stdout at DEBUG and stderr at WARN, each line naming the
// event and the script, and that a failing exit is a warning with its
// status. The log writer is the one `serf monitor` streams from.
func TestHandlerOutputLogged(t *testing.T) {
	logs := NewLogWriter(64)
	script := "echo out-1; echo err-1 >&2; printf 'out-2\\nno-newline'; exit 4"
	h := NewScriptEventHandler(HandlerConfig{
		Self:    func() serf.Member { return vectorSelf },
		Scripts: mustScripts(t, "user:fail="+script),
		Logger:  log.New(logs, "", 0),
	})
	defer h.Stop()
	h.HandleEvent(serf.UserEvent{Name: "fail"})

	prefix := "agent: Event 'user:fail' script '" + script + "' "
	want := []string{
		"[DEBUG] " + prefix + "stdout: out-1",
		"[DEBUG] " + prefix + "stdout: out-2",
		"[DEBUG] " + prefix + "stdout: no-newline",
		"[WARN] " + prefix + "stderr: err-1",
		"[WARN] agent: Error invoking script '" + script + "': exit status 4 (event 'user:fail')",
		// Serf's own line with the whole kept output, after the run.
		"[DEBUG] agent: Event 'user' script output: ",
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		lines := strings.Join(logs.Lines(), "\n")
		for _, w := range want {
			if !strings.Contains(lines, w) {
				return fmt.Errorf("no %q in the log:\n%s", w, lines)
			}
		}
		return nil
	})
}

func TestHandlerSlowScriptWarning(t *testing.T) {
	r := startRunner(t, HandlerConfig{Scripts: mustScripts(t, "sleep 1.3")}, 0)
	start := time.Now()
	r.HandleEvent(serf.UserEvent{Name: "x"})
	r.waitLog(t, "[WARN] agent: Script 'sleep 1.3' slow, execution exceeding 1s", 20*time.Second)
	if time.Since(start) < time.Second {
		t.Errorf("slow warning before a second passed")
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
// later scripts of its lane: HandleEvent returns at once and events keep
// their order.
func TestScriptHandlerDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "order")
	gate := filepath.Join(dir, "gate")
	r := startRunner(t, HandlerConfig{Scripts: mustScripts(t,
		"user:slow=while [ ! -e "+gate+" ]; do sleep 0.05; done; echo slow >> "+out,
		"user:fast=echo fast >> "+out,
	)}, 0)

	start := time.Now()
	r.HandleEvent(serf.UserEvent{Name: "slow"})
	for i := 0; i < 100; i++ {
		r.HandleEvent(serf.UserEvent{Name: "fast"})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("HandleEvent blocked for %v", d)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	testutil.WaitFor(t, 60*time.Second, func() error {
		data, _ := os.ReadFile(out)
		lines = strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 101 {
			return fmt.Errorf("%d of 101 scripts ran", len(lines))
		}
		return nil
	})
	if lines[0] != "slow" {
		t.Errorf("events ran out of order: first %q", lines[0])
	}
}

// TestHandlerQueueLimitDropsAndWarns fills a lane behind a blocked script:
// the events past the limit are dropped, counted, and reported by warnings
// that add up to the number dropped.
func TestHandlerQueueLimitDropsAndWarns(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	gate := filepath.Join(dir, "gate")
	r := startRunner(t, HandlerConfig{
		Scripts:    mustScripts(t, "user=while [ ! -e "+gate+" ]; do sleep 0.05; done; echo \"$SERF_USER_EVENT\" >> "+out),
		QueueLimit: 3,
	}, 50*time.Millisecond)

	r.HandleEvent(serf.UserEvent{Name: "e0"})
	// e0 runs (blocked on the gate) once it has left the queue.
	testutil.WaitFor(t, 20*time.Second, func() error {
		if r.counter(metricRuns, laneUser) != 1 {
			return fmt.Errorf("first script not started")
		}
		return nil
	})
	for i := 1; i <= 10; i++ {
		r.HandleEvent(serf.UserEvent{Name: fmt.Sprintf("e%d", i)})
	}
	// e1..e3 wait, e4..e10 are dropped.
	dropped := regexp.MustCompile(`\[WARN\] agent: Handler queue for user events is full \(3 waiting\): dropped (\d+) event\(s\)`)
	testutil.WaitFor(t, 20*time.Second, func() error {
		sum := 0
		for _, m := range dropped.FindAllStringSubmatch(r.log.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			sum += n
		}
		if sum != 7 {
			return fmt.Errorf("warnings report %d drops, want 7", sum)
		}
		return nil
	})
	if got := r.counter(metricDropped, laneUser); got != 7 {
		t.Errorf("dropped counter = %v, want 7", got)
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		data, _ := os.ReadFile(out)
		if got := strings.Fields(string(data)); strings.Join(got, " ") != "e0 e1 e2 e3" {
			return fmt.Errorf("ran %v, want e0 e1 e2 e3", got)
		}
		return nil
	})
}

// TestHandlerMemberEventsMergedWhenFull checks that a full member lane
// merges a join into the waiting join instead of dropping it: the script
// runs once and reads both members.
func TestHandlerMemberEventsMergedWhenFull(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "joins")
	gate := filepath.Join(dir, "gate")
	r := startRunner(t, HandlerConfig{
		Scripts:    mustScripts(t, "member-join=while [ ! -e "+gate+" ]; do sleep 0.05; done; cut -f1 | tr '\\n' ' ' >> "+out+"; echo >> "+out),
		QueueLimit: 1,
	}, 0)
	join := func(names ...string) serf.MemberEvent {
		ev := serf.MemberEvent{Type: serf.EventMemberJoin}
		for _, n := range names {
			ev.Members = append(ev.Members, serf.Member{Name: n, Addr: net.ParseIP("127.0.0.1"), Tags: map[string]string{}})
		}
		return ev
	}
	r.HandleEvent(join("a"))
	testutil.WaitFor(t, 20*time.Second, func() error {
		if r.counter(metricRuns, laneMember) != 1 {
			return fmt.Errorf("first script not started")
		}
		return nil
	})
	r.HandleEvent(join("b"))
	r.HandleEvent(join("c"))
	r.HandleEvent(join("b"))
	if got := r.counter(metricMerged, laneMember); got != 2 {
		t.Errorf("merged counter = %v, want 2", got)
	}
	if got := r.counter(metricDropped, laneMember); got != 0 {
		t.Errorf("dropped counter = %v, want 0", got)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		data, _ := os.ReadFile(out)
		if got := strings.TrimSpace(string(data)); got != "a \nb c" {
			return fmt.Errorf("runs saw %q, want \"a \\nb c\"", got)
		}
		return nil
	})
}

// TestHandlerTimeoutKillsGroup checks that a script past handler_timeout
// is stopped with its whole process group, backgrounded children
// included, even when they ignore SIGTERM, and that the stop is logged
// and counted.
func TestHandlerTimeoutKillsGroup(t *testing.T) {
	haveProc(t)
	cases := []struct {
		name   string
		script func(marker string) string
		kill   bool // SIGTERM is ignored, so SIGKILL must follow
	}{
		{"sigterm", func(m string) string { return "sh -c 'sleep " + m + " & sleep " + m + "'" }, false},
		{"sigkill", func(m string) string { return "trap '' TERM; sh -c 'sleep " + m + " & sleep " + m + "'" }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			marker := sleepMarker(t)
			script := tc.script(marker)
			r := startRunner(t, HandlerConfig{
				Scripts:   mustScripts(t, "user="+script),
				Timeout:   2 * time.Second,
				KillGrace: 500 * time.Millisecond,
			}, 0)
			r.HandleEvent(serf.UserEvent{Name: "deploy"})
			waitProcesses(t, marker, 2, 20*time.Second)
			r.waitLog(t, "[WARN] agent: Script '"+script+"' for event 'user:deploy' timed out after 2s, sending SIGTERM to its process group", 20*time.Second)
			r.waitLog(t, "[WARN] agent: Error invoking script '"+script+"'", 20*time.Second)
			waitProcesses(t, marker, 0, 10*time.Second)
			if got := r.counter(metricTimeouts, laneUser); got != 1 {
				t.Errorf("timeouts counter = %v, want 1", got)
			}
			if got := r.counter(metricFailures, laneUser); got != 1 {
				t.Errorf("failures counter = %v, want 1", got)
			}
			killed := strings.Contains(r.log.String(), "still running 500ms after SIGTERM, sending SIGKILL")
			if killed != tc.kill {
				t.Errorf("SIGKILL logged = %v, want %v", killed, tc.kill)
			}
		})
	}
}

// TestSlowQueryDoesNotDelayMemberJoin checks the lanes: while a query
// script sleeps, a member-join script still runs at once.
func TestSlowQueryDoesNotDelayMemberJoin(t *testing.T) {
	r := startRunner(t, HandlerConfig{Scripts: mustScripts(t,
		"query:slow=echo started; sleep 30",
		"member-join=echo joined",
	)}, 0)
	r.HandleEvent(&serf.Query{Name: "slow"})
	r.waitLog(t, "script 'echo started; sleep 30' stdout: started", 20*time.Second)
	start := time.Now()
	r.HandleEvent(serf.MemberEvent{Type: serf.EventMemberJoin, Members: []serf.Member{{Name: "n1", Addr: net.ParseIP("127.0.0.1")}}})
	r.waitLog(t, "script 'echo joined' stdout: joined", 20*time.Second)
	// A generous bound: the query script has 29 s to go, so any delay
	// caused by it would be far longer. The real figure is in
	// BenchmarkMemberJoinBesideSlowQuery.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("member-join script ran %v after its event", d)
	}
}

// TestQueryPastDeadlineNotRun checks that a query whose deadline passed
// while it waited behind another query is not run, which is logged and
// counted.
func TestQueryPastDeadlineNotRun(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	ran := filepath.Join(dir, "late-ran")
	node := startTestNode(t, testAgentOptions{name: "deadline-a"})
	r := startRunner(t, HandlerConfig{Scripts: mustScripts(t,
		"query:block=while [ ! -e "+gate+" ]; do sleep 0.05; done",
		"query:late=touch "+ran,
	)}, 0)
	node.agent.RegisterEventHandler(r)

	if _, err := node.agent.Query("block", nil, &serf.QueryParam{Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		if r.counter(metricRuns, laneQuery) != 1 {
			return fmt.Errorf("blocking query script not started")
		}
		return nil
	})
	resp, err := node.agent.Query("late", nil, &serf.QueryParam{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		if !resp.Finished() {
			return fmt.Errorf("late query still open")
		}
		return nil
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.waitLog(t, "[WARN] agent: Query 'late' deadline passed before script 'touch "+ran+"' could start, not running it", 20*time.Second)
	if got := r.counter(metricExpired, laneQuery); got != 1 {
		t.Errorf("expired counter = %v, want 1", got)
	}
	if got := r.counter(metricRuns, laneQuery); got != 1 {
		t.Errorf("runs counter = %v, want 1", got)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Errorf("the late query's script ran")
	}
}

// TestQueryResponseIsOutputTail checks that a query is answered with the
// last ResponseLimit bytes of its script's output.
func TestQueryResponseIsOutputTail(t *testing.T) {
	node := startTestNode(t, testAgentOptions{name: "resp-a"})
	r := startRunner(t, HandlerConfig{
		Scripts:       mustScripts(t, "query:tail=printf 0123456789; printf abcdef >&2"),
		ResponseLimit: 10,
	}, 0)
	node.agent.RegisterEventHandler(r)
	resp, err := node.agent.Query("tail", nil, &serf.QueryParam{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-resp.ResponseCh():
		// stdout and stderr are read separately, so which one ends the
		// tail depends on timing; either way it is the last 10 bytes.
		if p := string(got.Payload); p != "6789abcdef" && p != "abcdef0123" && p != "0123456789" {
			t.Errorf("response %q is not a 10-byte tail of the output", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no response")
	}
}

// TestHandlerShutdownStopsEverything checks Shutdown: a running script
// with a backgrounded child and the leftover child of a script that has
// already exited are gone when it returns, within its bound.
func TestHandlerShutdownStopsEverything(t *testing.T) {
	haveProc(t)
	running, left := sleepMarker(t), sleepMarker(t)
	r := startRunner(t, HandlerConfig{
		Scripts: mustScripts(t,
			"user:left=sleep "+left+" >/dev/null 2>&1 &",
			"member-join=sh -c 'sleep "+running+" & sleep "+running+"'",
		),
		KillGrace: 500 * time.Millisecond,
	}, 0)
	r.HandleEvent(serf.UserEvent{Name: "left"})
	r.HandleEvent(serf.MemberEvent{Type: serf.EventMemberJoin, Members: []serf.Member{{Name: "n1", Addr: net.ParseIP("127.0.0.1")}}})
	waitProcesses(t, running, 2, 20*time.Second)
	waitProcesses(t, left, 1, 20*time.Second)
	testutil.WaitFor(t, 20*time.Second, func() error {
		if r.counter(metricRuns, laneUser) != 1 || strings.Contains(r.log.String(), "Error invoking") {
			return fmt.Errorf("left-behind script not finished cleanly")
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	waitProcesses(t, running, 0, 2*time.Second)
	waitProcesses(t, left, 0, 2*time.Second)

	// A stopped runner takes no more events.
	r.HandleEvent(serf.UserEvent{Name: "left"})
	if got := r.counter(metricRuns, laneUser); got != 1 {
		t.Errorf("runs after shutdown: %v", got)
	}
}

// TestHandlerShutdownDeadlineKillsEarly checks that a Shutdown whose
// context ends before the kill grace kills the scripts before that end.
func TestHandlerShutdownDeadlineKillsEarly(t *testing.T) {
	haveProc(t)
	marker := sleepMarker(t)
	r := startRunner(t, HandlerConfig{
		Scripts:   mustScripts(t, "user=trap '' TERM; sleep "+marker),
		KillGrace: time.Minute,
	}, 0)
	r.HandleEvent(serf.UserEvent{Name: "x"})
	waitProcesses(t, marker, 1, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err := r.Shutdown(ctx)
	// The kill goes out shortly before the deadline, so Shutdown usually
	// returns nil; on a loaded machine the reaping may miss the deadline.
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	waitProcesses(t, marker, 0, 5*time.Second)
}

// TestHandlerUpdateScriptsAffectsLaterEvents checks a reload: an event
// already waiting runs the scripts it arrived under, a later one the new
// scripts, and an event no script matches is not queued at all.
func TestHandlerUpdateScriptsAffectsLaterEvents(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	gate := filepath.Join(dir, "gate")
	r := startRunner(t, HandlerConfig{Scripts: mustScripts(t,
		"user:block=while [ ! -e "+gate+" ]; do sleep 0.05; done",
		"user:x=echo old >> "+out,
	)}, 0)
	r.HandleEvent(serf.UserEvent{Name: "block"})
	r.HandleEvent(serf.UserEvent{Name: "x"})
	r.HandleEvent(serf.UserEvent{Name: "unmatched"})
	if n := r.lanes[laneUser].queueLen(); n != 2 && n != 1 {
		t.Fatalf("%d events waiting, want the block and x events at most", n)
	}
	r.UpdateScripts(mustScripts(t, "user:x=echo new >> "+out))
	r.HandleEvent(serf.UserEvent{Name: "x"})
	r.HandleEvent(serf.UserEvent{Name: "block"}) // no longer handled: not queued
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		data, _ := os.ReadFile(out)
		if got := strings.Fields(string(data)); strings.Join(got, " ") != "old new" {
			return fmt.Errorf("ran %v, want old new", got)
		}
		return nil
	})
	if got := r.counter(metricRuns, laneUser); got != 3 {
		t.Errorf("runs = %v, want 3", got)
	}
}
