package serf

import (
	"errors"
	"fmt"
	"time"
)

// check rejects a configuration Serf cannot run with, naming the field at
// fault, before anything starts. Intervals that drive a ticker must be
// positive (a ticker of zero panics); durations and sizes that only bound
// a wait or a message must not be negative.
func (c *Config) check() error {
	if c.ProtocolVersion < ProtocolVersionMin {
		return fmt.Errorf("Protocol version '%d' too low. Must be in range: [%d, %d]",
			c.ProtocolVersion, ProtocolVersionMin, ProtocolVersionMax)
	}
	if c.ProtocolVersion > ProtocolVersionMax {
		return fmt.Errorf("Protocol version '%d' too high. Must be in range: [%d, %d]",
			c.ProtocolVersion, ProtocolVersionMin, ProtocolVersionMax)
	}
	if c.UserEventSizeLimit > UserEventSizeLimit {
		return fmt.Errorf("user event size limit exceeds limit of %d bytes", UserEventSizeLimit)
	}
	if c.MemberlistConfig == nil {
		return errors.New("serf: nil MemberlistConfig")
	}

	positive := []struct {
		name string
		d    time.Duration
	}{
		{"ReapInterval", c.ReapInterval},
		{"ReconnectInterval", c.ReconnectInterval},
		{"QueueCheckInterval", c.QueueCheckInterval},
		// memberlist waits for ever for a leave broadcast with a zero
		// timeout, so a zero here would hang Leave.
		{"BroadcastTimeout", c.BroadcastTimeout},
	}
	for _, f := range positive {
		if f.d <= 0 {
			return fmt.Errorf("serf: config %s must be positive, got %v", f.name, f.d)
		}
	}

	nonNegative := []struct {
		name string
		d    time.Duration
	}{
		{"LeavePropagateDelay", c.LeavePropagateDelay},
		{"CoalescePeriod", c.CoalescePeriod},
		{"QuiescentPeriod", c.QuiescentPeriod},
		{"UserCoalescePeriod", c.UserCoalescePeriod},
		{"UserQuiescentPeriod", c.UserQuiescentPeriod},
		{"ReconnectTimeout", c.ReconnectTimeout},
		{"TombstoneTimeout", c.TombstoneTimeout},
		{"FlapTimeout", c.FlapTimeout},
		{"RecentIntentTimeout", c.RecentIntentTimeout},
		{"EventDeliveryTimeout", c.EventDeliveryTimeout},
	}
	for _, f := range nonNegative {
		if f.d < 0 {
			return fmt.Errorf("serf: config %s must not be negative, got %v", f.name, f.d)
		}
	}

	sizes := []struct {
		name string
		n    int
	}{
		{"EventBuffer", c.EventBuffer},
		{"QueryBuffer", c.QueryBuffer},
		{"QueryTimeoutMult", c.QueryTimeoutMult},
		{"QueryResponseSizeLimit", c.QueryResponseSizeLimit},
		{"QuerySizeLimit", c.QuerySizeLimit},
		{"UserEventSizeLimit", c.UserEventSizeLimit},
		{"QueueDepthWarning", c.QueueDepthWarning},
		{"MaxQueueDepth", c.MaxQueueDepth},
		{"MinQueueDepth", c.MinQueueDepth},
	}
	for _, f := range sizes {
		if f.n < 0 {
			return fmt.Errorf("serf: config %s must not be negative, got %d", f.name, f.n)
		}
	}

	if c.ValidateNodeNames {
		if err := validateNodeName(c.NodeName); err != nil {
			return err
		}
	}
	return nil
}
