// Package agent is the Serf agent: the daemon `serf agent` runs (Daemon),
// the Agent around a Serf instance, its configuration, the event handler
// runner, the RPC server and mDNS discovery. docs/agent-design.md describes
// how the parts fit together and how they stop.
//
// This file holds the configuration: one field per JSON key, and the
// built-in defaults.
package agent

import (
	"time"

	"github.com/serfclone/serf/serf"
)

// Built-in defaults.
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

	// DefaultRetryInterval is the delay between retry-join attempts.
	DefaultRetryInterval = 30 * time.Second

	// The event coalescing windows of Serf's agent. The library's own
	// default is no coalescing; the agent merges member events for 3s
	// (flushing after 1s without a new one), and user events marked
	// coalescing the same way.
	DefaultCoalescePeriod      = 3 * time.Second
	DefaultQuiescentPeriod     = time.Second
	DefaultUserCoalescePeriod  = 3 * time.Second
	DefaultUserQuiescentPeriod = time.Second

	// DefaultRPCHandshakeTimeout is how long a new RPC connection has to
	// complete its handshake (and auth, when rpc_auth is set).
	DefaultRPCHandshakeTimeout = 5 * time.Second
	// DefaultRPCMaxConns is how many RPC connections may be open at once,
	// and separately how many HTTP connections. Far above what scripts
	// running `serf members` in loops or a few monitors need, far below
	// the descriptors an agent has.
	DefaultRPCMaxConns = 512
	// DefaultMaxProcs is how many CPUs run the agent's Go code when
	// max_procs is not set. An agent's work (a few packets per second,
	// a burst per event, small RPC replies) is too small to spread over
	// CPUs: with one, the Go scheduler stops handing goroutines between
	// threads and waking idle ones to look for work, which on a
	// two-CPU machine running 64 agents took about a quarter off the CPU
	// an event costs the whole machine. Handler scripts are processes of
	// their own and use every CPU regardless.
	DefaultMaxProcs = 1

	// MinRetryInterval and MinBroadcastTimeout are the floors below which
	// the agent warns and raises the value, as Serf does.
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
	// Scripts are EventHandlers parsed, filled in by BuildConfig so the
	// specs are parsed once, where they are validated. Not a config key.
	Scripts []EventScript
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
	// CoalescePeriod and QuiescentPeriod bound the window in which member
	// events are merged before handlers see them: the window closes
	// CoalescePeriod after its first event, or QuiescentPeriod after its
	// last. Not in Serf 0.10, whose agent fixes them at 3s and 1s.
	CoalescePeriod  time.Duration `config:"coalesce_period"`
	QuiescentPeriod time.Duration `config:"quiescent_period"`
	// UserCoalescePeriod and UserQuiescentPeriod do the same for user
	// events sent with coalescing. Not in Serf 0.10 (3s and 1s there).
	UserCoalescePeriod  time.Duration `config:"user_coalesce_period"`
	UserQuiescentPeriod time.Duration `config:"user_quiescent_period"`
	// MetricsAddr, if set, serves Prometheus metrics at /metrics on this
	// host:port. Not in Serf 0.10.
	MetricsAddr string `config:"metrics_addr"`
	// LogJSON writes log lines as JSON objects (see NewJSONLogWriter) on
	// stdout and syslog. Not in Serf 0.10.
	LogJSON bool `config:"log_json"`
	// HTTPAddr, if set, serves the HTTP JSON API, the live page and
	// /metrics on this host:port. Not in Serf 0.10.
	HTTPAddr string `config:"http_addr"`
	// HandlerQueueLimit is how many events may wait for handler scripts in
	// each lane (member, user, query). Not in Serf 0.10.
	HandlerQueueLimit int `config:"handler_queue_limit"`
	// HandlerTimeout bounds one handler script run; 0 is no limit. Not in
	// Serf 0.10.
	HandlerTimeout time.Duration `config:"handler_timeout"`
	// HealInterval, HealAttempts and RejoinWindow tune the heal loop
	// (heal.go). Not in Serf 0.10.
	HealInterval time.Duration `config:"heal_interval"`
	HealAttempts int           `config:"heal_attempts"`
	RejoinWindow time.Duration `config:"rejoin_window"`
	// RPCHandshakeTimeout is how long a new RPC connection may take to
	// send its handshake (and auth, when rpc_auth is set) before the agent
	// closes it. Not in Serf 0.10, which waits forever.
	RPCHandshakeTimeout time.Duration `config:"rpc_handshake_timeout"`
	// RPCMaxConns bounds the RPC connections open at once; one past it is
	// answered "too many RPC connections" and closed. The HTTP listener
	// gets a bound of the same size of its own. Not in Serf 0.10.
	RPCMaxConns int `config:"rpc_max_conns"`
	// MaxProcs is how many CPUs may run the agent's own Go code at once
	// (Go's GOMAXPROCS), read at start: 0 in a layer leaves the value
	// below it, -1 leaves the choice to Go (one per CPU, or the GOMAXPROCS
	// environment variable). Unset, it is DefaultMaxProcs unless
	// GOMAXPROCS is set in the environment. Not in Serf 0.10.
	MaxProcs int `config:"max_procs"`
	// ValidateNodeNames is accepted but never merged nor applied.
	ValidateNodeNames bool `config:"validate_node_names"`
	// MsgpackUseNewTimeFormat is accepted but never merged nor applied.
	MsgpackUseNewTimeFormat bool `config:"MsgpackUseNewTimeFormat"`
}

// DefaultConfig returns the built-in defaults, the first layer of the
// configuration. The timeouts and size limits the library also has are
// taken from serf.DefaultConfig, so the two never disagree. NodeName is
// left empty: the host name is filled in after merging (BuildConfig).
func DefaultConfig() *Config {
	lib := serf.DefaultConfig()
	return &Config{
		Tags:                   map[string]string{},
		BindAddr:               DefaultBindAddr,
		LogLevel:               DefaultLogLevel,
		RPCAddr:                DefaultRPCAddr,
		Protocol:               DefaultProtocol,
		Profile:                DefaultProfile,
		QueryResponseSizeLimit: lib.QueryResponseSizeLimit,
		QuerySizeLimit:         lib.QuerySizeLimit,
		UserEventSizeLimit:     lib.UserEventSizeLimit,
		ReconnectInterval:      lib.ReconnectInterval,
		ReconnectTimeout:       lib.ReconnectTimeout,
		TombstoneTimeout:       lib.TombstoneTimeout,
		SyslogFacility:         DefaultSyslogFacility,
		RetryInterval:          DefaultRetryInterval,
		EnableCompression:      true,
		BroadcastTimeout:       lib.BroadcastTimeout,
		HandlerQueueLimit:      DefaultHandlerQueueLimit,
		CoalescePeriod:         DefaultCoalescePeriod,
		QuiescentPeriod:        DefaultQuiescentPeriod,
		UserCoalescePeriod:     DefaultUserCoalescePeriod,
		UserQuiescentPeriod:    DefaultUserQuiescentPeriod,
		RPCHandshakeTimeout:    DefaultRPCHandshakeTimeout,
		RPCMaxConns:            DefaultRPCMaxConns,
	}
}
