package agent

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestHandlerConfigFromAgentConfig follows the handler keys from a config
// file and the command line to the runner's configuration.
func TestHandlerConfigFromAgentConfig(t *testing.T) {
	cases := []struct {
		name          string
		file          string
		args          []string
		queue         int
		timeout       time.Duration
		responseLimit int
	}{
		{"defaults", `{}`, nil, DefaultHandlerQueueLimit, 0, 8 * 1024},
		{"file", `{"handler_queue_limit": 7, "handler_timeout": "5m", "query_response_size_limit": 20000}`, nil, 7, 5 * time.Minute, 20000},
		{"flags win", `{"handler_queue_limit": 7, "handler_timeout": "5m"}`,
			[]string{"-handler-queue-limit=9", "-handler-timeout=90s"}, 9, 90 * time.Second, 8 * 1024},
		{"small response limit keeps 8 KiB", `{"query_response_size_limit": 100}`, nil, DefaultHandlerQueueLimit, 0, 8 * 1024},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file, err := DecodeConfig(strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			cmd, _, err := ParseFlags(tc.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			conf := MergeConfig(MergeConfig(DefaultConfig(), file), cmd)
			hc := conf.HandlerConfig(nil, nil, nil)
			if hc.QueueLimit != tc.queue || hc.Timeout != tc.timeout || hc.ResponseLimit != tc.responseLimit {
				t.Errorf("queue %d timeout %v response %d, want %d %v %d",
					hc.QueueLimit, hc.Timeout, hc.ResponseLimit, tc.queue, tc.timeout, tc.responseLimit)
			}
		})
	}
	if _, _, err := ParseFlags([]string{"-handler-timeout=soon"}, nil); err == nil || !strings.HasPrefix(err.Error(), "Error: time: invalid duration") {
		t.Errorf("bad -handler-timeout: %v", err)
	}
}

// TestExampleConfigDecodes keeps ops-misc/serf.json.example readable by
// the agent, handler keys included.
func TestExampleConfigDecodes(t *testing.T) {
	f, err := os.Open("../ops-misc/serf.json.example")
	if err != nil {
		t.Skipf("example config not available: %v", err)
	}
	defer f.Close()
	conf, err := DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if conf.HandlerTimeout != 5*time.Minute || conf.HandlerQueueLimit != 1024 {
		t.Errorf("handler keys decoded as %v, %d", conf.HandlerTimeout, conf.HandlerQueueLimit)
	}
}
