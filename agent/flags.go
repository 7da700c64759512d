package agent

import (
	"errors"
	"flag"
	"fmt"
	"github.com/serfclone/serf/internal/flagvalues"
	"io"
	"net"
	"os"
	"time"
)

// FlagError is a command-line parse error from Go's flag package, the
// first check of a start. Its line has already been written to the errOut
// given to ParseFlags; the caller then prints the help on stdout with
// "==> " before its first line and exits 1. For -h/-help it wraps
// flag.ErrHelp.
type FlagError struct {
	Err error
}

func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns the flag package's error.
func (e *FlagError) Unwrap() error { return e.Err }

// ParseFlags parses the arguments of `serf agent` with Go flag rules and
// returns the command-line configuration layer and the -config-file /
// -config-dir paths in command-line order.
//
// In the returned layer, unset options are zero (Protocol is -1), so it can
// be merged over defaults and files with MergeConfig; EnableCompression is
// always set (true unless -disable-compression). Errors, in Serf's order:
// a *FlagError (its line written to errOut), then "Error: Invalid tag:
// '<arg>'", then "Error: <duration parse error>" for -retry-interval and
// -broadcast-timeout. Positional arguments end parsing and are ignored.
func ParseFlags(args []string, errOut io.Writer) (*Config, []string, error) {
	return parseFlags(args, errOut, nil)
}

// VisitFlags calls fn for every flag `serf agent` accepts, in name order,
// so the help test and shell completion need no list of their own.
func VisitFlags(fn func(*flag.Flag)) { parseFlags(nil, nil, fn) }

// parseFlags is ParseFlags; with visit set it only shows visit the flags.
func parseFlags(args []string, errOut io.Writer, visit func(*flag.Flag)) (*Config, []string, error) {
	if errOut == nil {
		errOut = io.Discard
	}
	var (
		cmd                Config
		configPaths        flagvalues.StringList
		tags               flagvalues.StringList
		startJoin          flagvalues.StringList
		retryJoin          flagvalues.StringList
		eventHandlers      flagvalues.StringList
		retryInterval      string
		broadcastTimeout   string
		handlerTimeout     string
		handshakeTimeout   string
		disableCompression bool
	)
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {} // the caller prints the help on stdout

	fs.StringVar(&cmd.BindAddr, "bind", "", "address to bind listeners to")
	fs.StringVar(&cmd.Interface, "iface", "", "interface to bind to")
	fs.StringVar(&cmd.MDNS.Interface, "mdns-iface", "", "interface to use for mDNS")
	fs.BoolVar(&cmd.MDNS.DisableIPv4, "mdns-disable-ipv4", false, "disable IPv4 for mDNS")
	fs.BoolVar(&cmd.MDNS.DisableIPv6, "mdns-disable-ipv6", false, "disable IPv6 for mDNS")
	fs.StringVar(&cmd.AdvertiseAddr, "advertise", "", "address to advertise to other nodes")
	fs.Var(&configPaths, "config-file", "json file to read config from")
	fs.Var(&configPaths, "config-dir", "directory of json files to read")
	fs.StringVar(&cmd.Discover, "discover", "", "mDNS discovery name")
	fs.StringVar(&cmd.EncryptKey, "encrypt", "", "encryption key")
	fs.StringVar(&cmd.KeyringFile, "keyring-file", "", "path to the keyring file")
	fs.Var(&eventHandlers, "event-handler", "command to execute when events occur")
	fs.Var(&startJoin, "join", "address of agent to join on startup")
	fs.BoolVar(&cmd.ReplayOnJoin, "replay", false, "replay events for startup join")
	fs.StringVar(&cmd.LogLevel, "log-level", "", "log level")
	fs.StringVar(&cmd.NodeName, "node", "", "node name")
	fs.IntVar(&cmd.Protocol, "protocol", -1, "protocol version")
	fs.StringVar(&cmd.Role, "role", "", "role name")
	fs.StringVar(&cmd.RPCAddr, "rpc-addr", "", "address to bind RPC listener to")
	fs.StringVar(&cmd.Profile, "profile", "", "timing profile to use (lan, wan, local)")
	fs.StringVar(&cmd.SnapshotPath, "snapshot", "", "path to the snapshot file")
	fs.Var(&tags, "tag", "tag pair, specified as key=value")
	fs.StringVar(&cmd.TagsFile, "tags-file", "", "tag persistence file")
	fs.BoolVar(&cmd.EnableSyslog, "syslog", false, "enable logging to syslog facility")
	fs.Var(&retryJoin, "retry-join", "address of agent to join on startup with retry")
	fs.IntVar(&cmd.RetryMaxAttempts, "retry-max", 0, "maximum retry join attempts")
	fs.StringVar(&retryInterval, "retry-interval", "", "retry join interval")
	fs.BoolVar(&cmd.RejoinAfterLeave, "rejoin", false, "enable re-joining after a previous leave")
	fs.BoolVar(&disableCompression, "disable-compression", false, "disable compression of broadcast messages")
	fs.StringVar(&broadcastTimeout, "broadcast-timeout", "", "timeout for broadcast messages")
	fs.StringVar(&cmd.MetricsAddr, "metrics-addr", "", "address to serve Prometheus metrics on")
	fs.BoolVar(&cmd.LogJSON, "log-json", false, "write log lines as JSON objects")
	fs.StringVar(&cmd.HTTPAddr, "http-addr", "", "address to serve the HTTP API and page on")
	fs.IntVar(&cmd.HandlerQueueLimit, "handler-queue-limit", 0, "events that may wait for handlers, per lane")
	fs.StringVar(&handlerTimeout, "handler-timeout", "", "time limit of one handler script run")
	applyHeal := healFlags(fs, &cmd)
	fs.StringVar(&handshakeTimeout, "rpc-handshake-timeout", "", "time a new RPC connection has to handshake")
	fs.IntVar(&cmd.RPCMaxConns, "rpc-max-conns", 0, "most RPC connections open at once")
	fs.IntVar(&cmd.MaxProcs, "max-procs", 0, "CPUs that may run the agent's Go code at once")

	if visit != nil {
		fs.VisitAll(visit)
		return nil, nil, nil
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, &FlagError{Err: err}
	}

	tagMap, err := ParseTags(tags)
	if err != nil {
		return nil, nil, fmt.Errorf("Error: %w", err)
	}
	cmd.Tags = tagMap
	if retryInterval != "" {
		d, err := time.ParseDuration(retryInterval)
		if err != nil {
			return nil, nil, fmt.Errorf("Error: %w", err)
		}
		cmd.RetryInterval = d
	}
	if broadcastTimeout != "" {
		d, err := time.ParseDuration(broadcastTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("Error: %w", err)
		}
		cmd.BroadcastTimeout = d
	}
	if handlerTimeout != "" {
		d, err := time.ParseDuration(handlerTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("Error: %w", err)
		}
		cmd.HandlerTimeout = d
	}
	if err := applyHeal(); err != nil {
		return nil, nil, fmt.Errorf("Error: %w", err)
	}
	if handshakeTimeout != "" {
		d, err := time.ParseDuration(handshakeTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("Error: %w", err)
		}
		cmd.RPCHandshakeTimeout = d
	}
	cmd.StartJoin = startJoin
	cmd.RetryJoin = retryJoin
	cmd.EventHandlers = eventHandlers
	cmd.EnableCompression = !disableCompression
	return &cmd, configPaths, nil
}

// ParseTags parses "key=value" tag arguments, split at the first "=". The
// key must be non-empty; the value may be empty or contain "=". Later
// repeats of a key win. The error reads "Invalid tag: '<arg>'".
func ParseTags(args []string) (map[string]string, error) { return flagvalues.ParseTags(args) }

// BuildConfig builds the agent configuration from the `serf agent`
// arguments: defaults ← config files and directories (in order) ← command
// line, then fills in the host name and validates in Serf's order. On
// failure the error text is the message to print after "==> " (a
// *FlagError for a flag parse error, see ParseFlags).
//
// warnings are the non-fatal messages in Serf's order (role
// deprecation, retry interval and broadcast timeout clamped to 1s, rejoin
// without snapshot), to print after "==> " on success. A configured role
// is copied into Tags["role"]. Log level, addresses, key and profile are
// checked later by ValidateLogLevel and Config.StartupSettings.
func BuildConfig(args []string, errOut io.Writer) (config *Config, warnings []string, err error) {
	return buildConfig(args, errOut, os.Hostname, net.InterfaceByName)
}

func buildConfig(args []string, errOut io.Writer,
	hostname func() (string, error),
	interfaceByName func(string) (*net.Interface, error),
) (*Config, []string, error) {
	cmdConfig, configPaths, err := ParseFlags(args, errOut)
	if err != nil {
		return nil, nil, err
	}
	fileConfig, err := ReadConfigPaths(configPaths)
	if err != nil {
		return nil, nil, err
	}
	config := MergeConfig(MergeConfig(DefaultConfig(), fileConfig), cmdConfig)

	if config.NodeName == "" {
		name, err := hostname()
		if err != nil {
			return nil, nil, fmt.Errorf("Error determining hostname: %w", err)
		}
		config.NodeName = name
	}

	scripts, err := ParseEventHandlers(config.EventHandlers)
	if err != nil {
		return nil, nil, err
	}
	config.Scripts = scripts

	if config.Interface != "" {
		if _, err := interfaceByName(config.Interface); err != nil {
			return nil, nil, fmt.Errorf("Invalid network interface: %w", err)
		}
	}

	if config.MDNS.Interface != "" {
		if config.Discover == "" {
			return nil, nil, errors.New("mDNS interface specified without enabling mDNS discovery")
		}
		if _, err := interfaceByName(config.MDNS.Interface); err != nil {
			return nil, nil, fmt.Errorf("Invalid mDNS network interface: %w", err)
		}
		if config.MDNS.DisableIPv4 && config.MDNS.DisableIPv6 {
			return nil, nil, errors.New("Invalid mDNS configuration: both IPv4 and IPv6 are disabled")
		}
	}

	if err := config.checkDurations(); err != nil {
		return nil, nil, err
	}
	if err := config.checkLimits(); err != nil {
		return nil, nil, err
	}

	var warnings []string
	if config.Role != "" {
		warnings = append(warnings, "Deprecation warning: 'Role' has been replaced with 'Tags'")
		config.Tags["role"] = config.Role
	}
	if config.RetryInterval < MinRetryInterval {
		warnings = append(warnings, "Warning: 'RetryInterval' is too low. Setting to 1s")
		config.RetryInterval = MinRetryInterval
	}
	if config.BroadcastTimeout < MinBroadcastTimeout {
		warnings = append(warnings, "Warning: 'BroadcastTimeout' is too low. Setting to 1s")
		config.BroadcastTimeout = MinBroadcastTimeout
	}
	if config.RejoinAfterLeave && config.SnapshotPath == "" {
		warnings = append(warnings, "Warning: 'RejoinAfterLeave' enabled without snapshot file")
	}
	return config, warnings, nil
}

// HelpText is the help of `serf agent` (printed followed by "\n").
const HelpText = `Usage: serf agent [options]

  Runs a Serf cluster member on this machine, in the foreground, until it is
  stopped. Ctrl-C (SIGINT) leaves the cluster gracefully first; SIGHUP
  reloads the configuration files.

Options:

  -bind=0.0.0.0:7946        Address and port for gossip, over both UDP and TCP.
                            Write IPv6 addresses in brackets, such as
                            [::1]:7946.
  -iface                    Take the bind address from this network interface,
                            for when you know the interface but not its
                            address. With -bind as well, the interface must
                            carry that address. Also the interface mDNS uses,
                            unless -mdns-iface says otherwise.
  -mdns-iface               Network interface for mDNS discovery (-discover).
                            Defaults to -iface.
  -mdns-disable-ipv4        Do not use IPv4 for mDNS discovery.
  -mdns-disable-ipv6        Do not use IPv6 for mDNS discovery.
  -advertise=0.0.0.0        Address (optionally :port) other members should use
                            to reach this one, when it differs from the bind
                            address, for example behind NAT.
  -config-file=foo          Read settings from this JSON file. Repeatable;
                            later files override earlier ones, and flags
                            override files.
  -config-dir=foo           Read each *.json file of this directory, in
                            alphabetical order, as configuration. Repeatable.
  -discover=cluster         Find and join other agents of this cluster name
                            through mDNS on the local network, with no -join
                            address.
  -encrypt=foo              Encrypt gossip with this key: 32 bytes in base64,
                            as "serf keygen" prints. Every member needs the
                            same key.
  -keyring-file             Path of a JSON file listing the encryption keys
                            (primary first). The agent reads it at start and
                            rewrites it after every "serf keys" change, so a
                            restart keeps the current keys.
  -event-handler=foo        Program to run on cluster events. Repeatable. See
                            "Event handlers" below for the forms it takes.
  -handler-timeout=0        Longest time one handler run may take, as a Go
                            duration (90s, 5m). Past it the script's process
                            group gets SIGTERM, then SIGKILL a second later.
                            0, the default, means no limit.
  -handler-queue-limit=1024 Most events that may wait for handlers in each
                            lane (member, user and query events each have
                            their own). Past it events are dropped and a
                            warning says how many.
  -join=addr                Address of a member to join at start. Repeatable.
                            The agent exits if none of them can be reached.
  -replay                   With -join, also hand the user events the cluster
                            already holds to this agent's handlers.
  -retry-join=addr          Like -join, but keeps trying every -retry-interval
                            until one address works, instead of exiting.
                            Repeatable.
  -retry-interval=30s       Pause between -retry-join attempts (at least 1s).
  -retry-max=0              Give up and exit after this many failed -retry-join
                            attempts; 0 tries forever.
  -rejoin                   After a restart, join the members recorded in the
                            snapshot even if this agent left the cluster
                            gracefully last time. Needs -snapshot.
  -snapshot=path/to/file    File in which the agent records the members and
                            event clocks, so that after a restart it rejoins
                            them and does not run handlers again for events it
                            saw.
  -log-level=info           Lowest level logged: trace, debug, info, warn or
                            err.
  -log-json                 Write each log line as one JSON object (@timestamp,
                            @level, @module, @message) instead of text, on
                            stdout and to syslog.
  -syslog                   Send the log to the local syslog daemon as well.
  -node=hostname            Name of this member; no two members may share one.
                            Defaults to the host name.
  -profile=[lan|wan|local]  Timing preset for failure detection and gossip: lan
                            (the default), wan for links with high latency,
                            local for one machine.
  -protocol=n               Version of the Serf protocol to speak. The newest is
                            the default; pick an older one only while
                            upgrading a cluster.
  -disable-compression      Send gossip messages uncompressed (they are
                            compressed by default).
  -broadcast-timeout=5s     How long to wait for broadcasts such as a leave or
                            a force-leave to spread (at least 1s).
  -role=foo                 Old way of setting tag "role"; use -tag role=foo
                            instead.
  -tag key=value            Give this member a tag. Repeatable, one key=value
                            each.
  -tags-file=/path/to/file  JSON file holding this member's tags: read at start
                            and rewritten whenever "serf tags" changes them.
                            Cannot be combined with -tag or with tags in the
                            configuration.
  -rpc-addr=127.0.0.1:7373  Address the RPC listener binds, for the serf
                            commands and other clients.
  -rpc-handshake-timeout=5s Time a new RPC connection has to send its
                            handshake, and its auth token when rpc_auth is
                            set. The agent closes connections that take
                            longer.
  -rpc-max-conns=512        Most RPC connections open at once. A connection
                            past it is told "too many RPC connections" and
                            closed. The HTTP API gets its own limit of the
                            same size; connections past it wait.
  -max-procs=1              CPUs that may run the agent's own Go code at once;
                            -1 lets Go choose (one per CPU). Unset, it is 1
                            unless GOMAXPROCS is set in the environment.
                            Handler scripts are not limited by it.
  -http-addr=<addr>         Serve the HTTP JSON API, the live cluster page and
                            /metrics on this host:port (127.0.0.1:8080, say);
                            off when empty. With rpc_auth set, every request
                            must carry that token.
  -metrics-addr=<addr>      Serve /metrics in the Prometheus text format on
                            this host:port; off when empty.
  -heal-interval=30s        How often (plus up to as much again at random) to
                            try to rejoin members lost to a long partition or
                            a restart; a negative value turns this off.
  -heal-attempts=3          Joins tried per heal interval, whatever the
                            cluster's size.
  -rejoin-window=72h        How long a failed member is remembered and tried
                            again.

Event handlers:

  An event handler is a program the agent starts for cluster events. It
  reads the event from its environment (SERF_EVENT and related variables)
  and, for user events and queries, the payload from stdin. -event-handler
  takes one of three forms:

    script.sh                    runs for every event; the script looks at
                                 SERF_EVENT to tell them apart
    member-join=script.sh        runs only for that type of event (several
                                 types may be given, separated by commas)
    user:deploy=script.sh        runs only for user events named deploy
                                 (query:NAME does the same for queries)`
