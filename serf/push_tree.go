package serf

import (
	"hash/fnv"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/memberlist"
)

// pushRing is the live members, this node included, in the order every
// node derives alike: by a hash of the name, ties by name. It is rebuilt
// only when the member table has changed (MembersVersion).
type pushRing struct {
	members []ringMember
	self    int // index of this node; -1 if it is not among them
}

type ringMember struct {
	hash uint64
	addr memberlist.Address
}

// pushRingCache keeps the last pushRing with the version it was built at.
type pushRingCache struct {
	mu      sync.Mutex
	version uint64
	ring    *pushRing
}

// pushRing returns the ring of the current member table.
func (s *Serf) pushRing() *pushRing {
	c := &s.pushRingCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring != nil && c.version == s.MembersVersion() {
		return c.ring
	}
	s.memberLock.RLock()
	version := s.memberLock.version.Load()
	members := make([]ringMember, 0, len(s.members))
	for name, m := range s.members {
		if m.Status != StatusAlive {
			continue
		}
		members = append(members, ringMember{
			hash: nameHash(name),
			addr: memberlist.Address{Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))), Name: name},
		})
	}
	s.memberLock.RUnlock()
	slices.SortFunc(members, func(a, b ringMember) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return strings.Compare(a.addr.Name, b.addr.Name)
	})
	ring := &pushRing{members: members, self: -1}
	for i, m := range members {
		if m.addr.Name == s.config.NodeName {
			ring.self = i
			break
		}
	}
	c.version, c.ring = version, ring
	return ring
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return h.Sum64()
}

// pushKey is the hash that picks a message's root: of its bytes, which
// every node forwards unchanged.
func pushKey(raw []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return h.Sum64()
}

// targets returns whom this node pushes a message with key to: the
// tree's picks (tree) and one random member besides. This node and skip
// are never targets.
func (r *pushRing) targets(key uint64, k int, origin bool, skip string) []memberlist.Address {
	picked := r.tree(key, k, origin, skip)
	if n := len(r.members); r.self >= 0 && n > len(picked)+1 {
		// One random member, drawn from those not yet picked; a few
		// tries, since a draw may land on this node, skip or a pick.
		for tries := 0; tries < 4; tries++ {
			i := rand.IntN(n)
			if r.eligible(i, skip) && !slices.Contains(picked, i) {
				picked = append(picked, i)
				break
			}
		}
	}
	out := make([]memberlist.Address, len(picked))
	for i, idx := range picked {
		out[i] = r.members[idx].addr
	}
	return out
}

// tree returns the ring indexes of this node's children in the k-ary tree
// rooted at position key mod N (position p, counted from the root, has
// children k*p+1 .. k*p+k), and the root first when this node originated
// the message.
func (r *pushRing) tree(key uint64, k int, origin bool, skip string) []int {
	n := len(r.members)
	if n < 2 || r.self < 0 || k <= 0 {
		return nil
	}
	root := int(key % uint64(n))
	rel := (r.self - root + n) % n
	picked := make([]int, 0, k+2)
	if origin && r.eligible(root, skip) {
		picked = append(picked, root)
	}
	if rel > (n-1)/k {
		return picked // a leaf (checked first, so k*rel cannot overflow)
	}
	for j := 1; j <= k && k*rel+j < n; j++ {
		if i := (root + k*rel + j) % n; r.eligible(i, skip) {
			picked = append(picked, i)
		}
	}
	return picked
}

// eligible reports whether ring index i may be pushed to: not this node,
// not skip.
func (r *pushRing) eligible(i int, skip string) bool {
	return i != r.self && r.members[i].addr.Name != skip
}
