package coordinate

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// zeroThreshold is the length, in seconds, below which a vector, an RTT or an
// error sum is treated as zero, so that Vivaldi never divides by (nearly) 0.
const zeroThreshold = 1.0e-6

// Sentinel errors let callers tell rejections apart (for example to count
// them) while the messages stay those of Serf, which operators grep for.
var (
	// ErrIncompatible means two coordinates have different dimensionality.
	ErrIncompatible = errors.New("dimensions aren't compatible")

	// ErrInvalid means a coordinate holds NaN or ±Inf, or is nil.
	ErrInvalid = errors.New("coordinate is invalid")
)

// Coordinate is a point in the Vivaldi model: a Euclidean position plus a
// height for the non-Euclidean access-link part of the latency. All distances
// are in seconds.
//
// The field names are also the msgpack keys on the wire, so they
// must not be renamed, and the struct needs no tags.
type Coordinate struct {
	// Vec is the Euclidean position, in seconds.
	Vec []float64

	// Error is the node's confidence in its coordinate; larger is worse.
	Error float64

	// Adjustment is added to raw distances to soak up the residual error
	// the Euclidean model cannot express, in seconds.
	Adjustment float64

	// Height models the latency of the node's own access link, in seconds.
	Height float64
}

// NewCoordinate returns the coordinate of a node that has not measured
// anything yet: at the origin, with the maximum error.
func NewCoordinate(conf *Config) *Coordinate {
	return &Coordinate{
		Vec:        make([]float64, conf.Dimensionality),
		Error:      conf.VivaldiErrorMax,
		Adjustment: 0.0,
		Height:     conf.HeightMin,
	}
}

// Clone returns a deep copy, so that callers can never mutate a client's
// state through a coordinate it handed out. Clone of nil is nil.
func (c *Coordinate) Clone() *Coordinate {
	if c == nil {
		return nil
	}
	vec := make([]float64, len(c.Vec))
	copy(vec, c.Vec)
	return &Coordinate{
		Vec:        vec,
		Error:      c.Error,
		Adjustment: c.Adjustment,
		Height:     c.Height,
	}
}

// componentIsValid reports whether f is a usable number.
func componentIsValid(f float64) bool {
	return !math.IsInf(f, 0) && !math.IsNaN(f)
}

// IsValid reports whether every component is a finite number. A nil
// coordinate is not valid. Coordinates come from the network, so they must be
// checked before they take part in any arithmetic.
func (c *Coordinate) IsValid() bool {
	if c == nil {
		return false
	}
	for _, f := range c.Vec {
		if !componentIsValid(f) {
			return false
		}
	}
	return componentIsValid(c.Error) &&
		componentIsValid(c.Adjustment) &&
		componentIsValid(c.Height)
}

// IsCompatibleWith reports whether the two coordinates have the same
// dimensionality and can therefore be compared. Nil is compatible with
// nothing.
func (c *Coordinate) IsCompatibleWith(other *Coordinate) bool {
	if c == nil || other == nil {
		return false
	}
	return len(c.Vec) == len(other.Vec)
}

// DistanceTo estimates the RTT between the two coordinates.
//
// Serf panics when the dimensions differ. Coordinates arrive from peers, so
// this method never panics: it returns 0 if either coordinate is nil or the
// dimensions differ. Two compatible coordinates always have a positive
// distance (each has Height >= HeightMin > 0), so 0 unambiguously means "no
// estimate". Use CheckedDistanceTo to get an error instead.
func (c *Coordinate) DistanceTo(other *Coordinate) time.Duration {
	if !c.IsCompatibleWith(other) {
		return 0
	}
	return secondsToDuration(c.distanceSeconds(other))
}

// CheckedDistanceTo is DistanceTo with an explicit error for incompatible or
// invalid coordinates, for callers that must tell "unknown" from a value.
func (c *Coordinate) CheckedDistanceTo(other *Coordinate) (time.Duration, error) {
	if !c.IsCompatibleWith(other) {
		return 0, ErrIncompatible
	}
	if !c.IsValid() || !other.IsValid() {
		return 0, ErrInvalid
	}
	return secondsToDuration(c.distanceSeconds(other)), nil
}

// distanceSeconds is the DistanceTo estimate in seconds: the raw distance plus both
// adjustments, unless that sum is not positive, in which case the raw
// distance is used (adjustments are only corrections and must not produce a
// nonsensical negative RTT). The caller guarantees compatibility.
func (c *Coordinate) distanceSeconds(other *Coordinate) float64 {
	dist := c.rawDistanceTo(other)
	adjusted := dist + c.Adjustment + other.Adjustment
	if adjusted > 0.0 {
		dist = adjusted
	}
	return dist
}

// rawDistanceTo is the Euclidean distance plus both heights, in seconds,
// without adjustments. The caller guarantees compatibility.
func (c *Coordinate) rawDistanceTo(other *Coordinate) float64 {
	return magnitude(diff(c.Vec, other.Vec)) + c.Height + other.Height
}

// applyForce returns a copy of c moved by force seconds along the direction
// from other to c (a positive force pushes away from other, a negative one
// pulls towards it), with the height scaled along.
// When the two positions coincide there is no direction, so a random one
// from rng is used and the height is left alone. The caller guarantees
// compatibility.
func (c *Coordinate) applyForce(conf *Config, rng *rand.Rand, force float64, other *Coordinate) *Coordinate {
	ret := c.Clone()
	unit, mag := unitVectorAt(rng, c.Vec, other.Vec)
	ret.Vec = add(ret.Vec, mul(unit, force))
	if mag > zeroThreshold {
		ret.Height = (ret.Height+other.Height)*force/mag + ret.Height
		ret.Height = math.Max(ret.Height, conf.HeightMin)
	}
	return ret
}

// secondsToDuration converts a distance in seconds to a Duration without the
// implementation-defined behaviour of converting an out-of-range float: NaN
// and negative values give 0, huge values saturate.
func secondsToDuration(s float64) time.Duration {
	ns := s * float64(time.Second)
	switch {
	case math.IsNaN(ns) || ns <= 0:
		return 0
	case ns >= math.MaxInt64:
		return time.Duration(math.MaxInt64)
	default:
		return time.Duration(ns)
	}
}

// add returns vec1 + vec2 component-wise; the lengths must match.
func add(vec1, vec2 []float64) []float64 {
	ret := make([]float64, len(vec1))
	for i := range ret {
		ret[i] = vec1[i] + vec2[i]
	}
	return ret
}

// diff returns vec1 - vec2 component-wise; the lengths must match.
func diff(vec1, vec2 []float64) []float64 {
	ret := make([]float64, len(vec1))
	for i := range ret {
		ret[i] = vec1[i] - vec2[i]
	}
	return ret
}

// mul returns vec scaled by factor.
func mul(vec []float64, factor float64) []float64 {
	ret := make([]float64, len(vec))
	for i := range vec {
		ret[i] = vec[i] * factor
	}
	return ret
}

// magnitude returns the Euclidean length of vec.
func magnitude(vec []float64) float64 {
	sum := 0.0
	for _, v := range vec {
		sum += v * v
	}
	return math.Sqrt(sum)
}

// unitVectorAt returns the unit vector pointing from vec2 to vec1 and the
// distance between them. If they (nearly) coincide it returns a random unit
// vector and a distance of 0, so that two nodes starting at the origin can
// still push each other apart.
func unitVectorAt(rng *rand.Rand, vec1, vec2 []float64) ([]float64, float64) {
	ret := diff(vec1, vec2)
	if mag := magnitude(ret); mag > zeroThreshold {
		return mul(ret, 1.0/mag), mag
	}
	return randomUnitVector(rng, len(ret)), 0.0
}

// randomUnitVector returns a uniformly distributed direction of n dimensions.
// Normally distributed components make the direction uniform on the sphere.
// The retry loop is bounded: a vector that short is astronomically unlikely,
// and the fallback (the first axis) is still a valid unit vector.
func randomUnitVector(rng *rand.Rand, n int) []float64 {
	ret := make([]float64, n)
	if n == 0 {
		return ret
	}
	for range 16 {
		for i := range ret {
			ret[i] = rng.NormFloat64()
		}
		if mag := magnitude(ret); mag > zeroThreshold {
			return mul(ret, 1.0/mag)
		}
	}
	clear(ret)
	ret[0] = 1.0
	return ret
}
