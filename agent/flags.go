package agent

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
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

// stringList is a repeatable string flag that appends in order.
type stringList []string

func (s *stringList) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, ",")
}

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

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
	if errOut == nil {
		errOut = io.Discard
	}
	var (
		cmd                Config
		configPaths        stringList
		tags               stringList
		startJoin          stringList
		retryJoin          stringList
		eventHandlers      stringList
		retryInterval      string
		broadcastTimeout   string
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
	cmd.StartJoin = startJoin
	cmd.RetryJoin = retryJoin
	cmd.EventHandlers = eventHandlers
	cmd.EnableCompression = !disableCompression
	return &cmd, configPaths, nil
}

// ParseTags parses "key=value" tag arguments, split at the first "=". The
// key must be non-empty; the value may be empty or contain "=". Later
// repeats of a key win. The error reads "Invalid tag: '<arg>'".
func ParseTags(args []string) (map[string]string, error) {
	tags := make(map[string]string, len(args))
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("Invalid tag: '%s'", arg)
		}
		tags[key] = value
	}
	return tags, nil
}

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

	if _, err := ParseEventHandlers(config.EventHandlers); err != nil {
		return nil, nil, err
	}

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

  Starts the Serf agent and runs until an interrupt is received. The
  agent represents a single node in a cluster.

Options:

  -bind=0.0.0.0:7946       Address to bind network listeners to. To use an IPv6
                           address, specify [::1] or [::1]:7946.
  -iface                   Network interface to bind to. Can be used instead of
                           -bind if the interface is known but not the address.
                           If both are provided, then Serf verifies that the
                           interface has the bind address that is provided. This
                           flag also sets the multicast device used for -discover,
                           if mdns-iface is not specified.
  -mdns-iface              Network interface to use for mDNS. If not provided, the
                           -iface value is used.
  -mdns-disable-ipv4       Disable IPv4 for mDNS.
  -mdns-disable-ipv6       Disable IPv6 for mDNS.
  -advertise=0.0.0.0       Address to advertise to the other cluster members
  -config-file=foo         Path to a JSON file to read configuration from.
                           This can be specified multiple times.
  -config-dir=foo          Path to a directory to read configuration files
                           from. This will read every file ending in ".json"
                           as configuration in this directory in alphabetical
                           order.
  -discover=cluster        A cluster name used to discovery peers. On
                           networks that support multicast, this can be used to have
                           peers join each other without an explicit join.
  -encrypt=foo             Key for encrypting network traffic within Serf.
                           Must be a base64-encoded 32-byte key.
  -keyring-file            The keyring file is used to store encryption keys used
                           by Serf. As encryption keys are changed, the content of
                           this file is updated so that the same keys may be used
                           during later agent starts.
  -event-handler=foo       Script to execute when events occur. This can
                           be specified multiple times. See the event scripts
                           section below for more info.
  -join=addr               An initial agent to join with. This flag can be
                           specified multiple times.
  -log-level=info          Log level of the agent.
  -node=hostname           Name of this node. Must be unique in the cluster
  -profile=[lan|wan|local] Profile is used to control the timing profiles used in Serf.
						   The default if not provided is lan.
  -protocol=n              Serf protocol version to use. This defaults to
                           the latest version, but can be set back for upgrades.
  -rejoin                  Ignores a previous leave and attempts to rejoin the cluster.
                           Only works if provided along with a snapshot file.
  -retry-join=addr         An agent to join with. This flag be specified multiple times.
                           Does not exit on failure like -join, used to retry until success.
  -retry-interval=30s      Sets the interval on which a node will attempt to retry joining
                           nodes provided by -retry-join. Defaults to 30s.
  -retry-max=0             Limits the number of retry events. Defaults to 0 for unlimited.
  -disable-compression     Disable message compression for broadcasting events. Enabled by default.
  -role=foo                The role of this node, if any. This can be used
                           by event scripts to differentiate different types
                           of nodes that may be part of the same cluster.
                           '-role' is deprecated in favor of '-tag role=foo'.
  -rpc-addr=127.0.0.1:7373 Address to bind the RPC listener.
  -snapshot=path/to/file   The snapshot file is used to store alive nodes and
                           event information so that Serf can rejoin a cluster
                           and avoid event replay on restart.
  -tag key=value           Tag can be specified multiple times to attach multiple
                           key/value tag pairs to the given node.
  -tags-file=/path/to/file The tags file is used to persist tag data. As an agent's
                           tags are changed, the tags file will be updated. Tags
                           can be reloaded during later agent starts. This option
                           is incompatible with the '-tag' option and requires there
                           be no tags in the agent configuration file, if given.
  -syslog                  When provided, logs will also be sent to syslog.
  -broadcast-timeout=5s    Sets the broadcast timeout, which is the max time allowed for
                           responses to events including leave and force remove messages.
                           Defaults to 5s.

Event handlers:

  For more information on what event handlers are, please read the
  Serf documentation. This section will document how to configure them
  on the command-line. There are three methods of specifying an event
  handler:

  - The value can be a plain script, such as "event.sh". In this case,
    Serf will send all events to this script, and you'll be responsible
    for differentiating between them based on the SERF_EVENT.

  - The value can be in the format of "TYPE=SCRIPT", such as
    "member-join=join.sh". With this format, Serf will only send events
    of that type to that script.

  - The value can be in the format of "user:EVENT=SCRIPT", such as
    "user:deploy=deploy.sh". This means that Serf will only invoke this
    script in the case of user events named "deploy".`
