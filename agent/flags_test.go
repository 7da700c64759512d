package agent

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsNoArgs(t *testing.T) {
	var errOut bytes.Buffer
	c, paths, err := ParseFlags(nil, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Protocol: -1, EnableCompression: true, Tags: map[string]string{}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if len(paths) != 0 || errOut.Len() != 0 {
		t.Fatalf("paths = %q, errOut = %q", paths, errOut.String())
	}
}

func TestParseFlagsEveryFlag(t *testing.T) {
	args := []string{
		"-bind=127.0.0.1:8000", "-iface", "eth0", "-mdns-iface=eth1", "-mdns-disable-ipv4", "-mdns-disable-ipv6=true",
		"-advertise=10.0.0.1", "-discover=cl", "-encrypt=KEY", "-keyring-file=/k",
		"-replay", "-log-level=debug", "-node=n1", "-protocol=3", "-role=web",
		"-rpc-addr=127.0.0.1:7000", "-profile=wan", "-snapshot=/s", "-tags-file=/t", "-syslog",
		"-retry-max=4", "-retry-interval=2s", "-rejoin", "-disable-compression", "-broadcast-timeout=9s",
		"--tag=dc=east", "-tag", "role=db", "-join=j1", "-retry-join=r1", "-event-handler=user:x=y.sh",
	}
	c, paths, err := ParseFlags(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		BindAddr: "127.0.0.1:8000", Interface: "eth0",
		MDNS:          MDNSConfig{Interface: "eth1", DisableIPv4: true, DisableIPv6: true},
		AdvertiseAddr: "10.0.0.1", Discover: "cl", EncryptKey: "KEY", KeyringFile: "/k",
		ReplayOnJoin: true, LogLevel: "debug", NodeName: "n1", Protocol: 3, Role: "web",
		RPCAddr: "127.0.0.1:7000", Profile: "wan", SnapshotPath: "/s", TagsFile: "/t", EnableSyslog: true,
		RetryMaxAttempts: 4, RetryInterval: 2 * time.Second, RejoinAfterLeave: true, EnableCompression: false,
		BroadcastTimeout: 9 * time.Second,
		Tags:             map[string]string{"dc": "east", "role": "db"},
		StartJoin:        []string{"j1"}, RetryJoin: []string{"r1"}, EventHandlers: []string{"user:x=y.sh"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", c, want)
	}
	if len(paths) != 0 {
		t.Fatalf("paths = %q", paths)
	}
}

func TestParseFlagsRepeatable(t *testing.T) {
	args := []string{
		"-config-file=a.json", "-join=j1", "-config-dir=conf.d", "-join", "j2", "-config-file", "b",
		"-retry-join=r1", "-retry-join=r2", "-event-handler=one.sh", "-event-handler=member-join=two.sh",
		"-tag=a=1", "-tag=a=2", "-tag=b=x=y", "-tag=c=",
		"-node=first", "-node=second",
	}
	c, paths, err := ParseFlags(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.json", "conf.d", "b"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
	if want := []string{"j1", "j2"}; !reflect.DeepEqual(c.StartJoin, want) {
		t.Errorf("StartJoin = %q", c.StartJoin)
	}
	if want := []string{"r1", "r2"}; !reflect.DeepEqual(c.RetryJoin, want) {
		t.Errorf("RetryJoin = %q", c.RetryJoin)
	}
	if want := []string{"one.sh", "member-join=two.sh"}; !reflect.DeepEqual(c.EventHandlers, want) {
		t.Errorf("EventHandlers = %q", c.EventHandlers)
	}
	if want := map[string]string{"a": "2", "b": "x=y", "c": ""}; !reflect.DeepEqual(c.Tags, want) {
		t.Errorf("Tags = %q", c.Tags)
	}
	if c.NodeName != "second" {
		t.Errorf("NodeName = %q, want the last -node", c.NodeName)
	}
}

func TestParseFlagsStopsAtPositional(t *testing.T) {
	c, _, err := ParseFlags([]string{"-node=a", "foo", "-node=x", "-bogus"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "a" {
		t.Fatalf("NodeName = %q, want a", c.NodeName)
	}
	c, _, err = ParseFlags([]string{"--", "-node=x"}, nil)
	if err != nil || c.NodeName != "" {
		t.Fatalf("after --: %+v, %v", c, err)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		flagError bool
		want      string // error text
		errOut    string // line written to errOut
	}{
		{"unknown flag", []string{"-bogus"}, true, "flag provided but not defined: -bogus", "flag provided but not defined: -bogus\n"},
		{"missing value", []string{"-node"}, true, "flag needs an argument: -node", "flag needs an argument: -node\n"},
		{"bad protocol", []string{"-protocol=abc"}, true, `invalid value "abc" for flag -protocol: parse error`,
			"invalid value \"abc\" for flag -protocol: parse error\n"},
		{"protocol out of int range", []string{"-protocol=99999999999999999999"}, true,
			`invalid value "99999999999999999999" for flag -protocol: value out of range`,
			"invalid value \"99999999999999999999\" for flag -protocol: value out of range\n"},
		{"bad retry-max", []string{"-retry-max=1.5"}, true, `invalid value "1.5" for flag -retry-max: parse error`,
			"invalid value \"1.5\" for flag -retry-max: parse error\n"},
		{"bad boolean", []string{"-replay=maybe"}, true, `invalid boolean value "maybe" for -replay: parse error`,
			"invalid boolean value \"maybe\" for -replay: parse error\n"},
		{"tag without equals", []string{"-tag", "foo"}, false, "Error: Invalid tag: 'foo'", ""},
		{"tag with empty key", []string{"-tag==v"}, false, "Error: Invalid tag: '=v'", ""},
		{"bad tag before bad duration", []string{"-retry-interval=5", "-tag=x"}, false, "Error: Invalid tag: 'x'", ""},
		{"retry interval without unit", []string{"-retry-interval=5"}, false, `Error: time: missing unit in duration "5"`, ""},
		{"retry interval before broadcast", []string{"-broadcast-timeout=x", "-retry-interval=y"}, false,
			`Error: time: invalid duration "y"`, ""},
		{"bad broadcast timeout", []string{"-broadcast-timeout=5x"}, false, `Error: time: unknown unit "x" in duration "5x"`, ""},
		{"flag error before tag", []string{"-tag=x", "-bogus"}, true, "flag provided but not defined: -bogus", "flag provided but not defined: -bogus\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			_, _, err := ParseFlags(tc.args, &errOut)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			var fe *FlagError
			if errors.As(err, &fe) != tc.flagError {
				t.Errorf("FlagError = %v, want %v", !tc.flagError, tc.flagError)
			}
			if errOut.String() != tc.errOut {
				t.Errorf("errOut = %q, want %q", errOut.String(), tc.errOut)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var errOut bytes.Buffer
		_, _, err := ParseFlags([]string{arg}, &errOut)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: err = %v, want flag.ErrHelp", arg, err)
		}
		if errOut.Len() != 0 {
			t.Errorf("%s: errOut = %q", arg, errOut.String())
		}
	}
}

func TestParseTags(t *testing.T) {
	got, err := ParseTags([]string{"a=1", "b=", "c=x=y", "a=3"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "3", "b": "", "c": "x=y"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{"foo", "", "=x"} {
		if _, err := ParseTags([]string{bad}); err == nil || err.Error() != "Invalid tag: '"+bad+"'" {
			t.Errorf("ParseTags(%q) err = %v", bad, err)
		}
	}
}

// fakeInterfaces knows only "eth0" and "eth1".
func fakeInterfaces(name string) (*net.Interface, error) {
	switch name {
	case "eth0", "eth1":
		return &net.Interface{Name: name}, nil
	}
	return nil, errors.New("route ip+net: no such network interface")
}

func fixedHostname() (string, error) { return "host-1", nil }

func build(t *testing.T, args ...string) (*Config, []string, error) {
	t.Helper()
	return buildConfig(args, nil, fixedHostname, fakeInterfaces)
}

// buildFile builds the configuration of one JSON file plus flags. With
// wantErr set it checks the build fails with exactly that message and
// returns nil; otherwise the build must succeed.
func buildFile(t *testing.T, json, wantErr string, flags ...string) *Config {
	t.Helper()
	path := writeFile(t, t.TempDir(), "c.json", json)
	c, _, err := build(t, append([]string{"-config-file=" + path}, flags...)...)
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuildConfigDefaults(t *testing.T) {
	c, warnings, err := build(t)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.NodeName = "host-1"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", c, want)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestBuildConfigLayers(t *testing.T) {
	dir := t.TempDir()
	f1 := writeFile(t, dir, "one.json", `{
		"node_name": "file-node", "protocol": 4, "bind": "127.0.0.1:8000", "log_level": "warn",
		"tags": {"dc": "east", "role": "web"}, "start_join": ["f1"], "retry_join": ["fr1"],
		"event_handlers": ["file.sh"], "replay_on_join": true, "enable_compression": false,
		"retry_max_attempts": 2, "retry_interval": "10s", "leave_on_terminate": true
	}`)
	confDir := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, confDir, "b.json", `{"tags": {"dc": "west"}, "start_join": ["f3"]}`)
	writeFile(t, confDir, "a.json", `{"tags": {"rack": "1"}, "start_join": ["f2"], "rpc_addr": "127.0.0.1:7400"}`)

	c, _, err := build(t,
		"-config-file="+f1, "-config-dir", confDir,
		"-node=cli-node", "-protocol=-1", "-tag=role=db", "-join=c1", "-retry-join=cr1",
		"-event-handler=cli.sh", "-replay=false", "-retry-max=0", "-log-level=err",
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"command line wins for strings", c.NodeName, "cli-node"},
		{"last layer with a value", c.LogLevel, "err"},
		{"file value kept when flag unset", c.BindAddr, "127.0.0.1:8000"},
		{"dir file value", c.RPCAddr, "127.0.0.1:7400"},
		{"protocol -1 ignored", c.Protocol, 4},
		{"tags merged per key", c.Tags, map[string]string{"dc": "west", "role": "db", "rack": "1"}},
		{"start_join appended", c.StartJoin, []string{"f1", "f2", "f3", "c1"}},
		{"retry_join appended", c.RetryJoin, []string{"fr1", "cr1"}},
		{"handlers appended", c.EventHandlers, []string{"file.sh", "cli.sh"}},
		{"boolean not turned off", c.ReplayOnJoin, true},
		{"zero number keeps file", c.RetryMaxAttempts, 2},
		{"duration from file", c.RetryInterval, 10 * time.Second},
		{"compression from command line", c.EnableCompression, true},
		{"file-only boolean", c.LeaveOnTerm, true},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	c, _, err = build(t, "-config-file="+f1, "-disable-compression")
	if err != nil {
		t.Fatal(err)
	}
	if c.EnableCompression {
		t.Error("-disable-compression ignored")
	}
	if c.NodeName != "file-node" {
		t.Errorf("NodeName = %q", c.NodeName)
	}
}

func TestBuildConfigWarnings(t *testing.T) {
	dir := t.TempDir()
	low := writeFile(t, dir, "low.json", `{"retry_interval": "500ms", "broadcast_timeout": "10ms", "rejoin_after_leave": true}`)
	c, warnings, err := build(t, "-config-file="+low, "-role=web", "-tag=role=db", "-tag=x=y")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Deprecation warning: 'Role' has been replaced with 'Tags'",
		"Warning: 'RetryInterval' is too low. Setting to 1s",
		"Warning: 'BroadcastTimeout' is too low. Setting to 1s",
		"Warning: 'RejoinAfterLeave' enabled without snapshot file",
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings =\n%q\nwant\n%q", warnings, want)
	}
	if c.RetryInterval != time.Second || c.BroadcastTimeout != time.Second {
		t.Errorf("not clamped: %v %v", c.RetryInterval, c.BroadcastTimeout)
	}
	if want := map[string]string{"role": "web", "x": "y"}; !reflect.DeepEqual(c.Tags, want) {
		t.Errorf("Tags = %v, want role overriding the tag", c.Tags)
	}
	_, warnings, err = build(t, "-rejoin", "-snapshot=/tmp/s", "-retry-interval=1s", "-broadcast-timeout=1s")
	if err != nil || len(warnings) != 0 {
		t.Errorf("warnings = %q, err = %v", warnings, err)
	}
}

func TestBuildConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", `{"node_name": 1}`)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"flag error", []string{"-bogus"}, "flag provided but not defined: -bogus"},
		{"tag syntax", []string{"-tag", "foo"}, "Error: Invalid tag: 'foo'"},
		{"tag before duration", []string{"-tag", "foo", "-retry-interval=1"}, "Error: Invalid tag: 'foo'"},
		{"duration", []string{"-retry-interval=1"}, `Error: time: missing unit in duration "1"`},
		{"duration before files", []string{"-retry-interval=1", "-config-file=" + bad}, `Error: time: missing unit in duration "1"`},
		{"config file", []string{"-config-file=" + bad}, "Error decoding '" + bad + "': decoding failed due to the following error(s):\n\n'node_name' expected type 'string', got unconvertible type 'float64'"},
		{"missing config", []string{"-config-dir=" + filepath.Join(dir, "nope")}, "Error reading '" + filepath.Join(dir, "nope") + "': open "},
		{"handler type", []string{"-event-handler=member-join,foo=x.sh"}, "Invalid event script: Event 'foo' invoking 'x.sh'"},
		{"handler named", []string{"-event-handler=users:deploy=x.sh"}, "Invalid event script: Event 'users:deploy' invoking 'x.sh'"},
		{"handler before interface", []string{"-iface=nope", "-event-handler=bad=x"}, "Invalid event script: Event 'bad' invoking 'x'"},
		{"interface", []string{"-iface=nope"}, "Invalid network interface: route ip+net: no such network interface"},
		{"interface before mdns", []string{"-iface=nope", "-mdns-iface=eth0"}, "Invalid network interface: "},
		{"mdns without discover", []string{"-mdns-iface=eth0"}, "mDNS interface specified without enabling mDNS discovery"},
		{"mdns without discover even if bad iface", []string{"-mdns-iface=nope"}, "mDNS interface specified without enabling mDNS discovery"},
		{"mdns bad iface", []string{"-mdns-iface=nope", "-discover=c"}, "Invalid mDNS network interface: route ip+net: no such network interface"},
		{"mdns both disabled", []string{"-mdns-iface=eth1", "-discover=c", "-mdns-disable-ipv4", "-mdns-disable-ipv6"},
			"Invalid mDNS configuration: both IPv4 and IPv6 are disabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := build(t, tc.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}

	// Both disabled without an mDNS interface is accepted, as by Serf.
	if _, _, err := build(t, "-discover=c", "-mdns-disable-ipv4", "-mdns-disable-ipv6"); err != nil {
		t.Errorf("both disabled without mdns-iface: %v", err)
	}
	if _, _, err := build(t, "-iface=eth0", "-mdns-iface=eth1", "-discover=c", "-mdns-disable-ipv6"); err != nil {
		t.Errorf("valid interfaces: %v", err)
	}
}

func TestBuildConfigHostname(t *testing.T) {
	fail := func() (string, error) { return "", errors.New("no name") }
	_, _, err := buildConfig(nil, nil, fail, fakeInterfaces)
	if err == nil || err.Error() != "Error determining hostname: no name" {
		t.Fatalf("err = %v", err)
	}
	// The host name is not looked up when a node name is configured.
	c, _, err := buildConfig([]string{"-node=n"}, nil, fail, fakeInterfaces)
	if err != nil || c.NodeName != "n" {
		t.Fatalf("got %v, %v", c, err)
	}
	// The exported entry point uses the OS host name.
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	c, _, err = BuildConfig(nil, nil)
	if err != nil || c.NodeName != host {
		t.Fatalf("BuildConfig NodeName = %v, %v; want %q", c, err, host)
	}
}

func TestBuildConfigFlagErrorOutput(t *testing.T) {
	var errOut bytes.Buffer
	_, _, err := BuildConfig([]string{"-bogus"}, &errOut)
	var fe *FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *FlagError", err)
	}
	if errOut.String() != "flag provided but not defined: -bogus\n" {
		t.Fatalf("errOut = %q", errOut.String())
	}
}

func TestBuildConfigThenStartupSettings(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad bind address", []string{"-bind=bad:host:x"}, "Invalid bind address: address bad:host:x: too many colons in address"},
		{"bad advertise", []string{"-advertise=::1"}, "Invalid advertise address: address ::1: too many colons in address"},
		{"encrypt not base64", []string{"-encrypt=not base64!"}, "Invalid encryption key: illegal base64 data at input byte 3"},
		{"unknown profile", []string{"-profile=fast"}, "Unknown profile: fast"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := build(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.StartupSettings()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHelpText(t *testing.T) {
	if !strings.HasPrefix(HelpText, "Usage: serf agent [options]\n\n") {
		t.Fatalf("HelpText starts %q", HelpText[:40])
	}
	// Which flags it documents is checked in package command, against
	// Serf's list and the real flag set.
}

// TestHelpMentionsEveryFlag keeps the help and the flag set in step.
func TestHelpMentionsEveryFlag(t *testing.T) {
	flags := []string{
		"bind", "iface", "mdns-iface", "mdns-disable-ipv4", "mdns-disable-ipv6", "advertise",
		"config-file", "config-dir", "discover", "encrypt", "keyring-file", "event-handler", "join",
		"log-level", "node", "profile", "protocol", "rejoin", "retry-join", "retry-interval",
		"retry-max", "disable-compression", "role", "rpc-addr", "snapshot", "tag", "tags-file",
		"syslog", "broadcast-timeout",
	}
	for _, name := range flags {
		if !strings.Contains(HelpText, "  -"+name) {
			t.Errorf("help lacks -%s", name)
		}
		if _, _, err := ParseFlags([]string{"-" + name + "=1"}, nil); err != nil {
			var fe *FlagError
			if errors.As(err, &fe) && strings.Contains(err.Error(), "not defined") {
				t.Errorf("flag -%s not defined", name)
			}
		}
	}
}

// TestBuildConfigRefusesBadDurations: intervals the library cannot run
// with stop the start with an error naming the key, instead of a panic
// later; the two Serf clamps to 1s keep doing so.
func TestBuildConfigRefusesBadDurations(t *testing.T) {
	cases := []struct {
		name    string
		json    string
		wantErr string
		check   func(*Config) error
	}{
		{name: "negative reconnect_interval", json: `{"reconnect_interval": "-5s"}`,
			wantErr: "Invalid reconnect_interval: -5s (must be greater than zero)"},
		{name: "negative reconnect_timeout", json: `{"reconnect_timeout": "-1h"}`,
			wantErr: "Invalid reconnect_timeout: -1h0m0s (must be greater than zero)"},
		{name: "negative tombstone_timeout", json: `{"tombstone_timeout": "-1ns"}`,
			wantErr: "Invalid tombstone_timeout: -1ns (must be greater than zero)"},
		{name: "zero keeps the default", json: `{"reconnect_interval": "0s"}`,
			check: func(c *Config) error {
				if c.ReconnectInterval != 30*time.Second {
					return fmt.Errorf("reconnect_interval = %v", c.ReconnectInterval)
				}
				return nil
			}},
		{name: "negative retry_interval is raised to 1s", json: `{"retry_interval": "-3s"}`,
			check: func(c *Config) error {
				if c.RetryInterval != time.Second {
					return fmt.Errorf("retry_interval = %v", c.RetryInterval)
				}
				return nil
			}},
		{name: "negative broadcast_timeout is raised to 1s", json: `{"broadcast_timeout": "-3s"}`,
			check: func(c *Config) error {
				if c.BroadcastTimeout != time.Second {
					return fmt.Errorf("broadcast_timeout = %v", c.BroadcastTimeout)
				}
				return nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := buildFile(t, tc.json, tc.wantErr)
			if c == nil {
				return
			}
			if err := tc.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}
