package agent

import (
	"flag"
	"fmt"
	"time"

	"github.com/serfclone/serf/serf"
)

// The heal loop's options (not in Serf 0.10): heal_interval / -heal-interval,
// heal_attempts / -heal-attempts and rejoin_window / -rejoin-window. Zero
// (unset) keeps Serf's default (30s, 3, 72h); a negative heal_interval
// turns the loop off.

// healFlags registers the heal flags on fs and returns the function that,
// after parsing, stores their values in cmd.
func healFlags(fs *flag.FlagSet, cmd *Config) func() error {
	var interval, window string
	fs.StringVar(&interval, "heal-interval", "", "interval between attempts to rejoin lost members")
	fs.IntVar(&cmd.HealAttempts, "heal-attempts", 0, "joins per heal interval")
	fs.StringVar(&window, "rejoin-window", "", "how long lost members are remembered")
	return func() error {
		for _, f := range []struct {
			value string
			dst   *time.Duration
		}{{interval, &cmd.HealInterval}, {window, &cmd.RejoinWindow}} {
			if f.value == "" {
				continue
			}
			d, err := time.ParseDuration(f.value)
			if err != nil {
				return err
			}
			*f.dst = d
		}
		return nil
	}
}

// mergeHeal merges the heal options of a later layer b into result.
func mergeHeal(result, b *Config) {
	mergeDuration(&result.HealInterval, b.HealInterval)
	mergeInt(&result.HealAttempts, b.HealAttempts)
	mergeDuration(&result.RejoinWindow, b.RejoinWindow)
}

// ApplyHeal sets the heal options of sc from the agent configuration: the
// configured intervals and counts, and the start_join and retry_join
// addresses as the addresses to try while a member is missing (host names
// in them are resolved again at every try).
func (c *Config) ApplyHeal(sc *serf.Config) error {
	switch {
	case c.HealInterval < 0:
		sc.HealInterval = 0
	case c.HealInterval > 0:
		sc.HealInterval = c.HealInterval
	}
	if c.HealAttempts < 0 {
		return fmt.Errorf("heal_attempts must not be negative, got %d", c.HealAttempts)
	}
	if c.HealAttempts > 0 {
		sc.HealAttempts = c.HealAttempts
	}
	if c.RejoinWindow < 0 {
		return fmt.Errorf("rejoin_window must not be negative, got %v", c.RejoinWindow)
	}
	if c.RejoinWindow > 0 {
		sc.RejoinWindow = c.RejoinWindow
	}
	sc.HealJoinAddrs = append(append([]string(nil), c.StartJoin...), c.RetryJoin...)
	return nil
}
