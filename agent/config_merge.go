package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

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
			return nil, fmt.Errorf("Error reading '%s': %w", path, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("Error reading '%s': %w", path, err)
		}
		if !fi.IsDir() {
			config, err := DecodeConfig(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("Error decoding '%s': %w", path, err)
			}
			result = MergeConfig(result, config)
			continue
		}
		entries, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("Error reading '%s': %w", path, err)
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
		return nil, fmt.Errorf("Error reading '%s': %w", path, err)
	}
	defer f.Close()
	config, err := DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("Error decoding '%s': %w", path, err)
	}
	return config, nil
}

// MergeConfig returns a new Config with layer b merged over layer a, by
// Serf's rules. Neither argument is modified; nil counts as empty.
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
	mergeInt(&result.HandlerQueueLimit, b.HandlerQueueLimit)
	mergeDuration(&result.HandlerTimeout, b.HandlerTimeout)
	mergeInt(&result.RPCMaxConns, b.RPCMaxConns)
	mergeInt(&result.MaxProcs, b.MaxProcs)
	mergeDuration(&result.RPCHandshakeTimeout, b.RPCHandshakeTimeout)

	mergeDuration(&result.ReconnectInterval, b.ReconnectInterval)
	mergeDuration(&result.ReconnectTimeout, b.ReconnectTimeout)
	mergeDuration(&result.TombstoneTimeout, b.TombstoneTimeout)
	mergeDuration(&result.RetryInterval, b.RetryInterval)
	mergeDuration(&result.BroadcastTimeout, b.BroadcastTimeout)
	mergeHeal(&result, b)
	mergeDuration(&result.CoalescePeriod, b.CoalescePeriod)
	mergeDuration(&result.QuiescentPeriod, b.QuiescentPeriod)
	mergeDuration(&result.UserCoalescePeriod, b.UserCoalescePeriod)
	mergeDuration(&result.UserQuiescentPeriod, b.UserQuiescentPeriod)

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
