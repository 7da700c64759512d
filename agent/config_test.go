package agent

import (
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile creates dir/name with content and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func decodeString(t *testing.T, s string) (*Config, error) {
	t.Helper()
	return DecodeConfig(strings.NewReader(s))
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	want := &Config{
		Tags:                   map[string]string{},
		BindAddr:               "0.0.0.0",
		LogLevel:               "INFO",
		RPCAddr:                "127.0.0.1:7373",
		Protocol:               5,
		Profile:                "lan",
		QueryResponseSizeLimit: 1024,
		QuerySizeLimit:         1024,
		UserEventSizeLimit:     512,
		ReconnectInterval:      30 * time.Second,
		ReconnectTimeout:       24 * time.Hour,
		TombstoneTimeout:       24 * time.Hour,
		SyslogFacility:         "LOCAL0",
		RetryInterval:          30 * time.Second,
		EnableCompression:      true,
		BroadcastTimeout:       5 * time.Second,
		HandlerQueueLimit:      1024,
		CoalescePeriod:         3 * time.Second,
		QuiescentPeriod:        time.Second,
		UserCoalescePeriod:     3 * time.Second,
		UserQuiescentPeriod:    time.Second,
		RPCHandshakeTimeout:    5 * time.Second,
		RPCMaxConns:            512,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("DefaultConfig() =\n%+v\nwant\n%+v", c, want)
	}
	// Each call returns an independent value.
	c.Tags["x"] = "y"
	if len(DefaultConfig().Tags) != 0 {
		t.Fatal("DefaultConfig shares its tags map")
	}
}

// fullJSON sets every key of the reference to a non-zero value.
const fullJSON = `{
  "node_name": "web-1",
  "role": "web",
  "disable_coordinates": true,
  "tags": {"role": "web", "dc": "east"},
  "tags_file": "/tmp/tags",
  "bind": "127.0.0.1:8000",
  "advertise": "10.0.0.1",
  "encrypt_key": "k",
  "keyring_file": "/tmp/keyring",
  "log_level": "debug",
  "rpc_addr": "127.0.0.1:7374",
  "rpc_auth": "secret",
  "protocol": 4,
  "replay_on_join": true,
  "query_response_size_limit": 2048,
  "query_size_limit": 4096,
  "user_event_size_limit": 1000,
  "start_join": ["a", "b"],
  "event_handlers": ["handler.sh", "user:deploy=deploy.sh"],
  "profile": "wan",
  "snapshot_path": "/tmp/snap",
  "leave_on_terminate": true,
  "skip_leave_on_interrupt": true,
  "discover": "cluster",
  "interface": "eth0",
  "mdns": {"interface": "eth1", "disable_ipv4": true, "disable_ipv6": true},
  "reconnect_interval": "10s",
  "reconnect_timeout": "48h",
  "tombstone_timeout": "1h30m",
  "disable_name_resolution": true,
  "enable_syslog": true,
  "syslog_facility": "LOCAL3",
  "retry_join": ["10.0.0.1", "10.0.0.2:7946"],
  "retry_max_attempts": 3,
  "retry_interval": "2s",
  "rejoin_after_leave": true,
  "enable_compression": true,
  "statsite_addr": "127.0.0.1:8125",
  "statsd_addr": "127.0.0.1:8126",
  "broadcast_timeout": "7s",
  "metrics_addr": "127.0.0.1:9100",
  "log_json": true,
  "http_addr": "127.0.0.1:8080",
  "handler_queue_limit": 64,
  "handler_timeout": "45s",
  "rpc_handshake_timeout": "3s",
  "rpc_max_conns": 64,
  "max_procs": 2,
  "coalesce_period": "4s",
  "quiescent_period": "2s",
  "user_coalesce_period": "5s",
  "user_quiescent_period": "500ms",
  "heal_interval": "5s",
  "heal_attempts": 2,
  "rejoin_window": "1h",
  "validate_node_names": true,
  "disable_push": true,
  "MsgpackUseNewTimeFormat": true
}`

var fullConfig = Config{
	NodeName:                "web-1",
	Role:                    "web",
	DisableCoordinates:      true,
	Tags:                    map[string]string{"role": "web", "dc": "east"},
	TagsFile:                "/tmp/tags",
	BindAddr:                "127.0.0.1:8000",
	AdvertiseAddr:           "10.0.0.1",
	EncryptKey:              "k",
	KeyringFile:             "/tmp/keyring",
	LogLevel:                "debug",
	RPCAddr:                 "127.0.0.1:7374",
	RPCAuthKey:              "secret",
	Protocol:                4,
	ReplayOnJoin:            true,
	QueryResponseSizeLimit:  2048,
	QuerySizeLimit:          4096,
	UserEventSizeLimit:      1000,
	StartJoin:               []string{"a", "b"},
	EventHandlers:           []string{"handler.sh", "user:deploy=deploy.sh"},
	Profile:                 "wan",
	SnapshotPath:            "/tmp/snap",
	LeaveOnTerm:             true,
	SkipLeaveOnInt:          true,
	Discover:                "cluster",
	Interface:               "eth0",
	MDNS:                    MDNSConfig{Interface: "eth1", DisableIPv4: true, DisableIPv6: true},
	ReconnectInterval:       10 * time.Second,
	ReconnectTimeout:        48 * time.Hour,
	TombstoneTimeout:        90 * time.Minute,
	DisableNameResolution:   true,
	EnableSyslog:            true,
	SyslogFacility:          "LOCAL3",
	RetryJoin:               []string{"10.0.0.1", "10.0.0.2:7946"},
	RetryMaxAttempts:        3,
	RetryInterval:           2 * time.Second,
	RejoinAfterLeave:        true,
	EnableCompression:       true,
	StatsiteAddr:            "127.0.0.1:8125",
	StatsdAddr:              "127.0.0.1:8126",
	BroadcastTimeout:        7 * time.Second,
	MetricsAddr:             "127.0.0.1:9100",
	LogJSON:                 true,
	HTTPAddr:                "127.0.0.1:8080",
	HandlerQueueLimit:       64,
	HandlerTimeout:          45 * time.Second,
	RPCHandshakeTimeout:     3 * time.Second,
	RPCMaxConns:             64,
	CoalescePeriod:          4 * time.Second,
	QuiescentPeriod:         2 * time.Second,
	UserCoalescePeriod:      5 * time.Second,
	UserQuiescentPeriod:     500 * time.Millisecond,
	HealInterval:            5 * time.Second,
	HealAttempts:            2,
	RejoinWindow:            time.Hour,
	ValidateNodeNames:       true,
	MsgpackUseNewTimeFormat: true,
	DisablePush:             true,
	MaxProcs:                2,
}

func TestDecodeConfigEveryKey(t *testing.T) {
	c, err := decodeString(t, fullJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*c, fullConfig) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", *c, fullConfig)
	}
	// Guard against a field added without a key or left out of fullJSON.
	v := reflect.ValueOf(fullConfig)
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.Name == "Scripts" {
			continue // derived from EventHandlers by BuildConfig, not a key
		}
		if f.Tag.Get("config") == "" {
			t.Errorf("field %s has no config key", f.Name)
		}
		if v.Field(i).IsZero() {
			t.Errorf("field %s is not covered by fullJSON", f.Name)
		}
	}
}

func TestDecodeConfigValues(t *testing.T) {
	cases := []struct {
		name string
		json string
		want Config
	}{
		{"empty object", `{}`, Config{}},
		{"top-level null", `null`, Config{}},
		{"null leaves unset", `{"node_name": null, "protocol": null, "tags": null, "retry_interval": null}`, Config{}},
		{"upper-case key", `{"NODE_NAME": "a"}`, Config{NodeName: "a"}},
		{"mixed-case keys", `{"Protocol": 3, "Tags": {"K": "v"}}`, Config{Protocol: 3, Tags: map[string]string{"K": "v"}}},
		{"nested mdns key case", `{"MDNS": {"Disable_IPv6": true}}`, Config{MDNS: MDNSConfig{DisableIPv6: true}}},
		{"msgpack key any case", `{"msgpackusenewtimeformat": true}`, Config{MsgpackUseNewTimeFormat: true}},
		{"number truncated", `{"protocol": 4.7, "retry_max_attempts": -2.9}`, Config{Protocol: 4, RetryMaxAttempts: -2}},
		{"exponent number", `{"user_event_size_limit": 1e3}`, Config{UserEventSizeLimit: 1000}},
		{"duplicate key last wins", `{"node_name": "a", "node_name": "b"}`, Config{NodeName: "b"}},
		{"trailing data ignored", `{"node_name": "a"} garbage {`, Config{NodeName: "a"}},
		{"empty duration ignored", `{"retry_interval": ""}`, Config{}},
		{"negative duration", `{"broadcast_timeout": "-1s"}`, Config{BroadcastTimeout: -time.Second}},
		{"empty list", `{"start_join": []}`, Config{StartJoin: []string{}}},
		{"null list element", `{"start_join": [null, "x"]}`, Config{StartJoin: []string{"", "x"}}},
		{"null tag value", `{"tags": {"a": null}}`, Config{Tags: map[string]string{"a": ""}}},
		{"false compression", `{"enable_compression": false}`, Config{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decodeString(t, tc.json)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*c, tc.want) {
				t.Fatalf("got %+v, want %+v", *c, tc.want)
			}
		})
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	const prefix = "decoding failed due to the following error(s):\n\n"
	cases := []struct {
		name string
		json string
		want string
	}{
		{"empty input", ``, "EOF"},
		{"truncated", `{"node_name": "a"`, "unexpected EOF"},
		{"syntax", `{"node_name" "a"}`, "invalid character '\"' after object key"},
		{"byte order mark", "\xef\xbb\xbf{}", "invalid character 'ï' looking for beginning of value"},
		{"not an object", `["a"]`, "json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{"unknown keys sorted", `{"foo": 1, "bar": 2, "node_name": "x"}`, prefix + "'agent.Config' has invalid keys: bar, foo"},
		{"retry_max is not a key", `{"retry_max": 3}`, prefix + "'agent.Config' has invalid keys: retry_max"},
		{"string got number", `{"node_name": 5}`, prefix + "'node_name' expected type 'string', got unconvertible type 'float64'"},
		{"type error then unknown key", `{"node_name": 5, "foo": 1, "bar": 2}`,
			prefix + "'node_name' expected type 'string', got unconvertible type 'float64'\n'agent.Config' has invalid keys: bar, foo"},
		{"bool got string", `{"replay_on_join": "true"}`, prefix + "'replay_on_join' expected type 'bool', got unconvertible type 'string'"},
		{"int got string", `{"protocol": "5"}`, prefix + "'protocol' expected type 'int', got unconvertible type 'string'"},
		{"int got bool", `{"retry_max_attempts": true}`, prefix + "'retry_max_attempts' expected type 'int', got unconvertible type 'bool'"},
		{"list got string", `{"start_join": "a"}`, prefix + "'start_join': source data must be an array or slice, got string"},
		{"list element number", `{"retry_join": ["a", 1]}`, prefix + "'retry_join[1]' expected type 'string', got unconvertible type 'float64'"},
		{"tags not object", `{"tags": ["a"]}`, prefix + "'tags' expected a map, got 'slice'"},
		{"tag value number", `{"tags": {"a": 1}}`, prefix + "'tags[a]' expected type 'string', got unconvertible type 'float64'"},
		{"mdns not object", `{"mdns": "eth0"}`, prefix + "'mdns' expected a map, got 'string'"},
		{"mdns unknown key", `{"mdns": {"iface": "eth0"}}`, prefix + "'mdns' has invalid keys: iface"},
		{"mdns wrong type", `{"mdns": {"disable_ipv4": 1}}`, prefix + "'mdns.disable_ipv4' expected type 'bool', got unconvertible type 'float64'"},
		{"duration as number", `{"retry_interval": 30}`, prefix + "'retry_interval' expected type 'string', got unconvertible type 'float64'"},
		{"bad duration", `{"reconnect_timeout": "5x"}`, `time: unknown unit "x" in duration "5x"`},
		{"duration without unit", `{"broadcast_timeout": "5"}`, `time: missing unit in duration "5"`},
		{"type error beats bad duration", `{"retry_interval": "5x", "node_name": 1}`,
			prefix + "'node_name' expected type 'string', got unconvertible type 'float64'"},
		{"same key in two cases", `{"node_name": "a", "NODE_NAME": "b"}`, prefix + "'agent.Config' has invalid keys: NODE_NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decodeString(t, tc.json)
			if err == nil {
				t.Fatalf("no error, decoded %+v", c)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n%q\nwant\n%q", err.Error(), tc.want)
			}
		})
	}
}

func TestReadConfigPathsDirectory(t *testing.T) {
	dir := t.TempDir()
	// Byte order: "Z.json" < "a.json" < "b.json".
	writeFile(t, dir, "a.json", `{"node_name": "a", "start_join": ["a"], "tags": {"k": "a", "a": "1"}}`)
	writeFile(t, dir, "b.json", `{"node_name": "b", "start_join": ["b"], "tags": {"k": "b"}}`)
	writeFile(t, dir, "Z.json", `{"node_name": "Z", "start_join": ["Z"], "rpc_addr": "z:1"}`)
	writeFile(t, dir, "ignored.JSON", `{"node_name": "upper"}`)
	writeFile(t, dir, "ignored.txt", `not json`)
	writeFile(t, dir, "ignored.json.bak", `not json`)
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.json"), "c.json", `{"node_name": "nested"}`)

	c, err := ReadConfigPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "b" {
		t.Errorf("NodeName = %q, want b (last in byte order)", c.NodeName)
	}
	if want := []string{"Z", "a", "b"}; !reflect.DeepEqual(c.StartJoin, want) {
		t.Errorf("StartJoin = %q, want %q", c.StartJoin, want)
	}
	if want := map[string]string{"k": "b", "a": "1"}; !reflect.DeepEqual(c.Tags, want) {
		t.Errorf("Tags = %v, want %v", c.Tags, want)
	}
	if c.RPCAddr != "z:1" {
		t.Errorf("RPCAddr = %q, want z:1", c.RPCAddr)
	}
}

func TestReadConfigPathsFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	first := writeFile(t, dir, "first.conf", `{"node_name": "first", "event_handlers": ["one.sh"]}`)
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, sub, "x.json", `{"event_handlers": ["two.sh"]}`)
	last := writeFile(t, dir, "last", `{"node_name": "last", "event_handlers": ["three.sh"]}`)

	c, err := ReadConfigPaths([]string{first, sub, last})
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "last" {
		t.Errorf("NodeName = %q, want last", c.NodeName)
	}
	if want := []string{"one.sh", "two.sh", "three.sh"}; !reflect.DeepEqual(c.EventHandlers, want) {
		t.Errorf("EventHandlers = %q, want %q", c.EventHandlers, want)
	}

	empty, err := ReadConfigPaths(nil)
	if err != nil || !reflect.DeepEqual(empty, new(Config)) {
		t.Errorf("ReadConfigPaths(nil) = %+v, %v", empty, err)
	}
}

func TestReadConfigPathsErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	bad := writeFile(t, dir, "bad.json", `{"foo": 1}`)
	empty := writeFile(t, dir, "empty.json", ``)
	badDir := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(badDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, badDir, "01.json", `{"node_name": "ok"}`)
	writeFile(t, badDir, "02.json", `{"node_name": 1`)

	cases := []struct {
		name  string
		paths []string
		want  string
	}{
		{"missing file", []string{missing}, "Error reading '" + missing + "': open " + missing + ": no such file or directory"},
		{"unknown key", []string{bad}, "Error decoding '" + bad + "': decoding failed due to the following error(s):\n\n'agent.Config' has invalid keys: foo"},
		{"empty file", []string{empty}, "Error decoding '" + empty + "': EOF"},
		{"bad file in dir", []string{badDir}, "Error decoding '" + badDir + "/02.json': unexpected EOF"},
		{"stops at first error", []string{missing, bad}, "Error reading '" + missing + "'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadConfigPaths(tc.paths)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestMergeConfigRules(t *testing.T) {
	cases := []struct {
		name  string
		a, b  Config
		check func(t *testing.T, r *Config)
	}{
		{"later string replaces", Config{NodeName: "a"}, Config{NodeName: "b"}, func(t *testing.T, r *Config) {
			if r.NodeName != "b" {
				t.Errorf("NodeName = %q", r.NodeName)
			}
		}},
		{"empty string keeps", Config{NodeName: "a", MDNS: MDNSConfig{Interface: "eth0"}}, Config{}, func(t *testing.T, r *Config) {
			if r.NodeName != "a" || r.MDNS.Interface != "eth0" {
				t.Errorf("NodeName = %q, MDNS.Interface = %q", r.NodeName, r.MDNS.Interface)
			}
		}},
		{"boolean or", Config{ReplayOnJoin: true, MDNS: MDNSConfig{DisableIPv4: true}}, Config{EnableSyslog: true}, func(t *testing.T, r *Config) {
			if !r.ReplayOnJoin || !r.EnableSyslog || !r.MDNS.DisableIPv4 {
				t.Errorf("booleans lost: %+v", r)
			}
		}},
		{"protocol non-positive ignored", Config{Protocol: 5}, Config{Protocol: -1}, func(t *testing.T, r *Config) {
			if r.Protocol != 5 {
				t.Errorf("Protocol = %d", r.Protocol)
			}
		}},
		{"protocol positive replaces", Config{Protocol: 5}, Config{Protocol: 3}, func(t *testing.T, r *Config) {
			if r.Protocol != 3 {
				t.Errorf("Protocol = %d", r.Protocol)
			}
		}},
		{"negative number replaces", Config{RetryMaxAttempts: 3}, Config{RetryMaxAttempts: -1}, func(t *testing.T, r *Config) {
			if r.RetryMaxAttempts != -1 {
				t.Errorf("RetryMaxAttempts = %d", r.RetryMaxAttempts)
			}
		}},
		{"zero number keeps", Config{QuerySizeLimit: 1024, RetryInterval: time.Minute}, Config{}, func(t *testing.T, r *Config) {
			if r.QuerySizeLimit != 1024 || r.RetryInterval != time.Minute {
				t.Errorf("QuerySizeLimit = %d, RetryInterval = %v", r.QuerySizeLimit, r.RetryInterval)
			}
		}},
		{"tags merged per key", Config{Tags: map[string]string{"a": "1", "b": "1"}}, Config{Tags: map[string]string{"b": "2", "c": "2"}}, func(t *testing.T, r *Config) {
			if want := map[string]string{"a": "1", "b": "2", "c": "2"}; !reflect.DeepEqual(r.Tags, want) {
				t.Errorf("Tags = %v", r.Tags)
			}
		}},
		{"lists appended", Config{StartJoin: []string{"a"}, RetryJoin: []string{"r1"}, EventHandlers: []string{"e1"}},
			Config{StartJoin: []string{"b"}, RetryJoin: []string{"r2"}, EventHandlers: []string{"e2", "e3"}}, func(t *testing.T, r *Config) {
				if !reflect.DeepEqual(r.StartJoin, []string{"a", "b"}) || !reflect.DeepEqual(r.RetryJoin, []string{"r1", "r2"}) ||
					!reflect.DeepEqual(r.EventHandlers, []string{"e1", "e2", "e3"}) {
					t.Errorf("lists = %q %q %q", r.StartJoin, r.RetryJoin, r.EventHandlers)
				}
			}},
		{"compression replaced by false", Config{EnableCompression: true}, Config{}, func(t *testing.T, r *Config) {
			if r.EnableCompression {
				t.Error("EnableCompression stayed true")
			}
		}},
		{"never merged", Config{}, Config{ValidateNodeNames: true, MsgpackUseNewTimeFormat: true}, func(t *testing.T, r *Config) {
			if r.ValidateNodeNames || r.MsgpackUseNewTimeFormat {
				t.Error("never-merged option was merged")
			}
		}},
		{"disable_coordinates merged", Config{}, Config{DisableCoordinates: true}, func(t *testing.T, r *Config) {
			if !r.DisableCoordinates {
				t.Error("DisableCoordinates not merged")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, MergeConfig(&tc.a, &tc.b))
		})
	}
}

// TestMergeConfigEveryField merges a full layer over an empty one: every
// option except the never-merged ones must come through.
func TestMergeConfigEveryField(t *testing.T) {
	full := fullConfig
	r := MergeConfig(new(Config), &full)
	want := fullConfig
	want.ValidateNodeNames = false
	want.MsgpackUseNewTimeFormat = false
	if !reflect.DeepEqual(*r, want) {
		t.Fatalf("merged\n%+v\nwant\n%+v", *r, want)
	}
	// And merging an empty layer over a full one keeps everything but
	// enable_compression, which every layer replaces.
	r = MergeConfig(&full, new(Config))
	want = fullConfig
	want.EnableCompression = false
	if !reflect.DeepEqual(*r, want) {
		t.Fatalf("merged\n%+v\nwant\n%+v", *r, want)
	}
}

func TestMergeConfigDoesNotAlias(t *testing.T) {
	a := &Config{Tags: map[string]string{"a": "1"}, StartJoin: make([]string, 1, 10)}
	b := &Config{Tags: map[string]string{"b": "2"}, StartJoin: []string{"x"}}
	r := MergeConfig(a, b)
	r.Tags["c"] = "3"
	r.StartJoin[0] = "changed"
	if len(a.Tags) != 1 || len(b.Tags) != 1 || a.StartJoin[0] != "" || b.StartJoin[0] != "x" {
		t.Fatal("MergeConfig result aliases its inputs")
	}
	if MergeConfig(nil, nil) == nil {
		t.Fatal("MergeConfig(nil, nil) = nil")
	}
}

func TestAddrParts(t *testing.T) {
	cases := []struct {
		addr    string
		ip      string
		port    int
		wantErr string
	}{
		{"0.0.0.0", "0.0.0.0", 7946, ""},
		{"127.0.0.1", "127.0.0.1", 7946, ""},
		{"127.0.0.1:8000", "127.0.0.1", 8000, ""},
		{"127.0.0.1:0", "127.0.0.1", 0, ""},
		{"[::1]", "::1", 7946, ""},
		{"[::1]:9000", "::1", 9000, ""},
		{":7000", "0.0.0.0", 7000, ""},
		{"::1", "", 0, "address ::1: too many colons in address"},
		{"bad:host:x", "", 0, "address bad:host:x: too many colons in address"},
		{"127.0.0.1:99999", "", 0, "invalid port"},
		{"[::1", "", 0, "missing ']' in address"},
	}
	c := DefaultConfig()
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			ip, port, err := c.AddrParts(tc.addr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ip != tc.ip || port != tc.port {
				t.Fatalf("got %s %d, want %s %d", ip, port, tc.ip, tc.port)
			}
		})
	}
}

func TestEncryptBytes(t *testing.T) {
	key32 := make([]byte, 32)
	for i := range key32 {
		key32[i] = byte(i)
	}
	cases := []struct {
		name    string
		key     string
		want    []byte
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"32 bytes", base64.StdEncoding.EncodeToString(key32), key32, ""},
		{"wrong size passes here", base64.StdEncoding.EncodeToString([]byte("short")), []byte("short"), ""},
		{"not base64", "!!!", nil, "illegal base64 data at input byte 0"},
		{"unpadded", "YWJj ZA", nil, "illegal base64 data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{EncryptKey: tc.key}
			got, err := c.EncryptBytes()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestValidateLogLevel(t *testing.T) {
	for _, in := range []string{"trace", "Debug", "INFO", "warn", "err"} {
		got, err := ValidateLogLevel(in)
		if err != nil || got != strings.ToUpper(in) {
			t.Errorf("ValidateLogLevel(%q) = %q, %v", in, got, err)
		}
	}
	_, err := ValidateLogLevel("verbose")
	want := "Invalid log level: VERBOSE. Valid log levels are: [TRACE DEBUG INFO WARN ERR]"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func ipNet(s string) net.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestStartupSettings(t *testing.T) {
	fakeIfaces := func(name string) ([]net.Addr, error) {
		switch name {
		case "eth0":
			return []net.Addr{ipNet("fe80::1/64"), ipNet("10.1.2.3/24"), ipNet("10.1.2.4/24")}, nil
		case "ll0":
			return []net.Addr{ipNet("fe80::1/64"), ipNet("169.254.1.1/16")}, nil
		case "none0":
			return nil, nil
		}
		return nil, errors.New("Failed to get interface addresses: boom")
	}
	validKey := base64.StdEncoding.EncodeToString(make([]byte, 16))
	cases := []struct {
		name    string
		mutate  func(c *Config)
		want    *StartupSettings
		notices []string
		wantErr string
	}{
		{"defaults", func(c *Config) {}, &StartupSettings{BindIP: "0.0.0.0", BindPort: 7946, BindAddr: "0.0.0.0:7946", Profile: "lan"}, nil, ""},
		{"bind and advertise", func(c *Config) {
			c.BindAddr = "127.0.0.1:8001"
			c.AdvertiseAddr = "[::1]"
			c.EncryptKey = validKey
			c.Profile = "local"
		}, &StartupSettings{BindIP: "127.0.0.1", BindPort: 8001, BindAddr: "127.0.0.1:8001",
			AdvertiseIP: "::1", AdvertisePort: 7946, EncryptKey: make([]byte, 16), Profile: "local"}, nil, ""},
		{"ipv6 bind addr bracketed", func(c *Config) { c.BindAddr = "[::1]:0" },
			&StartupSettings{BindIP: "::1", BindPort: 0, BindAddr: "[::1]:0", Profile: "lan"}, nil, ""},
		{"interface picks first non link-local", func(c *Config) { c.Interface = "eth0"; c.BindAddr = "0.0.0.0:7000" },
			&StartupSettings{BindIP: "10.1.2.3", BindPort: 7000, BindAddr: "10.1.2.3:7000", Profile: "lan"},
			[]string{"Using interface 'eth0' address '10.1.2.3'"}, ""},
		{"interface has bind ip", func(c *Config) { c.Interface = "eth0"; c.BindAddr = "10.1.2.4" },
			&StartupSettings{BindIP: "10.1.2.4", BindPort: 7946, BindAddr: "10.1.2.4:7946", Profile: "lan"}, nil, ""},
		{"bad bind address", func(c *Config) { c.BindAddr = "bad:host:x" }, nil, nil,
			"Invalid bind address: address bad:host:x: too many colons in address"},
		{"interface lacks bind ip", func(c *Config) { c.Interface = "eth0"; c.BindAddr = "127.0.0.1" }, nil, nil,
			"Interface 'eth0' has no '127.0.0.1' address"},
		{"interface without addresses", func(c *Config) { c.Interface = "none0" }, nil, nil, "Interface 'none0' has no addresses"},
		{"interface only link-local", func(c *Config) { c.Interface = "ll0" }, nil, nil, "Failed to find usable address for interface 'll0'"},
		{"interface addrs fail", func(c *Config) { c.Interface = "x" }, nil, nil, "Failed to get interface addresses: boom"},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "::1" }, nil, nil, "Invalid advertise address: address ::1: too many colons in address"},
		{"advertise after interface notice", func(c *Config) { c.Interface = "eth0"; c.AdvertiseAddr = "::1" }, nil,
			[]string{"Using interface 'eth0' address '10.1.2.3'"}, "Invalid advertise address: address ::1: too many colons in address"},
		{"bad encrypt key", func(c *Config) { c.EncryptKey = "%%%" }, nil, nil, "Invalid encryption key: illegal base64 data at input byte 0"},
		{"bad profile", func(c *Config) { c.Profile = "LAN" }, nil, nil, "Unknown profile: LAN"},
		{"bind checked before profile", func(c *Config) { c.Profile = "x"; c.BindAddr = "::1" }, nil, nil, "Invalid bind address:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(c)
			s, notices, err := c.startupSettings(fakeIfaces)
			if !reflect.DeepEqual(notices, tc.notices) {
				t.Errorf("notices = %q, want %q", notices, tc.notices)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, tc.want) {
				t.Fatalf("got %+v, want %+v", s, tc.want)
			}
		})
	}
}

func TestStartupSettingsRealInterface(t *testing.T) {
	c := DefaultConfig()
	c.Interface = "no-such-iface0"
	_, _, err := c.StartupSettings()
	want := "Invalid network interface: route ip+net: no such network interface"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestInitialTags(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "tags.json", `{"role": "web", "dc": "east"}`)
	notJSON := writeFile(t, dir, "bad.json", `{"role": 1}`)
	missing := filepath.Join(dir, "missing.json")

	cases := []struct {
		name     string
		c        Config
		want     map[string]string
		restored bool
		wantErr  string
	}{
		{"config tags copied", Config{Tags: map[string]string{"a": "b"}}, map[string]string{"a": "b"}, false, ""},
		{"tags file restored", Config{TagsFile: good}, map[string]string{"role": "web", "dc": "east"}, true, ""},
		{"missing tags file", Config{TagsFile: missing}, map[string]string{}, false, ""},
		{"tags with tags file", Config{TagsFile: good, Tags: map[string]string{"role": "x"}}, nil, false,
			"Tags config not allowed while using tag files"},
		{"undecodable tags file", Config{TagsFile: notJSON}, nil, false, "Failed to decode tags file: "},
		{"tags file is a directory", Config{TagsFile: dir}, nil, false, "Failed to read tags file: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, restored, err := tc.c.InitialTags()
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || restored != tc.restored || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %v %v, want %v %v", got, restored, err, tc.want, tc.restored)
			}
		})
	}
}

func TestWriteTagsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tags")
	if err := WriteTagsFile(path, map[string]string{"b": "2", "a": "1"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"a\": \"1\",\n  \"b\": \"2\"\n}"; string(data) != want {
		t.Fatalf("file = %q, want %q", data, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if err := WriteTagsFile(path, nil); err != nil {
		t.Fatal(err)
	}
	if tags, err := LoadTagsFile(path); err != nil || len(tags) != 0 || tags == nil {
		t.Fatalf("LoadTagsFile after writing nil = %v, %v", tags, err)
	}
}

func TestKeyringFile(t *testing.T) {
	dir := t.TempDir()
	k1 := make([]byte, 32)
	k2 := make([]byte, 16)
	k2[0] = 1
	// The file as the serf package writes it.
	path := writeFile(t, dir, "keyring", "[\n  \""+base64.StdEncoding.EncodeToString(k1)+"\",\n  \""+
		base64.StdEncoding.EncodeToString(k2)+"\"\n]")
	keys, err := ReadKeyringFile(path)
	if err != nil || !reflect.DeepEqual(keys, [][]byte{k1, k2}) {
		t.Fatalf("ReadKeyringFile = %v, %v", keys, err)
	}

	emptyRing := writeFile(t, dir, "empty", `[]`)
	badJSON := writeFile(t, dir, "bad", `{}`)
	badKey := writeFile(t, dir, "badkey", `["!!"]`)
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name    string
		c       Config
		want    [][]byte
		wantErr string
	}{
		{"no encryption", Config{}, nil, ""},
		{"encrypt key only", Config{EncryptKey: base64.StdEncoding.EncodeToString(k2)}, [][]byte{k2}, ""},
		{"keyring file", Config{KeyringFile: path}, [][]byte{k1, k2}, ""},
		{"encrypt key and keyring", Config{KeyringFile: path, EncryptKey: base64.StdEncoding.EncodeToString(k2)}, nil,
			"Encryption key not allowed while using a keyring"},
		{"missing keyring", Config{KeyringFile: missing}, nil, "stat " + missing + ": no such file or directory"},
		{"empty keyring", Config{KeyringFile: emptyRing}, nil, "Keyring file contains no keys"},
		{"keyring not array", Config{KeyringFile: badJSON}, nil, "Failed to decode keyring file: "},
		{"keyring bad key", Config{KeyringFile: badKey}, nil, "Failed to decode key from keyring: illegal base64 data"},
		{"keyring is dir", Config{KeyringFile: dir}, nil, "Failed to read keyring file: "},
		{"bad encrypt key", Config{EncryptKey: "!"}, nil, "Invalid encryption key: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.InitialKeyring()
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if !errors.Is(func() error { _, err := (&Config{KeyringFile: path, EncryptKey: "x"}).InitialKeyring(); return err }(), ErrEncryptKeyWithKeyring) {
		t.Error("InitialKeyring error is not ErrEncryptKeyWithKeyring")
	}
}

func TestMDNSNetworkInterface(t *testing.T) {
	if iface, err := (&Config{}).MDNSNetworkInterface(); iface != nil || err != nil {
		t.Fatalf("unset = %v, %v", iface, err)
	}
	c := &Config{Interface: "no-such-iface0", MDNS: MDNSConfig{Interface: "no-such-iface1"}}
	if _, err := c.MDNSNetworkInterface(); err == nil {
		t.Fatal("no error for missing mDNS interface")
	}
}

// TestRPCLimitSettings: rpc_handshake_timeout and rpc_max_conns come from
// files and flags (flags win), zero keeps the default, and values the
// server cannot run with stop the start with an error naming the key.
func TestRPCLimitSettings(t *testing.T) {
	cases := []struct {
		name        string
		json        string
		flags       []string
		wantErr     string
		wantTimeout time.Duration
		wantConns   int
	}{
		{name: "defaults", json: `{}`, wantTimeout: 5 * time.Second, wantConns: 512},
		{name: "file", json: `{"rpc_handshake_timeout": "2s", "rpc_max_conns": 40}`,
			wantTimeout: 2 * time.Second, wantConns: 40},
		{name: "flags over file", json: `{"rpc_handshake_timeout": "2s", "rpc_max_conns": 40}`,
			flags:       []string{"-rpc-handshake-timeout=750ms", "-rpc-max-conns=3"},
			wantTimeout: 750 * time.Millisecond, wantConns: 3},
		{name: "zero keeps the default", json: `{"rpc_handshake_timeout": "0s", "rpc_max_conns": 0}`,
			wantTimeout: 5 * time.Second, wantConns: 512},
		{name: "negative timeout", json: `{"rpc_handshake_timeout": "-1s"}`,
			wantErr: "Invalid rpc_handshake_timeout: -1s (must be greater than zero)"},
		{name: "negative cap", flags: []string{"-rpc-max-conns=-1"}, json: `{}`,
			wantErr: "Invalid rpc_max_conns: -1 (must be greater than zero)"},
		{name: "bad flag duration", flags: []string{"-rpc-handshake-timeout=soon"}, json: `{}`,
			wantErr: `Error: time: invalid duration "soon"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := buildFile(t, tc.json, tc.wantErr, tc.flags...)
			if c == nil {
				return
			}
			if c.RPCHandshakeTimeout != tc.wantTimeout || c.RPCMaxConns != tc.wantConns {
				t.Errorf("rpc_handshake_timeout = %v, rpc_max_conns = %d; want %v, %d",
					c.RPCHandshakeTimeout, c.RPCMaxConns, tc.wantTimeout, tc.wantConns)
			}
		})
	}
}

// TestMaxProcs: max_procs comes from files and flags (flags win); unset it
// is one CPU unless the environment sets GOMAXPROCS, -1 leaves Go's own
// choice, and values below -1 stop the start.
func TestMaxProcs(t *testing.T) {
	cases := []struct {
		name    string
		json    string
		flags   []string
		env     string
		want    int
		wantErr string
	}{
		{name: "default", json: `{}`, want: DefaultMaxProcs},
		{name: "environment decides when unset", json: `{}`, env: "4", want: 0},
		{name: "file", json: `{"max_procs": 3}`, want: 3},
		{name: "file over environment", json: `{"max_procs": 3}`, env: "4", want: 3},
		{name: "flag over file", json: `{"max_procs": 3}`, flags: []string{"-max-procs=2"}, want: 2},
		{name: "Go chooses", json: `{"max_procs": -1}`, want: 0},
		{name: "zero keeps the default", json: `{"max_procs": 0}`, want: DefaultMaxProcs},
		{name: "below -1", json: `{}`, flags: []string{"-max-procs=-2"},
			wantErr: "Invalid max_procs: -2 (must be at least 1, or -1 to let Go choose)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := buildFile(t, tc.json, tc.wantErr, tc.flags...)
			if c == nil {
				return
			}
			if got := c.GoMaxProcs(tc.env); got != tc.want {
				t.Errorf("GoMaxProcs(%q) = %d, want %d", tc.env, got, tc.want)
			}
		})
	}
}
