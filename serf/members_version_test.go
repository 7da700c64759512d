package serf

import (
	"testing"
)

// TestMembersVersionMovesOnChange checks that each kind of change to the
// member table moves the version, and that reads do not.
func TestMembersVersionMovesOnChange(t *testing.T) {
	cases := []struct {
		name   string
		change func(s *Serf)
	}{
		{"join", func(s *Serf) { s.handleNodeJoin(testNode(2)) }},
		{"failed", func(s *Serf) { s.handleNodeLeave(testNode(1)) }},
		{"update", func(s *Serf) {
			n := testNode(1)
			n.Meta, _ = encodeTags(map[string]string{"role": "db"}, 5)
			s.handleNodeUpdate(n)
		}},
		{"leave-intent", func(s *Serf) {
			s.handleNodeLeaveIntent(&messageLeave{LTime: 50, Node: testNode(1).Name})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := benchSerf(t)
			s.handleNodeJoin(testNode(1))
			members, v := s.MembersWithVersion()
			if len(members) != 1 || v != s.MembersVersion() {
				t.Fatalf("MembersWithVersion = %d members at %d, MembersVersion %d", len(members), v, s.MembersVersion())
			}
			_ = s.Members()
			_ = memberStatus(s, testNode(1).Name)
			if got := s.MembersVersion(); got != v {
				t.Fatalf("reads moved the version from %d to %d", v, got)
			}
			tc.change(s)
			if got := s.MembersVersion(); got == v {
				t.Errorf("version still %d after %s", got, tc.name)
			}
		})
	}
}
