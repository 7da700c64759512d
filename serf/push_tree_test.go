package serf

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/hashicorp/memberlist"
)

// ringOf returns the ring of n members as member self sees it.
func ringOf(n, self int) *pushRing {
	r := &pushRing{self: self}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%03d", i)
		r.members = append(r.members, ringMember{hash: uint64(i), addr: memberlist.Address{Name: name, Addr: name}})
	}
	return r
}

// TestPushTreeCoversEveryone runs the tree's pushes alone (no random
// member, no gossip) from every originator: where the members agree on
// the ring, everyone is reached, at most once each apart from the
// originator's extra push to the root, within the tree's depth.
func TestPushTreeCoversEveryone(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 16, 64, 200} {
		for _, k := range []int{1, 2, 3, 4, 8} {
			for _, key := range []uint64{0, 7, 12345, math.MaxUint64} {
				for origin := 0; origin < n; origin += 1 + n/7 {
					name := fmt.Sprintf("n=%d k=%d key=%d origin=%d", n, k, key, origin)
					reached := map[int]int{origin: 0} // member -> hops
					received := make([]int, n)
					pushes := 0
					frontier := []int{origin}
					for len(frontier) > 0 {
						var next []int
						for _, from := range frontier {
							for _, to := range ringOf(n, from).tree(key, k, from == origin, "") {
								pushes++
								received[to]++
								if _, ok := reached[to]; !ok {
									reached[to] = reached[from] + 1
									next = append(next, to)
								}
							}
						}
						frontier = next
					}
					if len(reached) != n {
						t.Fatalf("%s: reached %d of %d", name, len(reached), n)
					}
					if pushes > n {
						t.Errorf("%s: %d pushes for %d members", name, pushes, n)
					}
					for i, c := range received {
						if c > 2 || (c == 2 && i != int(key%uint64(n))) {
							t.Errorf("%s: member %d pushed to %d times", name, i, c)
						}
					}
					depth := n // a chain when k is 1
					if k > 1 {
						depth = int(math.Ceil(math.Log(float64(n))/math.Log(float64(k)))) + 2
					}
					for i, h := range reached {
						if h > depth {
							t.Errorf("%s: member %d reached after %d hops, want at most %d", name, i, h, depth)
						}
					}
				}
			}
		}
	}
}

// TestPushTargets: never this node or skip, no member twice, the tree's
// picks plus one random member when there is one left to draw.
func TestPushTargets(t *testing.T) {
	cases := []struct {
		name          string
		n, self, k    int
		origin        bool
		skip          string
		wantMin, want int // targets, at least and at most
	}{
		{name: "alone", n: 1, self: 0, k: 3, want: 0},
		{name: "pair", n: 2, self: 0, k: 3, origin: true, wantMin: 1, want: 1},
		{name: "originator", n: 64, self: 5, k: 3, origin: true, wantMin: 2, want: 5},
		{name: "leaf", n: 64, self: 40, k: 3, wantMin: 1, want: 4},
		{name: "skip everyone else", n: 2, self: 0, k: 3, origin: true, skip: "m001", want: 0},
		{name: "not in the ring", n: 8, self: -1, k: 3, origin: true, want: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for key := uint64(0); key < 64; key++ {
				r := ringOf(tc.n, tc.self)
				got := r.targets(key, tc.k, tc.origin, tc.skip)
				if len(got) < tc.wantMin || len(got) > tc.want {
					t.Fatalf("key %d: %d targets %v, want %d to %d", key, len(got), got, tc.wantMin, tc.want)
				}
				var names []string
				for _, a := range got {
					if tc.self >= 0 && a.Name == r.members[tc.self].addr.Name || a.Name == tc.skip {
						t.Fatalf("key %d: pushed to %s", key, a.Name)
					}
					if slices.Contains(names, a.Name) {
						t.Fatalf("key %d: %s picked twice", key, a.Name)
					}
					names = append(names, a.Name)
				}
			}
		})
	}
}
