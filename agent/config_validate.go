package agent

import (
	"fmt"
	"time"
)

// checkDurations refuses intervals and timeouts the library cannot run
// with: a negative reconnect_interval panics its ticker, and a negative
// timeout reaps every member at once. Zero cannot occur here (a zero in a
// later layer never replaces), except from a caller that builds a Config
// by hand. retry_interval and broadcast_timeout are not checked: Serf
// raises them to 1s with a warning, which BuildConfig does after this.
func (c *Config) checkDurations() error {
	for _, d := range []struct {
		key   string
		value time.Duration
	}{
		{"reconnect_interval", c.ReconnectInterval},
		{"reconnect_timeout", c.ReconnectTimeout},
		{"tombstone_timeout", c.TombstoneTimeout},
		{"coalesce_period", c.CoalescePeriod},
		{"quiescent_period", c.QuiescentPeriod},
		{"user_coalesce_period", c.UserCoalescePeriod},
		{"user_quiescent_period", c.UserQuiescentPeriod},
		{"rpc_handshake_timeout", c.RPCHandshakeTimeout},
	} {
		if d.value <= 0 {
			return fmt.Errorf("Invalid %s: %v (must be greater than zero)", d.key, d.value)
		}
	}
	return nil
}

// checkLimits refuses a negative rpc_max_conns (0 in a layer leaves the
// value below it, as for every number) and a max_procs below -1.
func (c *Config) checkLimits() error {
	if c.RPCMaxConns < 0 {
		return fmt.Errorf("Invalid rpc_max_conns: %d (must be greater than zero)", c.RPCMaxConns)
	}
	if c.MaxProcs < -1 {
		return fmt.Errorf("Invalid max_procs: %d (must be at least 1, or -1 to let Go choose)", c.MaxProcs)
	}
	return nil
}

// GoMaxProcs is the GOMAXPROCS the agent sets at start, given the
// environment's GOMAXPROCS variable (env): 0 means leave Go's own
// choice in place.
func (c *Config) GoMaxProcs(env string) int {
	switch {
	case c.MaxProcs > 0:
		return c.MaxProcs
	case c.MaxProcs < 0 || env != "":
		return 0
	}
	return DefaultMaxProcs
}

// ValidProfile reports whether p is a known timing profile (case-sensitive).
func ValidProfile(p string) bool {
	switch p {
	case "lan", "wan", "local":
		return true
	}
	return false
}
