package agent

import (
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/serf"
)

// SerfConfig builds the library configuration the agent runs with, from
// the agent configuration and the addresses resolved at startup. It reads
// the tags and keyring files, and logs what it restored from them.
func (c *Config) SerfConfig(s *StartupSettings, logOutput io.Writer) (*serf.Config, error) {
	tags, restored, err := c.InitialTags()
	if err != nil {
		return nil, err
	}
	keys, err := c.InitialKeyring()
	if err != nil {
		return nil, err
	}

	sc := serf.DefaultConfig()
	switch s.Profile {
	case "wan":
		sc.MemberlistConfig = memberlist.DefaultWANConfig()
	case "local":
		sc.MemberlistConfig = memberlist.DefaultLocalConfig()
	default:
		sc.MemberlistConfig = memberlist.DefaultLANConfig()
	}
	ml := sc.MemberlistConfig
	ml.BindAddr = s.BindIP
	ml.BindPort = s.BindPort
	if s.AdvertiseIP != "" {
		ml.AdvertiseAddr = s.AdvertiseIP
		ml.AdvertisePort = s.AdvertisePort
	}
	ml.EnableCompression = c.EnableCompression
	ml.LogOutput = logOutput
	switch {
	case c.KeyringFile != "":
		kr, err := memberlist.NewKeyring(keys, keys[0])
		if err != nil {
			return nil, fmt.Errorf("Failed to restore keyring: %w", err)
		}
		ml.Keyring = kr
	case len(keys) > 0:
		// memberlist builds the keyring from the key; a key of the wrong
		// size fails there, as Serf reports it: "Failed to start the Serf
		// agent: Error creating Serf: Failed to create memberlist: key
		// size must be 16, 24 or 32 bytes".
		ml.SecretKey = keys[0]
	}

	sc.NodeName = c.NodeName
	sc.Tags = tags
	if c.Protocol < 0 || c.Protocol > 255 {
		return nil, fmt.Errorf("Protocol version '%d' out of range", c.Protocol)
	}
	sc.ProtocolVersion = uint8(c.Protocol)
	sc.SnapshotPath = c.SnapshotPath
	sc.RejoinAfterLeave = c.RejoinAfterLeave
	sc.KeyringFile = c.KeyringFile
	sc.EnableNameConflictResolution = !c.DisableNameResolution
	sc.CoalescePeriod = c.CoalescePeriod
	sc.QuiescentPeriod = c.QuiescentPeriod
	sc.UserCoalescePeriod = c.UserCoalescePeriod
	sc.UserQuiescentPeriod = c.UserQuiescentPeriod
	sc.ReconnectInterval = c.ReconnectInterval
	sc.ReconnectTimeout = c.ReconnectTimeout
	sc.TombstoneTimeout = c.TombstoneTimeout
	sc.BroadcastTimeout = c.BroadcastTimeout
	sc.QueryResponseSizeLimit = c.QueryResponseSizeLimit
	sc.QuerySizeLimit = c.QuerySizeLimit
	sc.UserEventSizeLimit = c.UserEventSizeLimit
	if err := c.ApplyHeal(sc); err != nil {
		return nil, err
	}
	sc.LogOutput = logOutput
	logf := func(format string, args ...any) {
		fmt.Fprintf(logOutput, "%s "+format+"\n", append([]any{time.Now().Format("2006/01/02 15:04:05")}, args...)...)
	}
	if restored {
		logf("[INFO] agent: Restored %d tag(s) from %s", len(tags), c.TagsFile)
	}
	if c.KeyringFile != "" {
		logf("[INFO] agent: Restored keyring with %d keys from %s", len(keys), c.KeyringFile)
	}
	return sc, nil
}
