package serf

import (
	"testing"

	"github.com/hashicorp/memberlist"
)

// recordingMerge is a MergeDelegate that accepts everyone and keeps what
// it was shown.
type recordingMerge struct{ seen []*Member }

func (r *recordingMerge) NotifyMerge(members []*Member) error {
	r.seen = append(r.seen, members...)
	return nil
}

// TestMergeDelegatePassesUndecodableTags checks that a peer whose tags do
// not decode reaches the program's hook instead of being vetoed.
func TestMergeDelegatePassesUndecodableTags(t *testing.T) {
	good, err := encodeTags(map[string]string{"role": "web"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		meta []byte
	}{
		{"good", good},
		{"garbled-map", []byte{tagMagicByte, 0x82, 0xa1, 'a'}},
		{"wrong-type", []byte{tagMagicByte, 0x93, 1, 2, 3}},
		{"truncated", good[:len(good)-2]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := benchSerf(t)
			hook := &recordingMerge{}
			s.config.Merge = hook
			md := &mergeDelegate{serf: s}
			n := &memberlist.Node{Name: "peer", Addr: []byte{127, 0, 0, 1}, Port: 7946, Meta: tc.meta}
			if err := md.NotifyMerge([]*memberlist.Node{n}); err != nil {
				t.Errorf("NotifyMerge vetoed the peer: %v", err)
			}
			if err := md.NotifyAlive(n); err != nil {
				t.Errorf("NotifyAlive vetoed the peer: %v", err)
			}
			if len(hook.seen) != 2 || hook.seen[0].Name != "peer" || hook.seen[0].Tags == nil {
				t.Errorf("hook saw %+v", hook.seen)
			}
		})
	}
}
