package agent

import (
	"bytes"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// TestMembersReplyCache checks that the cached body is byte for byte the
// encoding of a fresh reply, is reused while the member table is
// unchanged, and is rebuilt when it changes.
func TestMembersReplyCache(t *testing.T) {
	node := startTestNode(t, testAgentOptions{name: "cache-a", tags: map[string]string{"role": "web"}})
	s := node.agent.Serf()
	handle := newIPCHandle()
	var cache membersReplyCache

	first, err := cache.get(s, handle)
	if err != nil {
		t.Fatal(err)
	}
	want, err := encodeIPCBody(handle, &ipcMembersResponse{Members: toIPCMembers(s.Members())})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, want) {
		t.Fatalf("cached body differs from a fresh encoding:\n%x\n%x", first, want)
	}
	again, err := cache.get(s, handle)
	if err != nil {
		t.Fatal(err)
	}
	if &again[0] != &first[0] {
		t.Errorf("unchanged member table: body was rebuilt")
	}

	if err := s.SetTags(map[string]string{"role": "db"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		body, err := cache.get(s, handle)
		if err != nil {
			return err
		}
		if !bytes.Contains(body, []byte("db")) {
			return errString("cached body still has the old tags")
		}
		return nil
	})
}

type errString string

func (e errString) Error() string { return string(e) }
