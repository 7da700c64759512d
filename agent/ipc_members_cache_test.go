package agent

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/testutil"
)

// TestMembersReplyCache checks that the cached body is byte for byte the
// encoding of a fresh reply (members by name, tag keys sorted), is reused
// while the member table is unchanged, and is rebuilt when it changes.
func TestMembersReplyCache(t *testing.T) {
	node := startTestNode(t, testAgentOptions{name: "cache-a", tags: map[string]string{"role": "web", "dc": "east", "rack": "r1"}})
	s := node.agent.Serf()
	handle := newIPCHandle()
	handle.Canonical = true
	var cache membersReplyCache

	first, err := cache.get(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := encodeIPCBody(handle, &ipcMembersResponse{Members: toIPCMembers(sortedByName(s.Members()))})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, want) {
		t.Fatalf("cached body differs from a fresh encoding:\n%x\n%x", first, want)
	}
	again, err := cache.get(s)
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
		body, err := cache.get(s)
		if err != nil {
			return err
		}
		if !bytes.Contains(body, []byte("db")) {
			return errString("cached body still has the old tags")
		}
		return nil
	})
}

// TestMembersReplyOrder checks that a members reply lists members by name
// with their tags in key order, that a filtered listing is in name order
// too, and that a rebuild of an unchanged table gives the same bytes.
func TestMembersReplyOrder(t *testing.T) {
	tags := map[string]string{"zone": "z1", "role": "web", "dc": "east", "az": "a", "rack": "r9"}
	a := startTestNode(t, testAgentOptions{name: "order-m", tags: tags})
	for _, name := range []string{"order-z", "order-b", "order-q"} {
		o := startTestNode(t, testAgentOptions{name: name, tags: tags})
		if _, err := o.agent.Serf().Join([]string{a.gossipAddr}, false); err != nil {
			t.Fatalf("join %s: %v", name, err)
		}
	}
	s := a.agent.Serf()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if n := len(s.Members()); n != 4 {
			return fmt.Errorf("%d members, want 4", n)
		}
		return nil
	})

	var cache membersReplyCache
	first, err := cache.get(s)
	if err != nil {
		t.Fatal(err)
	}
	var reply ipcMembersResponse
	if err := codec.NewDecoderBytes(first, newIPCHandle()).Decode(&reply); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range reply.Members {
		names = append(names, m.Name)
	}
	if want := []string{"order-b", "order-m", "order-q", "order-z"}; !slices.Equal(names, want) {
		t.Errorf("members in order %v, want %v", names, want)
	}
	// Tag keys are sorted inside each member's map.
	keys := []byte("\xa2az\xa1a\xa2dc\xa4east\xa4rack\xa2r9\xa4role\xa3web\xa4zone\xa2z1")
	if n := bytes.Count(first, keys); n != 4 {
		t.Errorf("%d members with their tag keys in order, want 4", n)
	}

	// The filtered listing (what `serf members` asks for, and the HTTP
	// API's) comes in the same order.
	filtered, err := filterMembers(s.Members(), map[string]string{"role": "web"}, "alive", "order-.*")
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, m := range filtered {
		names = append(names, m.Name)
	}
	if want := []string{"order-b", "order-m", "order-q", "order-z"}; !slices.Equal(names, want) {
		t.Errorf("filtered members in order %v, want %v", names, want)
	}

	// A rebuild forced by a write section that changed nothing (the
	// version moves) yields the same bytes, not just the same members.
	for i := 0; i < 5; i++ {
		cache.valid = false
		again, err := cache.get(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatalf("rebuild %d of an unchanged table gave other bytes", i)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
