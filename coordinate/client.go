package coordinate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// MaxRTT is the largest RTT sample Update accepts. A longer
// "round trip" is a stalled probe, not a network property, and would fling
// the coordinate far away.
const MaxRTT = 10 * time.Second

// ClientStats are counters a client keeps for operators; Serf reports Resets
// as the coordinate_resets stat.
type ClientStats struct {
	// Resets counts how often the coordinate became NaN or Inf and was
	// reset to the initial one.
	Resets int
}

// Client maintains the local node's coordinate from RTT samples. It is safe
// for concurrent use: probes complete on memberlist goroutines while RPC
// handlers read the coordinate.
type Client struct {
	mu sync.RWMutex

	// coord is the local coordinate; never handed out without Clone.
	coord *Coordinate

	// origin is the zero point gravity pulls towards (zero Vec, minimum
	// height, no adjustment).
	origin *Coordinate

	// config is a private copy, so the caller cannot change it underfoot.
	config Config

	// adjustmentIndex is the next slot of adjustmentSamples to overwrite.
	adjustmentIndex uint

	// adjustmentSamples is the ring of recent residuals (RTT minus raw
	// distance); unfilled slots are 0.
	adjustmentSamples []float64

	// latencyFilterSamples holds, per peer, the last LatencyFilterSize RTT
	// samples in seconds, oldest first.
	latencyFilterSamples map[string][]float64

	// rng picks a direction when two coordinates coincide. It is owned by
	// the client (and guarded by mu) so tests can seed it.
	rng *rand.Rand

	stats ClientStats
}

// NewClient returns a client at the initial coordinate. The config is copied.
// It fails if a setting would make updates meaningless (a zero dimension,
// window or filter size, or a non-finite or negative tuning value).
func NewClient(conf *Config) (*Client, error) {
	return newClient(conf, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
}

// newClient is NewClient with an injected random source, for deterministic
// tests.
func newClient(conf *Config, rng *rand.Rand) (*Client, error) {
	if err := conf.validate(); err != nil {
		return nil, fmt.Errorf("coordinate: invalid config: %w", err)
	}
	c := &Client{
		coord:                NewCoordinate(conf),
		origin:               NewCoordinate(conf),
		config:               *conf,
		adjustmentSamples:    make([]float64, conf.AdjustmentWindowSize),
		latencyFilterSamples: make(map[string][]float64),
		rng:                  rng,
	}
	return c, nil
}

// GetCoordinate returns a copy of the local coordinate.
func (c *Client) GetCoordinate() *Coordinate {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.coord.Clone()
}

// SetCoordinate replaces the local coordinate with a copy of coord, for
// example to restore a saved one. It is refused if coord has another
// dimensionality or holds NaN/Inf, so the client can never be poisoned.
func (c *Client) SetCoordinate(coord *Coordinate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkCoordinate(coord); err != nil {
		return fmt.Errorf("set coordinate: %w", err)
	}
	c.coord = coord.Clone()
	return nil
}

// ForgetNode drops the latency samples of node, so that a node that leaves
// and comes back (perhaps elsewhere) starts with a fresh filter and the map
// does not grow with every member the cluster ever had.
func (c *Client) ForgetNode(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.latencyFilterSamples, node)
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() ClientStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stats
}

// DistanceTo estimates the RTT from the local coordinate to other, with the
// same rules as Coordinate.DistanceTo (0 if they are not comparable).
func (c *Client) DistanceTo(other *Coordinate) time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.coord.DistanceTo(other)
}

// Update feeds one RTT sample measured to node, whose coordinate is other,
// and returns a copy of the new local coordinate.
//
// It rejects a peer coordinate of another dimensionality (ErrIncompatible),
// one holding NaN/Inf (ErrInvalid), and an rtt outside [0, MaxRTT]; on
// rejection the client is unchanged. If the update itself produces NaN/Inf
// (possible with extreme inputs), the coordinate is reset to the initial one
// and Stats().Resets is incremented; that is not an error.
func (c *Client) Update(node string, other *Coordinate, rtt time.Duration) (*Coordinate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if err := c.checkCoordinate(other); err != nil {
		return nil, fmt.Errorf("update from %q: %w", node, err)
	}
	if rtt < 0 || rtt > MaxRTT {
		return nil, fmt.Errorf("update from %q: round trip time %v out of range [0, %v]", node, rtt, MaxRTT)
	}

	rttSeconds := c.latencyFilter(node, rtt.Seconds())
	c.updateVivaldi(other, rttSeconds)
	c.updateAdjustment(other, rttSeconds)
	c.updateGravity()
	if !c.coord.IsValid() {
		c.reset()
	}
	return c.coord.Clone(), nil
}

// reset puts the client back at the initial coordinate after an update
// produced NaN/Inf and counts it.
//
// Serf resets only the coordinate. We also empty the adjustment ring:
// its samples were measured against the discarded coordinate, and the
// sample that caused the overflow is usually -Inf itself, which would turn
// every following Adjustment into -Inf and force a reset on each of the next
// AdjustmentWindowSize updates. The latency filter keeps its samples; they
// are raw measurements within [0, MaxRTT]. The caller holds mu.
func (c *Client) reset() {
	c.stats.Resets++
	c.coord = NewCoordinate(&c.config)
	clear(c.adjustmentSamples)
	c.adjustmentIndex = 0
}

// checkCoordinate reports whether other can safely take part in arithmetic
// with the local coordinate. The caller holds mu.
func (c *Client) checkCoordinate(other *Coordinate) error {
	if other == nil {
		return ErrInvalid
	}
	if !c.coord.IsCompatibleWith(other) {
		return ErrIncompatible
	}
	if !other.IsValid() {
		return ErrInvalid
	}
	return nil
}

// latencyFilter records rttSeconds for node and returns the median of its
// last LatencyFilterSize samples (for an even count, the upper middle one),
// which discards one-off spikes. The caller holds mu.
func (c *Client) latencyFilter(node string, rttSeconds float64) float64 {
	samples := append(c.latencyFilterSamples[node], rttSeconds)
	if extra := len(samples) - int(c.config.LatencyFilterSize); extra > 0 {
		// Shift instead of reslicing so the backing array does not creep
		// forward and reallocate on every sample.
		samples = samples[:copy(samples, samples[extra:])]
	}
	c.latencyFilterSamples[node] = samples

	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// updateVivaldi moves the local coordinate so that its distance to other
// gets closer to rttSeconds, by a step weighted by how confident we are
// compared with the peer. The caller holds mu.
func (c *Client) updateVivaldi(other *Coordinate, rttSeconds float64) {
	dist := c.coord.distanceSeconds(other)
	rttSeconds = max(rttSeconds, zeroThreshold)
	wrongness := math.Abs(dist-rttSeconds) / rttSeconds

	totalError := max(c.coord.Error+other.Error, zeroThreshold)
	weight := c.coord.Error / totalError

	ce, cc := c.config.VivaldiCE, c.config.VivaldiCC
	c.coord.Error = ce*weight*wrongness + c.coord.Error*(1.0-ce*weight)
	c.coord.Error = min(c.coord.Error, c.config.VivaldiErrorMax)

	force := cc * weight * (rttSeconds - dist)
	c.coord = c.coord.applyForce(&c.config, c.rng, force, other)
}

// updateAdjustment records the residual the Euclidean model left for this
// sample and sets Adjustment to the window sum over twice the window size,
// i.e. half the mean residual, since each side of a pair carries its own
// adjustment. The caller holds mu.
func (c *Client) updateAdjustment(other *Coordinate, rttSeconds float64) {
	window := c.config.AdjustmentWindowSize
	c.adjustmentSamples[c.adjustmentIndex] = rttSeconds - c.coord.rawDistanceTo(other)
	c.adjustmentIndex = (c.adjustmentIndex + 1) % window

	sum := 0.0
	for _, s := range c.adjustmentSamples {
		sum += s
	}
	c.coord.Adjustment = sum / (2.0 * float64(window))
}

// updateGravity pulls the coordinate towards the origin with a force that
// grows with the square of the distance, so a cluster cannot drift away as a
// whole. The caller holds mu.
func (c *Client) updateGravity() {
	dist := c.origin.distanceSeconds(c.coord)
	force := -1.0 * (dist / c.config.GravityRho) * (dist / c.config.GravityRho)
	c.coord = c.coord.applyForce(&c.config, c.rng, force, c.origin)
}
