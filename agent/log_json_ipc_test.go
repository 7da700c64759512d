package agent

import (
	"encoding/json"
	"log"
	"strings"
	"testing"
	"time"
)

// monitor-json streams the same lines as monitor, each as one JSON
// object in the record's Log field; plain monitor is unchanged.
func TestIPCMonitorJSON(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-mj"})
	logger := log.New(n.logs, "", log.LstdFlags)
	logger.Printf("[DEBUG] test: hidden-1")
	logger.Printf("[INFO] test.sub: shown-1")

	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	c.call(monitorJSONCommand, 2, &ipcMonitorRequest{LogLevel: "bogus"}, "Unknown log level: BOGUS")
	c.call(monitorJSONCommand, 3, &ipcMonitorRequest{LogLevel: "info"}, "")
	c.call(monitorCommand, 4, &ipcMonitorRequest{LogLevel: "info"}, errMonitorExists)

	var obj map[string]interface{}
	c.until(10*time.Second, "replayed JSON line", func(f *rpcFrame) bool {
		if !f.record || f.seq != 3 {
			return false
		}
		text := f.body.get("Log").text
		if strings.Contains(text, "hidden-1") {
			t.Fatalf("DEBUG line passed an INFO monitor: %q", text)
		}
		obj = nil
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			t.Fatalf("record %q is not a JSON object: %v", text, err)
		}
		return obj["@message"] == "shown-1"
	})
	if obj["@module"] != "test.sub" || obj["@level"] != "info" {
		t.Errorf("got %v", obj)
	}
	if _, err := time.Parse(time.RFC3339, obj["@timestamp"].(string)); err != nil {
		t.Errorf("@timestamp: %v", err)
	}

	// After stop, a text monitor on the same connection gets text.
	c.call(stopCommand, 5, &ipcStopRequest{Stop: 3}, "")
	c.call(monitorCommand, 6, &ipcMonitorRequest{LogLevel: "info"}, "")
	c.until(10*time.Second, "text line", func(f *rpcFrame) bool {
		return f.record && f.seq == 6 && strings.HasSuffix(f.body.get("Log").text, "[INFO] test.sub: shown-1")
	})
}
