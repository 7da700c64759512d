package serf

import (
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

// FuzzNotifyAlive feeds arbitrary claimed members to the check memberlist
// runs on every alive message and push-pull node, on a member without a
// merge hook of its own. Plaintext gossip can claim anything, so the check
// must be installed whatever the configuration, and a member it lets in
// must have a name, a 4- or 16-byte IP and tags within the size limit.
// Tags that do not decode do not keep a peer out (it is logged and joins
// with the tags that do decode, as in Serf). The seeds in
// testdata/fuzz/FuzzNotifyAlive are the claims that, before the check was
// always installed, joined a real agent's member list from a single
// UDP packet (found by TestIntegrationHostileGossip).
func FuzzNotifyAlive(f *testing.F) {
	s := fuzzNode(f, nil)
	if s.config.MemberlistConfig.Alive == nil || s.config.MemberlistConfig.Merge == nil {
		f.Fatal("memberlist has no alive or merge check without a merge hook")
	}
	alive := s.config.MemberlistConfig.Alive
	merge := s.config.MemberlistConfig.Merge
	f.Add("node-x", []byte{10, 0, 0, 1}, []byte{0xff, 0x80})
	f.Add("node-y", []byte(net.ParseIP("fe80::1")), []byte("web"))
	f.Fuzz(func(t *testing.T, name string, addr, meta []byte) {
		n := &memberlist.Node{Name: name, Addr: addr, Port: 7946, Meta: meta, PMin: 1, PMax: 5, PCur: 2, DMin: 2, DMax: 5, DCur: 4}
		errAlive := alive.NotifyAlive(n)
		errMerge := merge.NotifyMerge([]*memberlist.Node{n})
		if (errAlive == nil) != (errMerge == nil) {
			t.Fatalf("alive and merge disagree on %+v: %v / %v", n, errAlive, errMerge)
		}
		if errAlive != nil {
			return
		}
		if name == "" {
			t.Fatalf("member with an empty name accepted")
		}
		if len(addr) != net.IPv4len && len(addr) != net.IPv6len {
			t.Fatalf("member %q with a %d-byte IP accepted", name, len(addr))
		}
		if len(meta) > memberlist.MetaMaxSize {
			t.Fatalf("member %q with %d bytes of tags accepted", name, len(meta))
		}
	})
}
