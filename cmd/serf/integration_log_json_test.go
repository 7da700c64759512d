package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// With -log-json the agent's log lines on stdout are JSON objects (the
// banner before them stays text), and serf monitor -log-json streams the
// same shape from it.
func TestIntegrationLogJSON(t *testing.T) {
	a := startAgent(t, "json-a", "-log-json")
	var join map[string]interface{}
	testutil.WaitFor(t, 20*time.Second, func() error {
		_, logs, _ := strings.Cut(a.proc.Stdout(), "Log data will now stream in as it occurs:")
		for _, line := range strings.Split(logs, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !strings.HasPrefix(line, "{") {
				t.Fatalf("log line %q does not start with '{': a JSON line stands alone, unindented", line)
			}
			var obj map[string]interface{}
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("log line %q is not JSON: %v", line, err)
			}
			if obj["@module"] == "serf" && strings.HasPrefix(fmt.Sprint(obj["@message"]), "EventMemberJoin: json-a ") {
				join = obj
				return nil
			}
		}
		return fmt.Errorf("no JSON EventMemberJoin line yet:\n%s", logs)
	})
	if join["@level"] != "info" {
		t.Errorf("join line %v", join)
	}

	// monitor -log-json, interrupted after the first line.
	p, err := testutil.StartProcess(serfBin, a.dir, nil, "monitor", "-log-json", "-rpc-addr="+a.rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.WaitOutput(`"@module":"serf"`, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(p.Stdout(), "\n")
	if !json.Valid([]byte(first)) {
		t.Errorf("monitor line %q is not JSON", first)
	}
}
