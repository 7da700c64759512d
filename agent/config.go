// Package agent holds the long-running Serf agent. This file is its
// configuration: the JSON keys of Serf 0.10, the built-in defaults, decoding
// of configuration files and directories, the merge rules between layers, and
// the accessors the agent uses at startup (addresses, keys, tags and keyring
// files). See agent.md §2–§10.
package agent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Built-in defaults (agent.md §3, §5).
const (
	// DefaultBindPort is the gossip port added to bind and advertise
	// addresses that have none.
	DefaultBindPort = 7946
	// DefaultBindAddr is the gossip bind host.
	DefaultBindAddr = "0.0.0.0"
	// DefaultRPCAddr is the RPC listen address.
	DefaultRPCAddr = "127.0.0.1:7373"
	// DefaultProtocol is the Serf protocol version used when none is given.
	DefaultProtocol = 5
	// DefaultProfile is the memberlist timing profile.
	DefaultProfile = "lan"
	// DefaultLogLevel is the console log level.
	DefaultLogLevel = "INFO"
	// DefaultSyslogFacility is the syslog facility used with enable_syslog.
	DefaultSyslogFacility = "LOCAL0"

	DefaultRetryInterval          = 30 * time.Second
	DefaultBroadcastTimeout       = 5 * time.Second
	DefaultReconnectInterval      = 30 * time.Second
	DefaultReconnectTimeout       = 24 * time.Hour
	DefaultTombstoneTimeout       = 24 * time.Hour
	DefaultQueryResponseSizeLimit = 1024
	DefaultQuerySizeLimit         = 1024
	DefaultUserEventSizeLimit     = 512

	// MinRetryInterval and MinBroadcastTimeout are the floors below which
	// the agent warns and clamps (agent.md §6 steps 10 and 11).
	MinRetryInterval    = time.Second
	MinBroadcastTimeout = time.Second
)

// MDNSConfig is the nested "mdns" object.
type MDNSConfig struct {
	// Interface is the network interface used for mDNS only.
	Interface string `config:"interface"`
	// DisableIPv4 stops IPv4 mDNS queries.
	DisableIPv4 bool `config:"disable_ipv4"`
	// DisableIPv6 stops IPv6 mDNS queries.
	DisableIPv6 bool `config:"disable_ipv6"`
}

// Config is the agent configuration: one field per JSON key of Serf 0.10's
// agent. The `config` tag is the key's name; keys are matched
// case-insensitively when decoding. Durations are JSON strings in Go syntax.
type Config struct {
	// NodeName is the unique node name; empty means the host name.
	NodeName string `config:"node_name"`
	// Role is deprecated; it is copied into the tag "role".
	Role string `config:"role"`
	// DisableCoordinates is accepted and merged but has no effect in Serf 0.10.
	DisableCoordinates bool `config:"disable_coordinates"`
	// Tags are the node's tags.
	Tags map[string]string `config:"tags"`
	// TagsFile persists tags across restarts.
	TagsFile string `config:"tags_file"`
	// BindAddr is the gossip bind host[:port].
	BindAddr string `config:"bind"`
	// AdvertiseAddr is the gossiped host[:port]; empty means derived.
	AdvertiseAddr string `config:"advertise"`
	// EncryptKey is the base64 gossip encryption key.
	EncryptKey string `config:"encrypt_key"`
	// KeyringFile is the keyring file loaded at start and kept updated.
	KeyringFile string `config:"keyring_file"`
	// LogLevel is TRACE, DEBUG, INFO, WARN or ERR (any case).
	LogLevel string `config:"log_level"`
	// RPCAddr is the RPC listen host:port.
	RPCAddr string `config:"rpc_addr"`
	// RPCAuthKey is the token RPC clients must present; empty means none.
	RPCAuthKey string `config:"rpc_auth"`
	// Protocol is the Serf protocol version; values <= 0 mean "not set".
	Protocol int `config:"protocol"`
	// ReplayOnJoin replays old user events on start, retry and mDNS joins.
	ReplayOnJoin bool `config:"replay_on_join"`
	// QueryResponseSizeLimit bounds the encoded size of query responses.
	QueryResponseSizeLimit int `config:"query_response_size_limit"`
	// QuerySizeLimit bounds the encoded size of queries.
	QuerySizeLimit int `config:"query_size_limit"`
	// UserEventSizeLimit bounds user events (at most 9216).
	UserEventSizeLimit int `config:"user_event_size_limit"`
	// StartJoin are addresses joined synchronously at startup.
	StartJoin []string `config:"start_join"`
	// EventHandlers are handler specs (see ParseEventHandlers).
	EventHandlers []string `config:"event_handlers"`
	// Profile is the memberlist timing profile: lan, wan or local.
	Profile string `config:"profile"`
	// SnapshotPath is the snapshot file; empty means no snapshot.
	SnapshotPath string `config:"snapshot_path"`
	// LeaveOnTerm makes SIGTERM leave gracefully.
	LeaveOnTerm bool `config:"leave_on_terminate"`
	// SkipLeaveOnInt makes SIGINT shut down without leaving.
	SkipLeaveOnInt bool `config:"skip_leave_on_interrupt"`
	// Discover is the mDNS cluster name; empty disables mDNS.
	Discover string `config:"discover"`
	// Interface is the network interface to bind to.
	Interface string `config:"interface"`
	// MDNS holds the mDNS options.
	MDNS MDNSConfig `config:"mdns"`
	// ReconnectInterval is how often failed members are retried.
	ReconnectInterval time.Duration `config:"reconnect_interval"`
	// ReconnectTimeout is how long failed members are kept.
	ReconnectTimeout time.Duration `config:"reconnect_timeout"`
	// TombstoneTimeout is how long left members are kept.
	TombstoneTimeout time.Duration `config:"tombstone_timeout"`
	// DisableNameResolution only logs name conflicts.
	DisableNameResolution bool `config:"disable_name_resolution"`
	// DisablePush (ours) leaves new user events and queries to gossip
	// alone, as Serf 0.10 does, instead of also sending them at once to a
	// few members.
	DisablePush bool `config:"disable_push"`
	// EnableSyslog also sends logs to syslog.
	EnableSyslog bool `config:"enable_syslog"`
	// SyslogFacility is the syslog facility name.
	SyslogFacility string `config:"syslog_facility"`
	// RetryJoin are addresses joined in the background until success.
	RetryJoin []string `config:"retry_join"`
	// RetryMaxAttempts bounds failed retry-join attempts; <= 0 is unlimited.
	RetryMaxAttempts int `config:"retry_max_attempts"`
	// RetryInterval is the delay between retry-join attempts.
	RetryInterval time.Duration `config:"retry_interval"`
	// RejoinAfterLeave ignores a leave recorded in the snapshot.
	RejoinAfterLeave bool `config:"rejoin_after_leave"`
	// EnableCompression is replaced by every later layer, so in practice it
	// is decided by the command line (true unless -disable-compression).
	EnableCompression bool `config:"enable_compression"`
	// StatsiteAddr is a statsite sink host:port.
	StatsiteAddr string `config:"statsite_addr"`
	// StatsdAddr is a statsd sink host:port.
	StatsdAddr string `config:"statsd_addr"`
	// BroadcastTimeout bounds waits for leave/force-leave/tag broadcasts.
	BroadcastTimeout time.Duration `config:"broadcast_timeout"`
	// MetricsAddr, if set, serves Prometheus metrics at /metrics on this
	// host:port. Not in Serf 0.10.
	MetricsAddr string `config:"metrics_addr"`
	// LogJSON writes log lines as JSON objects (see NewJSONLogWriter) on
	// stdout and syslog. Not in Serf 0.10.
	LogJSON bool `config:"log_json"`
	// HTTPAddr, if set, serves the HTTP JSON API, the live page and
	// /metrics on this host:port. Not in Serf 0.10.
	HTTPAddr string `config:"http_addr"`
	// ValidateNodeNames is accepted but never merged nor applied.
	ValidateNodeNames bool `config:"validate_node_names"`
	// MsgpackUseNewTimeFormat is accepted but never merged nor applied.
	MsgpackUseNewTimeFormat bool `config:"MsgpackUseNewTimeFormat"`
}

// DefaultConfig returns the built-in defaults, the first layer of the
// configuration. NodeName is left empty: the host name is filled in after
// merging (BuildConfig).
func DefaultConfig() *Config {
	return &Config{
		Tags:                   map[string]string{},
		BindAddr:               DefaultBindAddr,
		LogLevel:               DefaultLogLevel,
		RPCAddr:                DefaultRPCAddr,
		Protocol:               DefaultProtocol,
		Profile:                DefaultProfile,
		QueryResponseSizeLimit: DefaultQueryResponseSizeLimit,
		QuerySizeLimit:         DefaultQuerySizeLimit,
		UserEventSizeLimit:     DefaultUserEventSizeLimit,
		ReconnectInterval:      DefaultReconnectInterval,
		ReconnectTimeout:       DefaultReconnectTimeout,
		TombstoneTimeout:       DefaultTombstoneTimeout,
		SyslogFacility:         DefaultSyslogFacility,
		RetryInterval:          DefaultRetryInterval,
		EnableCompression:      true,
		BroadcastTimeout:       DefaultBroadcastTimeout,
	}
}

// DecodeConfig reads one configuration layer from r. Only the first JSON
// value is read and it must be an object (or null). Keys match options
// case-insensitively; unknown keys and ill-typed values are reported
// together, each naming its key; a bad duration string is reported as Go's
// duration parse error. Options absent or null are left at their zero value.
func DecodeConfig(r io.Reader) (*Config, error) {
	var raw map[string]any
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, err
	}
	var result Config
	d := &configDecoder{}
	d.decodeStruct("", "agent.Config", raw, reflect.ValueOf(&result).Elem())
	if len(d.problems) > 0 {
		return nil, &decodeError{problems: d.problems}
	}
	for _, p := range d.durations {
		if p.raw == "" {
			continue // an empty string leaves the duration unset
		}
		dur, err := time.ParseDuration(p.raw)
		if err != nil {
			return nil, err
		}
		p.field.SetInt(int64(dur))
	}
	return &result, nil
}

// decodeError lists every type and unknown-key problem of one file.
type decodeError struct {
	problems []string
}

func (e *decodeError) Error() string {
	return "decoding failed due to the following error(s):\n\n" + strings.Join(e.problems, "\n")
}

var durationType = reflect.TypeOf(time.Duration(0))

// pendingDuration is a duration option whose string is parsed once every
// option has type-checked, so type errors win over parse errors.
type pendingDuration struct {
	field reflect.Value
	raw   string
}

// configDecoder maps decoded JSON (map[string]any and friends) onto Config
// by the `config` field tags.
type configDecoder struct {
	problems  []string
	durations []pendingDuration
}

func (d *configDecoder) problemf(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

func (d *configDecoder) decodeStruct(name, typeName string, data map[string]any, v reflect.Value) {
	used := make(map[string]bool, len(data))
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("config")
		if key == "" {
			continue
		}
		rawKey, ok := lookupKey(data, key)
		if !ok {
			continue
		}
		used[rawKey] = true
		fieldName := key
		if name != "" {
			fieldName = name + "." + key
		}
		d.decodeValue(fieldName, data[rawKey], v.Field(i))
	}
	var unknown []string
	for k := range data {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		label := name
		if label == "" {
			label = typeName
		}
		d.problemf("'%s' has invalid keys: %s", label, strings.Join(unknown, ", "))
	}
}

// lookupKey finds the JSON key for an option: an exact match, else the
// smallest key equal under Unicode case folding. Other keys that fold to the
// same option stay unused and are reported as invalid.
func lookupKey(data map[string]any, key string) (string, bool) {
	if _, ok := data[key]; ok {
		return key, true
	}
	found, ok := "", false
	for k := range data {
		if strings.EqualFold(k, key) && (!ok || k < found) {
			found, ok = k, true
		}
	}
	return found, ok
}

func (d *configDecoder) decodeValue(name string, raw any, v reflect.Value) {
	if raw == nil {
		return // JSON null leaves the option unset
	}
	if v.Type() == durationType {
		s, ok := raw.(string)
		if !ok {
			d.typeProblem(name, "string", raw)
			return
		}
		d.durations = append(d.durations, pendingDuration{field: v, raw: s})
		return
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.typeProblem(name, "string", raw)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			d.typeProblem(name, "bool", raw)
			return
		}
		v.SetBool(b)
	case reflect.Int:
		f, ok := raw.(float64)
		if !ok {
			d.typeProblem(name, "int", raw)
			return
		}
		v.SetInt(truncateToInt(f))
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			d.problemf("'%s': source data must be an array or slice, got %s", name, reflect.ValueOf(raw).Kind())
			return
		}
		list := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			d.decodeValue(fmt.Sprintf("%s[%d]", name, i), item, list.Index(i))
		}
		v.Set(list)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			d.problemf("'%s' expected a map, got '%s'", name, reflect.ValueOf(raw).Kind())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(v.Type(), len(m)))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decodeValue(name+"["+k+"]", m[k], elem)
			v.SetMapIndex(reflect.ValueOf(k), elem)
		}
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.problemf("'%s' expected a map, got '%s'", name, reflect.ValueOf(raw).Kind())
			return
		}
		d.decodeStruct(name, v.Type().String(), m, v)
	default:
		d.problemf("'%s' has unsupported type '%s'", name, v.Type())
	}
}

func (d *configDecoder) typeProblem(name, want string, raw any) {
	d.problemf("'%s' expected type '%s', got unconvertible type '%s'", name, want, reflect.TypeOf(raw))
}

// truncateToInt converts a JSON number to an integer option, truncating
// toward zero and saturating outside the int64 range.
func truncateToInt(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// ReadConfigPaths reads every path in order and merges the layers (without
// defaults). A file is read whatever its extension. A directory contributes
// its direct entries whose names end in ".json", in byte order of name;
// sub-directories are skipped. Errors read "Error reading '<path>': …" or
// "Error decoding '<path>': …".
func ReadConfigPaths(paths []string) (*Config, error) {
	result := new(Config)
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("Error reading '%s': %s", path, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("Error reading '%s': %s", path, err)
		}
		if !fi.IsDir() {
			config, err := DecodeConfig(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("Error decoding '%s': %s", path, err)
			}
			result = MergeConfig(result, config)
			continue
		}
		entries, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("Error reading '%s': %s", path, err)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, entry := range entries {
			if entry.IsDir() || !strings.HasSuffix(entry.Name(), ".json") {
				continue
			}
			config, err := readConfigFile(filepath.Join(path, entry.Name()))
			if err != nil {
				return nil, err
			}
			result = MergeConfig(result, config)
		}
	}
	return result, nil
}

func readConfigFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("Error reading '%s': %s", path, err)
	}
	defer f.Close()
	config, err := DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("Error decoding '%s': %s", path, err)
	}
	return config, nil
}

// MergeConfig returns a new Config with layer b merged over layer a
// (agent.md §4). Neither argument is modified; nil counts as empty.
//
//   - strings: a non-empty value in b replaces;
//   - booleans: logical OR (a later false never turns one off);
//   - protocol: b's value replaces only if > 0;
//   - other numbers and durations: a non-zero value in b replaces;
//   - tags: per key, b's keys overwrite;
//   - start_join, retry_join, event_handlers: a's entries then b's;
//   - enable_compression: b's value always replaces;
//   - validate_node_names, MsgpackUseNewTimeFormat: never merged (a's kept).
func MergeConfig(a, b *Config) *Config {
	if a == nil {
		a = new(Config)
	}
	if b == nil {
		b = new(Config)
	}
	result := *a

	mergeString(&result.NodeName, b.NodeName)
	mergeString(&result.Role, b.Role)
	mergeString(&result.TagsFile, b.TagsFile)
	mergeString(&result.BindAddr, b.BindAddr)
	mergeString(&result.AdvertiseAddr, b.AdvertiseAddr)
	mergeString(&result.EncryptKey, b.EncryptKey)
	mergeString(&result.KeyringFile, b.KeyringFile)
	mergeString(&result.LogLevel, b.LogLevel)
	mergeString(&result.RPCAddr, b.RPCAddr)
	mergeString(&result.RPCAuthKey, b.RPCAuthKey)
	mergeString(&result.Profile, b.Profile)
	mergeString(&result.SnapshotPath, b.SnapshotPath)
	mergeString(&result.Discover, b.Discover)
	mergeString(&result.Interface, b.Interface)
	mergeString(&result.MDNS.Interface, b.MDNS.Interface)
	mergeString(&result.SyslogFacility, b.SyslogFacility)
	mergeString(&result.StatsiteAddr, b.StatsiteAddr)
	mergeString(&result.StatsdAddr, b.StatsdAddr)
	mergeString(&result.MetricsAddr, b.MetricsAddr)
	mergeString(&result.HTTPAddr, b.HTTPAddr)

	result.DisableCoordinates = a.DisableCoordinates || b.DisableCoordinates
	result.ReplayOnJoin = a.ReplayOnJoin || b.ReplayOnJoin
	result.LeaveOnTerm = a.LeaveOnTerm || b.LeaveOnTerm
	result.SkipLeaveOnInt = a.SkipLeaveOnInt || b.SkipLeaveOnInt
	result.MDNS.DisableIPv4 = a.MDNS.DisableIPv4 || b.MDNS.DisableIPv4
	result.MDNS.DisableIPv6 = a.MDNS.DisableIPv6 || b.MDNS.DisableIPv6
	result.DisableNameResolution = a.DisableNameResolution || b.DisableNameResolution
	result.DisablePush = a.DisablePush || b.DisablePush
	result.EnableSyslog = a.EnableSyslog || b.EnableSyslog
	result.LogJSON = a.LogJSON || b.LogJSON
	result.RejoinAfterLeave = a.RejoinAfterLeave || b.RejoinAfterLeave

	if b.Protocol > 0 {
		result.Protocol = b.Protocol
	}
	mergeInt(&result.QueryResponseSizeLimit, b.QueryResponseSizeLimit)
	mergeInt(&result.QuerySizeLimit, b.QuerySizeLimit)
	mergeInt(&result.UserEventSizeLimit, b.UserEventSizeLimit)
	mergeInt(&result.RetryMaxAttempts, b.RetryMaxAttempts)

	mergeDuration(&result.ReconnectInterval, b.ReconnectInterval)
	mergeDuration(&result.ReconnectTimeout, b.ReconnectTimeout)
	mergeDuration(&result.TombstoneTimeout, b.TombstoneTimeout)
	mergeDuration(&result.RetryInterval, b.RetryInterval)
	mergeDuration(&result.BroadcastTimeout, b.BroadcastTimeout)

	result.EnableCompression = b.EnableCompression

	result.Tags = make(map[string]string, len(a.Tags)+len(b.Tags))
	for k, v := range a.Tags {
		result.Tags[k] = v
	}
	for k, v := range b.Tags {
		result.Tags[k] = v
	}
	result.StartJoin = concatStrings(a.StartJoin, b.StartJoin)
	result.RetryJoin = concatStrings(a.RetryJoin, b.RetryJoin)
	result.EventHandlers = concatStrings(a.EventHandlers, b.EventHandlers)
	return &result
}

func mergeString(dst *string, later string) {
	if later != "" {
		*dst = later
	}
}

func mergeInt(dst *int, later int) {
	if later != 0 {
		*dst = later
	}
}

func mergeDuration(dst *time.Duration, later time.Duration) {
	if later != 0 {
		*dst = later
	}
}

// concatStrings returns a fresh slice holding a then b (nil when both are
// empty), so a merged Config never shares backing arrays with its inputs.
func concatStrings(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	return append(out, b...)
}

// AddrParts resolves a bind or advertise address "host[:port]" to an IP
// string and port. A missing port becomes DefaultBindPort (7946); IPv6
// literals need brackets ("[::1]" or "[::1]:7946"); host names are resolved
// once. An empty host yields "0.0.0.0".
func (c *Config) AddrParts(address string) (string, int, error) {
	checkAddr := address
	if _, _, err := net.SplitHostPort(checkAddr); err != nil {
		var addrErr *net.AddrError
		if !errors.As(err, &addrErr) || addrErr.Err != "missing port in address" {
			return "", 0, err
		}
		checkAddr = checkAddr + ":" + strconv.Itoa(DefaultBindPort)
		// Appending the port can still leave an invalid form ("[::1]x").
		if _, _, err := net.SplitHostPort(checkAddr); err != nil {
			return "", 0, err
		}
	}
	addr, err := net.ResolveTCPAddr("tcp", checkAddr)
	if err != nil {
		return "", 0, err
	}
	if addr.IP == nil {
		return DefaultBindAddr, addr.Port, nil
	}
	return addr.IP.String(), addr.Port, nil
}

// EncryptBytes decodes EncryptKey (standard padded base64). An empty key
// gives nil, nil. The key length is not checked here: memberlist rejects
// sizes other than 16, 24 or 32 bytes when Serf is created.
func (c *Config) EncryptBytes() ([]byte, error) {
	if c.EncryptKey == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(c.EncryptKey)
}

// NetworkInterface returns the interface named by Interface, or nil, nil
// when it is not set.
func (c *Config) NetworkInterface() (*net.Interface, error) {
	if c.Interface == "" {
		return nil, nil
	}
	return net.InterfaceByName(c.Interface)
}

// MDNSNetworkInterface returns the interface used for mDNS: mdns.interface
// if set, else interface, else nil (all multicast interfaces).
func (c *Config) MDNSNetworkInterface() (*net.Interface, error) {
	switch {
	case c.MDNS.Interface != "":
		return net.InterfaceByName(c.MDNS.Interface)
	case c.Interface != "":
		return net.InterfaceByName(c.Interface)
	}
	return nil, nil
}

// EventScripts parses EventHandlers (see ParseEventHandlers).
func (c *Config) EventScripts() ([]EventScript, error) {
	return ParseEventHandlers(c.EventHandlers)
}

// logLevels are the valid levels, lowest first.
var logLevels = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERR"}

// LogLevels returns the valid log levels, lowest first.
func LogLevels() []string {
	return append([]string(nil), logLevels[:]...)
}

// ValidateLogLevel upper-cases level and checks it (agent.md §6 step 13).
// The error reads "Invalid log level: <LEVEL>. Valid log levels are:
// [TRACE DEBUG INFO WARN ERR]".
func ValidateLogLevel(level string) (string, error) {
	upper := strings.ToUpper(level)
	for _, l := range logLevels {
		if l == upper {
			return upper, nil
		}
	}
	return "", fmt.Errorf("Invalid log level: %s. Valid log levels are: %v", upper, logLevels)
}

// ValidProfile reports whether p is a known timing profile (case-sensitive).
func ValidProfile(p string) bool {
	switch p {
	case "lan", "wan", "local":
		return true
	}
	return false
}

// StartupSettings are the values the agent derives from a Config just before
// "Starting Serf agent..." (agent.md §6 steps 16–20).
type StartupSettings struct {
	// BindIP and BindPort are the resolved bind address; with Interface set
	// and a wildcard bind IP, BindIP is the interface address chosen.
	BindIP   string
	BindPort int
	// BindAddr is BindIP:BindPort as shown in the banner (IPv6 bracketed).
	BindAddr string
	// AdvertiseIP is empty when advertise is not configured.
	AdvertiseIP   string
	AdvertisePort int
	// EncryptKey is the decoded encrypt_key, nil if none.
	EncryptKey []byte
	// Profile is the validated timing profile.
	Profile string
}

// StartupSettings runs steps 16–20 of agent.md §6 in order: bind address,
// interface address selection, advertise address, encryption key, profile.
// notices are lines to print (without "==> ") before "Starting Serf
// agent...", e.g. "Using interface 'eth0' address '10.0.0.5'"; they are
// returned even when err is not nil, and should be printed before it.
func (c *Config) StartupSettings() (settings *StartupSettings, notices []string, err error) {
	return c.startupSettings(interfaceAddrs)
}

func interfaceAddrs(name string) ([]net.Addr, error) {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("Invalid network interface: %s", err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, fmt.Errorf("Failed to get interface addresses: %s", err)
	}
	return addrs, nil
}

func (c *Config) startupSettings(ifaceAddrs func(name string) ([]net.Addr, error)) (*StartupSettings, []string, error) {
	var notices []string
	bindIP, bindPort, err := c.AddrParts(c.BindAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("Invalid bind address: %s", err)
	}

	if c.Interface != "" {
		addrs, err := ifaceAddrs(c.Interface)
		if err != nil {
			return nil, nil, err
		}
		if len(addrs) == 0 {
			return nil, nil, fmt.Errorf("Interface '%s' has no addresses", c.Interface)
		}
		if bindIP == DefaultBindAddr {
			found := false
			for _, a := range addrs {
				ip := addrIP(a)
				if ip == nil || ip.IsLinkLocalUnicast() {
					continue
				}
				bindIP = ip.String()
				notices = append(notices, fmt.Sprintf("Using interface '%s' address '%s'", c.Interface, bindIP))
				found = true
				break
			}
			if !found {
				return nil, notices, fmt.Errorf("Failed to find usable address for interface '%s'", c.Interface)
			}
		} else {
			found := false
			for _, a := range addrs {
				if ip := addrIP(a); ip != nil && ip.String() == bindIP {
					found = true
					break
				}
			}
			if !found {
				return nil, notices, fmt.Errorf("Interface '%s' has no '%s' address", c.Interface, bindIP)
			}
		}
	}

	s := &StartupSettings{
		BindIP:   bindIP,
		BindPort: bindPort,
		BindAddr: net.JoinHostPort(bindIP, strconv.Itoa(bindPort)),
	}
	if c.AdvertiseAddr != "" {
		s.AdvertiseIP, s.AdvertisePort, err = c.AddrParts(c.AdvertiseAddr)
		if err != nil {
			return nil, notices, fmt.Errorf("Invalid advertise address: %s", err)
		}
	}
	s.EncryptKey, err = c.EncryptBytes()
	if err != nil {
		return nil, notices, fmt.Errorf("Invalid encryption key: %s", err)
	}
	if !ValidProfile(c.Profile) {
		return nil, notices, fmt.Errorf("Unknown profile: %s", c.Profile)
	}
	s.Profile = c.Profile
	return s, notices, nil
}

func addrIP(a net.Addr) net.IP {
	switch v := a.(type) {
	case *net.IPNet:
		return v.IP
	case *net.IPAddr:
		return v.IP
	}
	return nil
}

// Errors of step 21 (printed after "Failed to setup the Serf agent: ").
var (
	ErrTagsWithTagsFile      = errors.New("Tags config not allowed while using tag files")
	ErrEncryptKeyWithKeyring = errors.New("Encryption key not allowed while using a keyring")
)

// InitialTags returns the tags the node starts with. Without TagsFile they
// are a copy of Tags (restored is false). With TagsFile, any configured tag
// (including the role) is ErrTagsWithTagsFile; an existing file is loaded
// (restored is true, log "Restored <n> tag(s) from <path>"); a missing file
// gives no tags.
func (c *Config) InitialTags() (tags map[string]string, restored bool, err error) {
	if c.TagsFile == "" {
		tags = make(map[string]string, len(c.Tags))
		for k, v := range c.Tags {
			tags[k] = v
		}
		return tags, false, nil
	}
	if len(c.Tags) > 0 {
		return nil, false, ErrTagsWithTagsFile
	}
	if _, err := os.Stat(c.TagsFile); err != nil {
		return map[string]string{}, false, nil
	}
	tags, err = LoadTagsFile(c.TagsFile)
	if err != nil {
		return nil, false, err
	}
	return tags, true, nil
}

// LoadTagsFile reads a tags file: a JSON object of strings. Errors read
// "Failed to read tags file: …" or "Failed to decode tags file: …".
func LoadTagsFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Failed to read tags file: %s", err)
	}
	tags := map[string]string{}
	if err := json.Unmarshal(data, &tags); err != nil {
		return nil, fmt.Errorf("Failed to decode tags file: %s", err)
	}
	if tags == nil { // the file held null
		tags = map[string]string{}
	}
	return tags, nil
}

// WriteTagsFile writes tags as a JSON object with 2-space indentation and
// no trailing newline; a new file gets mode 0600, an existing one keeps its
// mode.
func WriteTagsFile(path string, tags map[string]string) error {
	if tags == nil {
		tags = map[string]string{}
	}
	data, err := json.MarshalIndent(tags, "", "  ")
	if err != nil {
		return fmt.Errorf("Failed to encode tags: %s", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("Failed to write tags file: %s", err)
	}
	return nil
}

// InitialKeyring returns the keys the node starts with, primary first.
// With KeyringFile, EncryptKey must be empty (ErrEncryptKeyWithKeyring) and
// the file is read with ReadKeyringFile (log "Restored keyring with <n> keys
// from <path>"). Otherwise the decoded EncryptKey is the only key, or nil
// when encryption is off.
func (c *Config) InitialKeyring() ([][]byte, error) {
	if c.KeyringFile != "" {
		if c.EncryptKey != "" {
			return nil, ErrEncryptKeyWithKeyring
		}
		return ReadKeyringFile(c.KeyringFile)
	}
	key, err := c.EncryptBytes()
	if err != nil {
		return nil, fmt.Errorf("Invalid encryption key: %s", err)
	}
	if key == nil {
		return nil, nil
	}
	return [][]byte{key}, nil
}

// ReadKeyringFile reads a keyring file: a JSON array of base64 keys, the
// first being the primary. The file must exist (the os.Stat error is
// returned as is). Key sizes are not checked here.
func ReadKeyringFile(path string) ([][]byte, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Failed to read keyring file: %s", err)
	}
	var encoded []string
	if err := json.Unmarshal(data, &encoded); err != nil {
		return nil, fmt.Errorf("Failed to decode keyring file: %s", err)
	}
	keys := make([][]byte, 0, len(encoded))
	for _, s := range encoded {
		key, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("Failed to decode key from keyring: %s", err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("Keyring file contains no keys")
	}
	return keys, nil
}

// WriteKeyringFile writes keys (primary first) as a JSON array of base64
// strings with 2-space indentation, no trailing newline, mode 0600.
func WriteKeyringFile(path string, keys [][]byte) error {
	encoded := make([]string, 0, len(keys))
	for _, k := range keys {
		encoded = append(encoded, base64.StdEncoding.EncodeToString(k))
	}
	data, err := json.MarshalIndent(encoded, "", "  ")
	if err != nil {
		return fmt.Errorf("Failed to encode keys: %s", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("Failed to write keyring file: %s", err)
	}
	return nil
}
