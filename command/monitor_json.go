package command

import (
	"encoding/json"
	"fmt"
	"net"
	"time"
	"unicode/utf8"
)

// formatEventJSON renders a stream record for `serf monitor -log-json` as
// one JSON object shaped like the log lines around it, with the record's
// fields under "event", so every line of the output is JSON.
func formatEventJSON(event map[string]interface{}) string {
	obj := map[string]interface{}{
		"@timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"@level":     "info",
		"@module":    "monitor",
		"@message":   "Event Info",
		"event":      jsonValue("", event),
	}
	b, err := json.Marshal(obj)
	if err != nil {
		// jsonValue leaves nothing json cannot encode; keep the line JSON
		// even so.
		b, _ = json.Marshal(map[string]string{"@level": "error", "@message": fmt.Sprintf("unprintable event: %v", err)})
	}
	return string(b)
}

// jsonValue turns a generically decoded msgpack value into one
// encoding/json accepts: nested maps get string keys, addresses (key
// "Addr") print as IPs, and other bytes as text when they are UTF-8.
func jsonValue(key string, v interface{}) interface{} {
	switch v := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(v))
		for k, x := range v {
			out[k] = jsonValue(k, x)
		}
		return out
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(v))
		for k, x := range v {
			ks := fmt.Sprint(k)
			out[ks] = jsonValue(ks, x)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(v))
		for i, x := range v {
			out[i] = jsonValue(key, x)
		}
		return out
	case []byte:
		if key == "Addr" && (len(v) == net.IPv4len || len(v) == net.IPv6len) {
			return net.IP(v).String()
		}
		if utf8.Valid(v) {
			return string(v)
		}
		return v // base64
	default:
		return v
	}
}
