package coordinate

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestDefaultConfigMatchesSerf(t *testing.T) {
	got := DefaultConfig()
	want := Config{
		Dimensionality:       8,
		VivaldiErrorMax:      1.5,
		VivaldiCE:            0.25,
		VivaldiCC:            0.25,
		AdjustmentWindowSize: 20,
		HeightMin:            1.0e-5,
		LatencyFilterSize:    3,
		GravityRho:           150.0,
	}
	if *got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", *got, want)
	}
}

func TestNewCoordinateIsInitial(t *testing.T) {
	c := NewCoordinate(DefaultConfig())
	if len(c.Vec) != 8 {
		t.Fatalf("len(Vec) = %d, want 8", len(c.Vec))
	}
	for i, v := range c.Vec {
		if v != 0 {
			t.Errorf("Vec[%d] = %v, want 0", i, v)
		}
	}
	if c.Error != 1.5 || c.Adjustment != 0 || c.Height != 1.0e-5 {
		t.Errorf("got Error=%v Adjustment=%v Height=%v, want 1.5 0 1e-5", c.Error, c.Adjustment, c.Height)
	}
}

func TestCloneIsDeep(t *testing.T) {
	orig := &Coordinate{Vec: []float64{1, 2}, Error: 3, Adjustment: 4, Height: 5}
	clone := orig.Clone()
	clone.Vec[0] = 100
	clone.Error = 100
	if orig.Vec[0] != 1 || orig.Error != 3 {
		t.Fatalf("mutating the clone changed the original: %+v", orig)
	}
	if (*Coordinate)(nil).Clone() != nil {
		t.Fatal("Clone of nil should be nil")
	}
}

func TestIsValid(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name  string
		coord *Coordinate
		want  bool
	}{
		{"initial", NewCoordinate(DefaultConfig()), true},
		{"nil", nil, false},
		{"empty", &Coordinate{}, true},
		{"NaN in Vec", &Coordinate{Vec: []float64{0, nan}}, false},
		{"+Inf in Vec", &Coordinate{Vec: []float64{inf}}, false},
		{"-Inf in Vec", &Coordinate{Vec: []float64{-inf}}, false},
		{"NaN Error", &Coordinate{Vec: []float64{0}, Error: nan}, false},
		{"Inf Adjustment", &Coordinate{Vec: []float64{0}, Adjustment: inf}, false},
		{"NaN Height", &Coordinate{Vec: []float64{0}, Height: nan}, false},
		{"negative but finite", &Coordinate{Vec: []float64{-1}, Error: -1, Adjustment: -1, Height: -1}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.coord.IsValid(); got != tc.want {
				t.Fatalf("IsValid() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsCompatibleWith(t *testing.T) {
	two := &Coordinate{Vec: []float64{1, 2}}
	cases := []struct {
		name string
		a, b *Coordinate
		want bool
	}{
		{"same length", two, &Coordinate{Vec: []float64{3, 4}}, true},
		{"different length", two, &Coordinate{Vec: []float64{3}}, false},
		{"nil other", two, nil, false},
		{"nil receiver", nil, two, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.IsCompatibleWith(tc.b); got != tc.want {
				t.Fatalf("IsCompatibleWith() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDistanceTo checks the distance estimate by hand: a 3-4-5 triangle plus heights, with
// and without adjustments, and the fallback to the raw distance when the
// adjustments would make the estimate non-positive.
func TestDistanceTo(t *testing.T) {
	cases := []struct {
		name string
		a, b *Coordinate
		want time.Duration
	}{
		{
			name: "raw only",
			a:    &Coordinate{Vec: []float64{0.003, 0}, Height: 0.0001},
			b:    &Coordinate{Vec: []float64{0, 0.004}, Height: 0.0002},
			want: 5300 * time.Microsecond,
		},
		{
			name: "positive adjustments added",
			a:    &Coordinate{Vec: []float64{0.003, 0}, Height: 0.0001, Adjustment: 0.0005},
			b:    &Coordinate{Vec: []float64{0, 0.004}, Height: 0.0002, Adjustment: -0.0002},
			want: 5600 * time.Microsecond,
		},
		{
			name: "negative sum falls back to raw",
			a:    &Coordinate{Vec: []float64{0.003, 0}, Height: 0.0001, Adjustment: -0.003},
			b:    &Coordinate{Vec: []float64{0, 0.004}, Height: 0.0002, Adjustment: -0.003},
			want: 5300 * time.Microsecond,
		},
		{
			name: "exactly zero adjusted falls back to raw",
			a:    &Coordinate{Vec: []float64{0.001}, Height: 0, Adjustment: -0.0005},
			b:    &Coordinate{Vec: []float64{0}, Height: 0, Adjustment: -0.0005},
			want: 1000 * time.Microsecond,
		},
		{
			name: "same point is the two heights",
			a:    NewCoordinate(DefaultConfig()),
			b:    NewCoordinate(DefaultConfig()),
			want: 20 * time.Microsecond,
		},
		{
			name: "incompatible gives 0",
			a:    &Coordinate{Vec: []float64{1, 2}},
			b:    &Coordinate{Vec: []float64{1}},
			want: 0,
		},
		{
			name: "nil gives 0",
			a:    NewCoordinate(DefaultConfig()),
			b:    nil,
			want: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ab, ba := tc.a.DistanceTo(tc.b), tc.b.DistanceTo(tc.a)
			if ab != ba {
				t.Fatalf("not symmetric: a->b %v, b->a %v", ab, ba)
			}
			// The float arithmetic may land a nanosecond either side.
			if d := ab - tc.want; d < -time.Nanosecond || d > time.Nanosecond {
				t.Fatalf("DistanceTo() = %v, want %v", ab, tc.want)
			}
		})
	}
}

func TestCheckedDistanceTo(t *testing.T) {
	good := NewCoordinate(DefaultConfig())
	cases := []struct {
		name    string
		other   *Coordinate
		wantErr error
	}{
		{"compatible", NewCoordinate(DefaultConfig()), nil},
		{"incompatible", &Coordinate{Vec: []float64{1}}, ErrIncompatible},
		{"nil", nil, ErrIncompatible},
		{"invalid", &Coordinate{Vec: make([]float64, 8), Height: math.NaN()}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := good.CheckedDistanceTo(tc.other)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && d != 20*time.Microsecond {
				t.Fatalf("distance = %v, want 20µs", d)
			}
		})
	}
}

func TestSecondsToDurationSaturates(t *testing.T) {
	cases := []struct {
		in   float64
		want time.Duration
	}{
		{0.5, 500 * time.Millisecond},
		{-1, 0},
		{math.NaN(), 0},
		{math.Inf(1), time.Duration(math.MaxInt64)},
		{1e300, time.Duration(math.MaxInt64)},
	}
	for _, tc := range cases {
		if got := secondsToDuration(tc.in); got != tc.want {
			t.Errorf("secondsToDuration(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestApplyForce checks the "apply force" rule of the Vivaldi
// update: movement along the
// unit vector, the height rule, the HeightMin floor and the random direction
// when the points coincide.
func TestApplyForce(t *testing.T) {
	conf := DefaultConfig()
	conf.Dimensionality = 3
	conf.HeightMin = 0
	rng := rand.New(rand.NewPCG(1, 2))

	origin := NewCoordinate(conf)
	above := NewCoordinate(conf)
	above.Vec[2] = 1.0
	above.Height = 0.1

	t.Run("push away", func(t *testing.T) {
		got := above.applyForce(conf, rng, 0.5, origin)
		if got.Vec[0] != 0 || got.Vec[1] != 0 || got.Vec[2] != 1.5 {
			t.Fatalf("Vec = %v, want [0 0 1.5]", got.Vec)
		}
		// (0.1 + 0) * 0.5 / 1.0 + 0.1
		if math.Abs(got.Height-0.15) > 1e-12 {
			t.Fatalf("Height = %v, want 0.15", got.Height)
		}
		if above.Vec[2] != 1.0 {
			t.Fatal("applyForce modified its receiver")
		}
	})

	t.Run("pull towards with height floor", func(t *testing.T) {
		c := *conf
		c.HeightMin = 0.09
		got := above.applyForce(&c, rng, -0.5, origin)
		if got.Vec[2] != 0.5 {
			t.Fatalf("Vec = %v, want [0 0 0.5]", got.Vec)
		}
		if got.Height != 0.09 { // 0.05 floored to HeightMin
			t.Fatalf("Height = %v, want 0.09", got.Height)
		}
	})

	t.Run("coinciding points use a random direction", func(t *testing.T) {
		got := origin.applyForce(conf, rng, 0.25, origin)
		if mag := magnitude(got.Vec); math.Abs(mag-0.25) > 1e-12 {
			t.Fatalf("|Vec| = %v, want 0.25", mag)
		}
		if got.Height != origin.Height {
			t.Fatalf("Height changed to %v although there is no distance", got.Height)
		}
	})
}

func TestRandomUnitVector(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 8, 64} {
		for range 100 {
			if mag := magnitude(randomUnitVector(rng, n)); math.Abs(mag-1) > 1e-12 {
				t.Fatalf("n=%d: magnitude %v, want 1", n, mag)
			}
		}
	}
	if v := randomUnitVector(rng, 0); len(v) != 0 {
		t.Fatalf("n=0: got %v", v)
	}
}
