// Package coordinate estimates round-trip times between nodes with Vivaldi
// network coordinates, the way Serf 0.10 does.
//
// Every node owns a Client. Each successful direct probe feeds the client one
// RTT sample together with the peer's coordinate (carried in the probe ack,
// see EncodePingPayload); the client nudges its own coordinate so that the
// distance between the two coordinates approaches the measured RTT. Any two
// coordinates can then be compared with DistanceTo to estimate the RTT between
// their nodes without ever having measured it.
//
// The package does no I/O and emits no metrics: the caller (the Serf ping
// delegate) decides what to count, using the errors returned by Update.
package coordinate

import (
	"errors"
	"fmt"
	"math"
)

// Config holds the Vivaldi tuning knobs. Every node of a cluster should use
// the same Dimensionality, because coordinates of different lengths cannot be
// compared and updates from such peers are rejected.
type Config struct {
	// Dimensionality is the number of Euclidean dimensions of Vec. Serf uses
	// 8, which fits real networks well and is what peers expect on the wire.
	Dimensionality uint

	// VivaldiErrorMax caps the error estimate; it is also the error of a
	// fresh coordinate, meaning "no confidence at all".
	VivaldiErrorMax float64

	// VivaldiCE controls how fast the error estimate follows new samples.
	VivaldiCE float64

	// VivaldiCC is the step size of the position update: the fraction of the
	// observed prediction error that one sample may correct.
	VivaldiCC float64

	// AdjustmentWindowSize is the number of recent samples whose residual
	// error is averaged into Coordinate.Adjustment.
	AdjustmentWindowSize uint

	// HeightMin is the smallest allowed Height, in seconds. A positive floor
	// keeps a node from collapsing into a point that cannot be moved by the
	// height term.
	HeightMin float64

	// LatencyFilterSize is the number of recent RTT samples per peer whose
	// median is used, so one delayed probe cannot yank the coordinate away.
	LatencyFilterSize uint

	// GravityRho scales the pull of every coordinate towards the origin,
	// which stops a whole cluster from drifting off together.
	GravityRho float64
}

// DefaultConfig returns Serf 0.10's values. They are the ones
// peers assume, so change them only for tests or experiments.
func DefaultConfig() *Config {
	return &Config{
		Dimensionality:       8,
		VivaldiErrorMax:      1.5,
		VivaldiCE:            0.25,
		VivaldiCC:            0.25,
		AdjustmentWindowSize: 20,
		HeightMin:            10.0e-6,
		LatencyFilterSize:    3,
		GravityRho:           150.0,
	}
}

// validate reports the first setting that would make the client divide by
// zero, index an empty ring or produce NaN on its first update.
func (c *Config) validate() error {
	if c == nil {
		return errors.New("config is nil")
	}
	if c.Dimensionality == 0 {
		return errors.New("dimensionality must be greater than 0")
	}
	if c.AdjustmentWindowSize == 0 {
		return errors.New("adjustment window size must be greater than 0")
	}
	if c.LatencyFilterSize == 0 {
		return errors.New("latency filter size must be greater than 0")
	}
	floats := []struct {
		name string
		v    float64
	}{
		{"VivaldiErrorMax", c.VivaldiErrorMax},
		{"VivaldiCE", c.VivaldiCE},
		{"VivaldiCC", c.VivaldiCC},
		{"HeightMin", c.HeightMin},
		{"GravityRho", c.GravityRho},
	}
	for _, f := range floats {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%s must be a finite, non-negative number, got %v", f.name, f.v)
		}
	}
	if c.GravityRho == 0 {
		return errors.New("GravityRho must be greater than 0")
	}
	return nil
}
