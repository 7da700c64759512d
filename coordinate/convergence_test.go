package coordinate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestConvergence runs every node's Client against a synthetic network with
// known RTTs and checks that the estimated RTTs end up close to the truth.
// Everything is seeded, so a failure is reproducible.
func TestConvergence(t *testing.T) {
	cases := []struct {
		name   string
		nodes  int
		place  func(rng *rand.Rand, i, n int) (x, y float64) // ms
		access func(rng *rand.Rand, i int) float64           // per-node ms added to each RTT
		jitter float64                                       // relative noise per sample
		rounds int
		maxErr float64 // mean relative error allowed
	}{
		{
			name:   "plane",
			nodes:  20,
			place:  func(rng *rand.Rand, _, _ int) (float64, float64) { return rng.Float64() * 100, rng.Float64() * 100 },
			access: func(*rand.Rand, int) float64 { return 0 },
			rounds: 500,
			maxErr: 0.05,
		},
		{
			name:   "line",
			nodes:  12,
			place:  func(_ *rand.Rand, i, _ int) (float64, float64) { return 10 * float64(i+1), 0 },
			access: func(*rand.Rand, int) float64 { return 0 },
			rounds: 500,
			maxErr: 0.05,
		},
		{
			name:   "plane with access links",
			nodes:  16,
			place:  func(rng *rand.Rand, _, _ int) (float64, float64) { return rng.Float64() * 50, rng.Float64() * 50 },
			access: func(rng *rand.Rand, _ int) float64 { return 1 + rng.Float64()*4 },
			rounds: 500,
			maxErr: 0.08,
		},
		{
			name:   "plane with jitter",
			nodes:  16,
			place:  func(rng *rand.Rand, _, _ int) (float64, float64) { return rng.Float64() * 80, rng.Float64() * 80 },
			access: func(*rand.Rand, int) float64 { return 0.5 },
			jitter: 0.10,
			rounds: 600,
			maxErr: 0.10,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(42, 4242))
			truth := syntheticRTTs(rng, tc.nodes, tc.place, tc.access)

			clients := make([]*Client, tc.nodes)
			for i := range clients {
				clients[i] = newTestClient(t, DefaultConfig(), uint64(i+1))
			}
			names := make([]string, tc.nodes)
			for i := range names {
				names[i] = fmt.Sprintf("node-%d", i)
			}

			for range tc.rounds {
				for i := range clients {
					j := rng.IntN(tc.nodes - 1)
					if j >= i {
						j++
					}
					rtt := truth[i][j]
					if tc.jitter > 0 {
						rtt = time.Duration(float64(rtt) * (1 + tc.jitter*(rng.Float64()*2-1)))
					}
					if _, err := clients[i].Update(names[j], clients[j].GetCoordinate(), rtt); err != nil {
						t.Fatalf("Update(%d <- %d): %v", i, j, err)
					}
				}
			}

			mean, worst := estimateError(clients, truth)
			t.Logf("mean relative error %.3f, worst %.3f", mean, worst)
			if mean > tc.maxErr {
				t.Fatalf("mean relative error %.3f, want <= %.2f", mean, tc.maxErr)
			}
		})
	}
}

// syntheticRTTs places n nodes and returns the RTT matrix: the Euclidean
// distance plus both nodes' access-link latency.
func syntheticRTTs(rng *rand.Rand, n int,
	place func(*rand.Rand, int, int) (float64, float64),
	access func(*rand.Rand, int) float64,
) [][]time.Duration {
	xs, ys, hs := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		xs[i], ys[i] = place(rng, i, n)
		hs[i] = access(rng, i)
	}
	truth := make([][]time.Duration, n)
	for i := range n {
		truth[i] = make([]time.Duration, n)
		for j := range n {
			if i == j {
				continue
			}
			ms := math.Hypot(xs[i]-xs[j], ys[i]-ys[j]) + hs[i] + hs[j]
			truth[i][j] = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return truth
}

// estimateError returns the mean and worst relative error of the estimated
// RTT over all pairs.
func estimateError(clients []*Client, truth [][]time.Duration) (mean, worst float64) {
	coords := make([]*Coordinate, len(clients))
	for i, c := range clients {
		coords[i] = c.GetCoordinate()
	}
	sum, pairs := 0.0, 0
	for i := range coords {
		for j := i + 1; j < len(coords); j++ {
			est := coords[i].DistanceTo(coords[j]).Seconds()
			act := truth[i][j].Seconds()
			rel := math.Abs(est-act) / act
			sum += rel
			pairs++
			worst = max(worst, rel)
		}
	}
	return sum / float64(pairs), worst
}
