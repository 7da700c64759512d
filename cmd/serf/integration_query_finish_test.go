package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIntegrationQueryFinishesEarly: `serf query` returns once every
// member the filters select has acked and answered, and prints what it
// always printed; -wait-timeout, whose request is Serf's own (no
// FinishWhenDone key, so the agent's default), waits for the timeout, and
// so does a query that a member without a handler never answers.
func TestIntegrationQueryFinishesEarly(t *testing.T) {
	handler := `query:ping=echo pong from $SERF_SELF_NAME`
	a := startAgent(t, "qf-a", "-tag", "role=web", "-event-handler", handler)
	startAgent(t, "qf-b", "-tag", "role=web", "-event-handler", handler, "-join", a.bind)
	startAgent(t, "qf-c", "-tag", "role=db", "-join", a.bind) // no handler: never answers
	a.waitMember("qf-b", "alive", 20*time.Second)
	a.waitMember("qf-c", "alive", 20*time.Second)

	cases := []struct {
		name      string
		args      []string
		timeout   time.Duration
		early     bool
		responses []string
		acks      int
	}{
		{"filtered to members that answer", []string{"-tag", "role=web"}, 30 * time.Second, true, []string{"qf-a", "qf-b"}, 2},
		{"node filter", []string{"-node", "qf-b"}, 30 * time.Second, true, []string{"qf-b"}, 1},
		{"json", []string{"-tag", "role=web", "-format=json"}, 30 * time.Second, true, nil, 0},
		{"wait-timeout keeps Serf's behaviour", []string{"-tag", "role=web", "-wait-timeout"}, 3 * time.Second, false, []string{"qf-a", "qf-b"}, 2},
		{"a member that never answers", nil, 3 * time.Second, false, []string{"qf-a", "qf-b"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"query", "-timeout", tc.timeout.String()}, tc.args...), "ping")
			started := time.Now()
			out, code := a.cli(args...)
			elapsed := time.Since(started)
			if code != 0 {
				t.Fatalf("query exited %d:\n%s", code, out)
			}
			if tc.early && elapsed > tc.timeout/3 {
				t.Errorf("took %v with a %v timeout although everyone answered:\n%s", elapsed, tc.timeout, out)
			}
			if !tc.early && elapsed < tc.timeout-200*time.Millisecond {
				t.Errorf("returned after %v, before its %v timeout:\n%s", elapsed, tc.timeout, out)
			}
			if strings.Contains(strings.Join(tc.args, " "), "json") {
				if !strings.Contains(out, "pong from qf-a") || !strings.Contains(out, "pong from qf-b") {
					t.Errorf("json output lacks a response:\n%s", out)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if lines[0] != "Query 'ping' dispatched" {
				t.Errorf("first line %q", lines[0])
			}
			for _, n := range tc.responses {
				if !strings.Contains(out, "Response from '"+n+"': pong from "+n+"\n") {
					t.Errorf("no response from %s:\n%s", n, out)
				}
			}
			wantTail := []string{"Total Acks: " + strconv.Itoa(tc.acks), "Total Responses: " + strconv.Itoa(len(tc.responses))}
			if got := lines[len(lines)-2:]; strings.Join(got, "|") != strings.Join(wantTail, "|") {
				t.Errorf("totals %q, want %q:\n%s", got, wantTail, out)
			}
		})
	}
}
