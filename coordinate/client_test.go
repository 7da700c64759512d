package coordinate

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestClient returns a client with a seeded direction source, so that
// tests are reproducible.
func newTestClient(t testing.TB, conf *Config, seed uint64) *Client {
	t.Helper()
	c, err := newClient(conf, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	return c
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"zero dimensionality", func(c *Config) { c.Dimensionality = 0 }, "dimensionality"},
		{"zero adjustment window", func(c *Config) { c.AdjustmentWindowSize = 0 }, "adjustment window"},
		{"zero latency filter", func(c *Config) { c.LatencyFilterSize = 0 }, "latency filter"},
		{"zero gravity", func(c *Config) { c.GravityRho = 0 }, "GravityRho"},
		{"NaN CC", func(c *Config) { c.VivaldiCC = math.NaN() }, "VivaldiCC"},
		{"negative height", func(c *Config) { c.HeightMin = -1 }, "HeightMin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := DefaultConfig()
			tc.mutate(conf)
			_, err := NewClient(conf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewClient() error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := NewClient(nil); err == nil {
		t.Fatal("NewClient(nil) succeeded")
	}
	if _, err := NewClient(DefaultConfig()); err != nil {
		t.Fatalf("NewClient(DefaultConfig()) = %v", err)
	}
}

func TestNewClientCopiesConfig(t *testing.T) {
	conf := DefaultConfig()
	c := newTestClient(t, conf, 1)
	conf.Dimensionality = 2
	conf.AdjustmentWindowSize = 0
	if _, err := c.Update("peer", NewCoordinate(DefaultConfig()), time.Millisecond); err != nil {
		t.Fatalf("Update after mutating the caller's config: %v", err)
	}
}

// oneStep is an independent, scalar transcription of Serf's Vivaldi
// update for a fresh
// client at the origin and a peer on the positive first axis (at p > 1e-6),
// so every movement happens along that axis. It returns the expected
// coordinate after one Update with rtt seconds.
func oneStep(conf *Config, peer *Coordinate, rtt float64) (x, errEst, adj, height float64) {
	p := peer.Vec[0]
	hs, es, as := conf.HeightMin, conf.VivaldiErrorMax, 0.0

	// Step 1: a single sample is its own median.
	// Step 2: Vivaldi.
	d := p + hs + peer.Height
	if a := d + as + peer.Adjustment; a > 0 {
		d = a
	}
	r := math.Max(rtt, 1e-6)
	wrong := math.Abs(d-r) / r
	w := es / math.Max(es+peer.Error, 1e-6)
	errEst = math.Min(conf.VivaldiCE*w*wrong+es*(1-conf.VivaldiCE*w), conf.VivaldiErrorMax)
	f := conf.VivaldiCC * w * (r - d)
	// self - peer points along -x with length p.
	x = -f
	height = math.Max((hs+peer.Height)*f/p+hs, conf.HeightMin)

	// Step 3: adjustment from the raw distance after the move, unclamped rtt.
	raw := math.Abs(x-p) + height + peer.Height
	adj = (rtt - raw) / (2 * float64(conf.AdjustmentWindowSize))

	// Step 4: gravity towards the origin (height HeightMin, adjustment 0).
	g := math.Abs(x) + conf.HeightMin + height
	if a := g + adj; a > 0 {
		g = a
	}
	fg := -(g / conf.GravityRho) * (g / conf.GravityRho)
	if math.Abs(x) > 1e-6 {
		sign := math.Copysign(1, x)
		height = math.Max((height+conf.HeightMin)*fg/math.Abs(x)+height, conf.HeightMin)
		x += sign * fg
	}
	return x, errEst, adj, height
}

// TestClientKnownUpdate compares one Update against oneStep.
func TestClientKnownUpdate(t *testing.T) {
	conf := DefaultConfig()
	cases := []struct {
		name string
		peer *Coordinate
		rtt  time.Duration
	}{
		{
			name: "confident peer closer than measured",
			peer: &Coordinate{Vec: []float64{0.002, 0, 0, 0, 0, 0, 0, 0}, Error: 0.2, Height: 0.0005},
			rtt:  10 * time.Millisecond,
		},
		{
			name: "unsure peer farther than measured",
			peer: &Coordinate{Vec: []float64{0.050, 0, 0, 0, 0, 0, 0, 0}, Error: 1.5, Height: 1e-5, Adjustment: 0.001},
			rtt:  5 * time.Millisecond,
		},
		{
			name: "zero rtt clamps only the Vivaldi step",
			peer: &Coordinate{Vec: []float64{0.001, 0, 0, 0, 0, 0, 0, 0}, Error: 0.5, Height: 1e-5},
			rtt:  0,
		},
		{
			name: "height grows when pushed away",
			peer: &Coordinate{Vec: []float64{0.0001, 0, 0, 0, 0, 0, 0, 0}, Error: 1.0, Height: 0.002},
			rtt:  40 * time.Millisecond,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, conf, 7)
			got, err := c.Update("peer", tc.peer, tc.rtt)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			x, errEst, adj, height := oneStep(conf, tc.peer, tc.rtt.Seconds())
			checks := []struct {
				what      string
				got, want float64
			}{
				{"Vec[0]", got.Vec[0], x},
				{"Error", got.Error, errEst},
				{"Adjustment", got.Adjustment, adj},
				{"Height", got.Height, height},
			}
			for _, ch := range checks {
				if math.Abs(ch.got-ch.want) > 1e-9 {
					t.Errorf("%s = %.15g, want %.15g", ch.what, ch.got, ch.want)
				}
			}
			for i, v := range got.Vec[1:] {
				if v != 0 {
					t.Errorf("Vec[%d] = %v, want 0 (movement is along the peer axis)", i+1, v)
				}
			}
		})
	}
}

// TestClientFirstUpdateFromOrigin is the case from the brief: both nodes at
// the origin, so the direction is random but the distance moved is fixed.
func TestClientFirstUpdateFromOrigin(t *testing.T) {
	conf := DefaultConfig()
	c := newTestClient(t, conf, 11)
	peer := NewCoordinate(conf)
	const rtt = 0.010

	got, err := c.Update("peer", peer, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	// The update worked by hand. d = 0 + 1e-5 + 1e-5; weight = 1.5/3 = 0.5.
	d := 2e-5
	wantErr := 0.25*0.5*(math.Abs(d-rtt)/rtt) + 1.5*(1-0.25*0.5) // 1.43725
	f := 0.25 * 0.5 * (rtt - d)                                  // 0.0012475
	// No direction, so the height stays at HeightMin.
	adj := (rtt - (f + 2e-5)) / 40
	g := f + 2e-5 + adj
	fg := -(g / 150) * (g / 150)
	wantMag := f + fg // gravity pulls straight back along the same line

	if math.Abs(got.Error-wantErr) > 1e-9 || math.Abs(wantErr-1.43725) > 1e-12 {
		t.Errorf("Error = %.15g, want %.15g", got.Error, wantErr)
	}
	if mag := magnitude(got.Vec); math.Abs(mag-wantMag) > 1e-9 {
		t.Errorf("|Vec| = %.15g, want %.15g", mag, wantMag)
	}
	if math.Abs(got.Adjustment-adj) > 1e-9 {
		t.Errorf("Adjustment = %.15g, want %.15g", got.Adjustment, adj)
	}
	if got.Height != conf.HeightMin {
		t.Errorf("Height = %v, want HeightMin", got.Height)
	}
	// The node moved away from the peer by the expected amount.
	wantDist := wantMag + 2e-5 + adj
	if dist := c.DistanceTo(peer).Seconds(); math.Abs(dist-wantDist) > 1e-9 {
		t.Errorf("DistanceTo(peer) = %.15g s, want %.15g s", dist, wantDist)
	}
}

func TestClientUpdateRejections(t *testing.T) {
	conf := DefaultConfig()
	good := NewCoordinate(conf)
	withVec := func(i int, v float64) *Coordinate {
		c := NewCoordinate(conf)
		c.Vec[i] = v
		return c
	}
	cases := []struct {
		name    string
		other   *Coordinate
		rtt     time.Duration
		wantIs  error
		wantMsg string
	}{
		{"dimension mismatch", &Coordinate{Vec: []float64{0, 0, 0}, Error: 1}, time.Millisecond, ErrIncompatible, "dimensions aren't compatible"},
		{"nil coordinate", nil, time.Millisecond, ErrInvalid, "coordinate is invalid"},
		{"NaN in Vec", withVec(3, math.NaN()), time.Millisecond, ErrInvalid, "coordinate is invalid"},
		{"Inf in Vec", withVec(0, math.Inf(-1)), time.Millisecond, ErrInvalid, "coordinate is invalid"},
		{"NaN Error", &Coordinate{Vec: make([]float64, 8), Error: math.NaN()}, time.Millisecond, ErrInvalid, "coordinate is invalid"},
		{"Inf Height", &Coordinate{Vec: make([]float64, 8), Height: math.Inf(1)}, time.Millisecond, ErrInvalid, "coordinate is invalid"},
		{"NaN Adjustment", &Coordinate{Vec: make([]float64, 8), Adjustment: math.NaN()}, time.Millisecond, ErrInvalid, "coordinate is invalid"},
		{"negative rtt", good, -time.Nanosecond, nil, "round trip time"},
		{"rtt above 10s", good, MaxRTT + time.Nanosecond, nil, "round trip time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, conf, 3)
			before := c.GetCoordinate()
			got, err := c.Update("peer", tc.other, tc.rtt)
			if err == nil {
				t.Fatalf("Update accepted it and returned %+v", got)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), `"peer"`) {
				t.Errorf("error %q should mention %q and the node", err, tc.wantMsg)
			}
			if after := c.GetCoordinate(); !sameCoordinate(before, after) {
				t.Errorf("rejected update changed the coordinate: %+v -> %+v", before, after)
			}
			if n := len(c.latencyFilterSamples); n != 0 {
				t.Errorf("rejected update recorded %d latency sample lists", n)
			}
		})
	}
}

func TestClientUpdateAcceptsRTTBounds(t *testing.T) {
	for _, rtt := range []time.Duration{0, MaxRTT} {
		c := newTestClient(t, DefaultConfig(), 5)
		if _, err := c.Update("peer", NewCoordinate(DefaultConfig()), rtt); err != nil {
			t.Errorf("Update(rtt=%v) = %v, want accepted", rtt, err)
		}
	}
}

func TestLatencyFilterMedian(t *testing.T) {
	c := newTestClient(t, DefaultConfig(), 1)
	steps := []struct {
		node   string
		sample float64
		want   float64
	}{
		{"a", 0.010, 0.010},
		{"a", 0.030, 0.030}, // two samples: the larger
		{"a", 0.020, 0.020}, // {10, 30, 20}
		{"b", 0.500, 0.500}, // per node
		{"a", 0.100, 0.030}, // 10 drops out: {30, 20, 100}
		{"a", 0.001, 0.020}, // {20, 100, 1}
		{"a", 0.002, 0.002}, // {100, 1, 2}
	}
	for i, s := range steps {
		if got := c.latencyFilter(s.node, s.sample); got != s.want {
			t.Fatalf("step %d: latencyFilter(%q, %v) = %v, want %v", i, s.node, s.sample, got, s.want)
		}
	}
	if n := len(c.latencyFilterSamples["a"]); n != 3 {
		t.Fatalf("kept %d samples for a, want 3", n)
	}
}

func TestClientForgetNode(t *testing.T) {
	c := newTestClient(t, DefaultConfig(), 1)
	peer := NewCoordinate(DefaultConfig())
	for _, rtt := range []time.Duration{900 * time.Millisecond, 800 * time.Millisecond} {
		if _, err := c.Update("a", peer, rtt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Update("b", peer, time.Millisecond); err != nil {
		t.Fatal(err)
	}

	c.ForgetNode("a")
	c.ForgetNode("never-seen") // must be harmless

	if _, ok := c.latencyFilterSamples["a"]; ok {
		t.Fatal("samples for a survived ForgetNode")
	}
	if _, ok := c.latencyFilterSamples["b"]; !ok {
		t.Fatal("ForgetNode(a) dropped b's samples")
	}
	// With the old samples gone, a new small sample is its own median.
	if got := c.latencyFilter("a", 0.001); got != 0.001 {
		t.Fatalf("median after forget = %v, want 0.001", got)
	}
}

// TestClientResetsOnNaN feeds a finite but enormous peer coordinate, which
// overflows the arithmetic to Inf/NaN; the client must reset and count it.
func TestClientResetsOnNaN(t *testing.T) {
	conf := DefaultConfig()
	c := newTestClient(t, conf, 1)
	huge := NewCoordinate(conf)
	huge.Vec[0] = math.MaxFloat64
	huge.Vec[1] = -math.MaxFloat64
	huge.Height = math.MaxFloat64

	for i := 1; i <= 3; i++ {
		got, err := c.Update("huge", huge, time.Millisecond)
		if err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
		if !sameCoordinate(got, NewCoordinate(conf)) {
			t.Fatalf("Update %d returned %+v, want the initial coordinate", i, got)
		}
		if s := c.Stats(); s.Resets != i {
			t.Fatalf("after %d updates Resets = %d", i, s.Resets)
		}
	}

	for i, s := range c.adjustmentSamples {
		if s != 0 {
			t.Fatalf("adjustment sample %d = %v survived the reset", i, s)
		}
	}

	// Normal updates afterwards work and do not count: the overflowing
	// adjustment sample must not poison the next AdjustmentWindowSize updates.
	if _, err := c.Update("ok", NewCoordinate(conf), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Resets != 3 {
		t.Fatalf("Resets = %d after a normal update, want 3", s.Resets)
	}
}

func TestClientSetAndGetCoordinate(t *testing.T) {
	conf := DefaultConfig()
	c := newTestClient(t, conf, 1)

	want := NewCoordinate(conf)
	want.Vec[2] = 0.004
	want.Error = 0.3
	if err := c.SetCoordinate(want); err != nil {
		t.Fatalf("SetCoordinate: %v", err)
	}
	want.Vec[2] = 99 // the client must have taken a copy
	got := c.GetCoordinate()
	if got.Vec[2] != 0.004 || got.Error != 0.3 {
		t.Fatalf("GetCoordinate() = %+v", got)
	}
	got.Vec[2] = 42 // and hand one out
	if c.GetCoordinate().Vec[2] != 0.004 {
		t.Fatal("GetCoordinate returned the client's own storage")
	}

	bad := []struct {
		name  string
		coord *Coordinate
		is    error
	}{
		{"nil", nil, ErrInvalid},
		{"wrong dimensions", &Coordinate{Vec: []float64{1}}, ErrIncompatible},
		{"NaN", &Coordinate{Vec: make([]float64, 8), Error: math.NaN()}, ErrInvalid},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SetCoordinate(tc.coord); !errors.Is(err, tc.is) {
				t.Fatalf("SetCoordinate() = %v, want %v", err, tc.is)
			}
			if c.GetCoordinate().Vec[2] != 0.004 {
				t.Fatal("refused SetCoordinate changed the coordinate")
			}
		})
	}
}

func TestClientDistanceToMatchesCoordinate(t *testing.T) {
	conf := DefaultConfig()
	c := newTestClient(t, conf, 1)
	other := NewCoordinate(conf)
	other.Vec[0] = 0.003
	other.Vec[1] = 0.004
	other.Adjustment = 0.001
	if err := c.SetCoordinate(NewCoordinate(conf)); err != nil {
		t.Fatal(err)
	}
	// 5ms + 2 * 10µs heights + 1ms adjustment.
	want := 6020 * time.Microsecond
	if got := c.DistanceTo(other); got < want-time.Nanosecond || got > want+time.Nanosecond {
		t.Fatalf("Client.DistanceTo() = %v, want %v", got, want)
	}
	if got := c.DistanceTo(&Coordinate{Vec: []float64{1}}); got != 0 {
		t.Fatalf("incompatible DistanceTo = %v, want 0", got)
	}
}

// TestClientConcurrentUse is for the race detector: probes, readers and
// member reaping all touch the client at once.
func TestClientConcurrentUse(t *testing.T) {
	conf := DefaultConfig()
	c := newTestClient(t, conf, 1)
	peer := NewCoordinate(conf)
	peer.Vec[0] = 0.01

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := string(rune('a' + g))
			for i := range 200 {
				if _, err := c.Update(node, peer, time.Duration(i%20+1)*time.Millisecond); err != nil {
					t.Errorf("Update: %v", err)
					return
				}
				_ = c.GetCoordinate()
				_ = c.DistanceTo(peer)
				_ = c.Stats()
				if i%50 == 0 {
					c.ForgetNode(node)
				}
			}
		}()
	}
	wg.Wait()
	if !c.GetCoordinate().IsValid() {
		t.Fatal("coordinate became invalid")
	}
}

// sameCoordinate compares bit for bit (so NaN equals NaN).
func sameCoordinate(a, b *Coordinate) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Vec) != len(b.Vec) {
		return false
	}
	for i := range a.Vec {
		if math.Float64bits(a.Vec[i]) != math.Float64bits(b.Vec[i]) {
			return false
		}
	}
	return math.Float64bits(a.Error) == math.Float64bits(b.Error) &&
		math.Float64bits(a.Adjustment) == math.Float64bits(b.Adjustment) &&
		math.Float64bits(a.Height) == math.Float64bits(b.Height)
}

func BenchmarkClientUpdate(b *testing.B) {
	conf := DefaultConfig()
	c := newTestClient(b, conf, 1)
	peers := make([]*Coordinate, 4)
	for i := range peers {
		peers[i] = NewCoordinate(conf)
		peers[i].Vec[i] = 0.001 * float64(i+1)
	}
	names := []string{"a", "b", "c", "d"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Update(names[i%4], peers[i%4], time.Duration(i%7+1)*time.Millisecond); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
