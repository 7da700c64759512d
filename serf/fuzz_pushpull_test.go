package serf

import (
	"io"
	"testing"
)

// fuzzNode starts one Serf member for a fuzz target, with its logs thrown
// away: a fuzz worker runs millions of inputs, and a log buffer that kept
// them would be the only thing growing.
func fuzzNode(f *testing.F, configure func(*Config)) *Serf {
	conf := testConfig(f)
	conf.LogOutput = io.Discard
	conf.MemberlistConfig.LogOutput = io.Discard
	if configure != nil {
		configure(conf)
	}
	return startNode(f, conf)
}

// FuzzMergeRemoteState feeds arbitrary push-pull user state to a live
// member, as a peer's TCP push-pull would. It must never panic, never add
// a member (only memberlist does that), and the member's own state must
// still encode and decode afterwards.
func FuzzMergeRemoteState(f *testing.F) {
	s := fuzzNode(f, nil)
	d := &delegate{serf: s}
	f.Add(d.LocalState(false), false)
	payloads, _ := fuzzSeeds()
	for _, p := range payloads {
		if len(p) > 0 && messageType(p[0]) == messagePushPullType {
			f.Add(p, true)
		}
	}
	for _, h := range fuzzSpecPayloads {
		f.Add(codecHex(f, h), false)
	}
	for _, h := range []string{
		// One event slot holding a 4 GiB event list; one left member
		// whose status time is the largest clock value.
		"02 81 a6 4576656e7473 91 82 a6 4576656e7473 dd ffffffff a5 4c54696d65 01",
		"02 82 ab 4c6566744d656d62657273 91 a1 78 ac 5374617475734c54696d6573 81 a1 78 cf ffffffffffffffff",
		"02 81 aa 4576656e744c54696d65 cf ffffffffffffffff",
		"02 c0", "02", "03 80",
	} {
		f.Add(codecHex(f, h), true)
	}
	f.Fuzz(func(t *testing.T, buf []byte, join bool) {
		before := s.NumMembers()
		d.MergeRemoteState(buf, join)
		if n := s.NumMembers(); n != before {
			t.Fatalf("push-pull state %x changed the member count %d -> %d", buf, before, n)
		}
		state := d.LocalState(false)
		var pp messagePushPull
		if len(state) == 0 || decodeMessage(state[1:], &pp) != nil {
			t.Fatalf("local state no longer decodes after merging %x", buf)
		}
	})
}
