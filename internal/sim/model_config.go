package sim

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/serf"
)

// ModelNet is the simulated network of the model: a packet's one-way
// delay is drawn uniformly from [MinLatency, MaxLatency], and it is lost
// with probability Loss. Push-pull runs over TCP and is never lost.
type ModelNet struct {
	Name       string
	MinLatency time.Duration
	MaxLatency time.Duration
	Loss       float64
}

// LANNet is a data-centre network: 0.2 to 1 ms each way.
func LANNet(loss float64) ModelNet {
	return ModelNet{Name: "lan", MinLatency: 200 * time.Microsecond, MaxLatency: time.Millisecond, Loss: loss}
}

// WANNet is a network across regions: 10 to 60 ms each way.
func WANNet(loss float64) ModelNet {
	return ModelNet{Name: "wan", MinLatency: 10 * time.Millisecond, MaxLatency: 60 * time.Millisecond, Loss: loss}
}

// String is "lan" or "lan 1%".
func (n ModelNet) String() string {
	if n.Loss == 0 {
		return n.Name
	}
	return fmt.Sprintf("%s %g%%", n.Name, 100*n.Loss)
}

// ModelConfig is one run of the model. DefaultModelConfig fills the
// protocol constants from memberlist's LAN profile and Serf's defaults, so
// the model follows them if they change.
type ModelConfig struct {
	// Size is the number of members, 2 or more.
	Size int
	// Net is the simulated network.
	Net ModelNet
	// Seed makes the run reproducible.
	Seed uint64
	// Push turns on pushing of new user events (PushFanout, PushRate);
	// off is Serf 0.10's behaviour.
	Push bool
	// Probes adds memberlist's probes: each member sends a ping and an
	// ack a ProbeInterval, each carrying broadcasts that fit beside it.
	Probes bool

	// Events is how many user events are fired in the steady state, one
	// every EventGap; EventWait is how long each gets to spread before
	// the run goes on.
	Events    int
	EventGap  time.Duration
	EventWait time.Duration
	// SteadyWindow is the simulated time over which push-pull bytes are
	// counted in the steady state; 0 means two push-pull intervals.
	SteadyWindow time.Duration
	// StormFraction of the members restart at once and rejoin (0: no
	// restart storm); StormWindow bounds how long the storm is followed.
	// StormMax caps the restarts (0: no cap): every member holds each
	// storm message until it has sent it, so the model's memory is N times
	// the restarts, while a real member's queue depth depends only on the
	// restarts and the queue limit.
	StormFraction float64
	StormMax      int
	StormWindow   time.Duration
	// Heal runs a partition heal after the storm: the cluster starts in
	// two halves that see each other as failed.
	Heal bool
	// HealWindow bounds how long the heal is followed.
	HealWindow time.Duration

	// Protocol constants (memberlist.DefaultLANConfig, serf.DefaultConfig).
	GossipInterval    time.Duration
	GossipNodes       int
	ProbeInterval     time.Duration
	PushPullInterval  time.Duration
	RetransmitMult    int
	UDPBufferSize     int
	ReconnectInterval time.Duration
	JoinSyncDelay     time.Duration // 0: no exchange after a join, as in Serf 0.10
	PushFanout        int
	PushRate          int
	EventBuffer       int
	MaxQueueDepth     int
	MinQueueDepth     int
}

// DefaultModelConfig is a cluster of size members on a LAN without loss,
// at Serf's defaults, with pushes on, a restart storm of 10% (at most 200
// members) and a heal.
func DefaultModelConfig(size int) ModelConfig {
	ml := memberlist.DefaultLANConfig()
	sc := serf.DefaultConfig()
	return ModelConfig{
		Size:              size,
		Net:               LANNet(0),
		Seed:              1,
		Push:              true,
		Probes:            true,
		Events:            5,
		EventGap:          10 * time.Second,
		EventWait:         10 * time.Second,
		StormFraction:     0.10,
		StormMax:          200,
		StormWindow:       2 * time.Minute,
		Heal:              true,
		HealWindow:        5 * time.Minute,
		GossipInterval:    ml.GossipInterval,
		GossipNodes:       ml.GossipNodes,
		ProbeInterval:     ml.ProbeInterval,
		PushPullInterval:  ml.PushPullInterval,
		RetransmitMult:    ml.RetransmitMult,
		UDPBufferSize:     ml.UDPBufferSize,
		ReconnectInterval: sc.ReconnectInterval,
		JoinSyncDelay:     sc.JoinSyncDelay,
		PushFanout:        sc.PushFanout,
		PushRate:          sc.PushRate,
		EventBuffer:       sc.EventBuffer,
		MaxQueueDepth:     sc.MaxQueueDepth,
		MinQueueDepth:     sc.MinQueueDepth,
	}
}

// queueLimit is Serf's broadcast queue limit: max(MinQueueDepth, 2N) when
// MinQueueDepth is set, else MaxQueueDepth.
func (c ModelConfig) queueLimit() int {
	if c.MinQueueDepth > 0 {
		return max(c.MinQueueDepth, 2*c.Size)
	}
	return c.MaxQueueDepth
}

// pushPullPeriod is memberlist's push-pull interval scaled to the
// cluster: above 32 members it is multiplied by
// ceil(log2(N) - log2(32)) + 1, so each member's share of the bytes grows
// with log N rather than N.
func (c ModelConfig) pushPullPeriod() time.Duration {
	const threshold = 32
	if c.Size <= threshold {
		return c.PushPullInterval
	}
	mult := 1
	for lim := threshold; lim < c.Size; lim *= 2 {
		mult++
	}
	return time.Duration(mult) * c.PushPullInterval
}

// retransmitLimit is how many times a member sends each broadcast:
// RetransmitMult * ceil(log10(N+1)).
func (c ModelConfig) retransmitLimit() int {
	scale := 0
	for lim := 1; lim < c.Size+1; lim *= 10 {
		scale++
	}
	return c.RetransmitMult * scale
}

func (c ModelConfig) validate() error {
	if c.Size < 2 {
		return fmt.Errorf("sim: a model cluster needs 2 members or more, not %d", c.Size)
	}
	if c.GossipInterval <= 0 || c.ProbeInterval <= 0 || c.PushPullInterval <= 0 || c.ReconnectInterval <= 0 {
		return fmt.Errorf("sim: model intervals must be positive")
	}
	if c.Net.MaxLatency < c.Net.MinLatency || c.Net.Loss < 0 || c.Net.Loss >= 1 {
		return fmt.Errorf("sim: bad model network %+v", c.Net)
	}
	if c.StormFraction < 0 || c.StormFraction > 1 {
		return fmt.Errorf("sim: storm fraction %g is not in [0, 1]", c.StormFraction)
	}
	return nil
}
