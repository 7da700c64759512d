package serf

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/testutil"
)

// cluster starts n nodes on an in-memory network of their own, each with
// its own event recorder, all joined.
func cluster(t *testing.T, n int, tweak func(*Config)) ([]*Serf, []*eventRecorder) {
	t.Helper()
	return clusterOn(t, &testutil.MemNetwork{}, n, tweak)
}

// clusterOn is cluster on a given in-memory network.
func clusterOn(t *testing.T, network *testutil.MemNetwork, n int, tweak func(*Config)) ([]*Serf, []*eventRecorder) {
	t.Helper()
	nodes := make([]*Serf, n)
	recs := make([]*eventRecorder, n)
	for i := range nodes {
		conf := memConfig(t, network)
		recs[i] = newEventRecorder(t)
		conf.EventCh = recs[i].ch
		if tweak != nil {
			tweak(conf)
		}
		nodes[i] = startNode(t, conf)
		if i > 0 {
			join(t, nodes[i], nodes[0])
		}
	}
	waitMembers(t, 10*time.Second, n, nodes...)
	return nodes, recs
}

func TestSerfJoin(t *testing.T) {
	nodes, recs := cluster(t, 3, nil)
	for i, s := range nodes {
		if got := s.LocalMember(); got.Status != StatusAlive || got.DelegateCur != 4 {
			t.Errorf("node %d local member = %+v", i, got)
		}
	}
	// Every node hears member-join for every node, itself included.
	testutil.WaitFor(t, 5*time.Second, func() error {
		for i, r := range recs {
			joins := r.memberEvents(EventMemberJoin)
			for _, s := range nodes {
				if !contains(joins, s.config.NodeName) {
					return fmt.Errorf("node %d did not get member-join for %s (got %v)", i, s.config.NodeName, joins)
				}
			}
		}
		return nil
	})
	// The joiners' join intents set their status LTimes everywhere.
	stats := nodes[0].Stats()
	if stats["members"] != "3" || stats["failed"] != "0" || stats["encrypted"] != "false" {
		t.Errorf("stats = %v", stats)
	}
}

func TestSerfClusterMerge(t *testing.T) {
	network := &testutil.MemNetwork{}
	a, _ := clusterOn(t, network, 2, nil)
	b, _ := clusterOn(t, network, 2, nil)
	join(t, b[0], a[0])
	waitMembers(t, 10*time.Second, 4, append(a, b...)...)
}

func TestSerfTagsUpdate(t *testing.T) {
	nodes, recs := cluster(t, 3, func(c *Config) { c.Tags = map[string]string{"role": "web"} })
	target := nodes[2]
	for _, s := range nodes {
		for _, m := range s.Members() {
			if m.Tags["role"] != "web" {
				t.Fatalf("%s sees %s with tags %v", s.config.NodeName, m.Name, m.Tags)
			}
		}
	}
	if err := target.SetTags(map[string]string{"role": "db", "dc": "east"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		for i, s := range nodes {
			for _, m := range s.Members() {
				if m.Name == target.config.NodeName && (m.Tags["role"] != "db" || m.Tags["dc"] != "east") {
					return fmt.Errorf("node %d sees tags %v", i, m.Tags)
				}
			}
			if i != 2 && !contains(recs[i].memberEvents(EventMemberUpdate), target.config.NodeName) {
				return fmt.Errorf("node %d got no member-update", i)
			}
		}
		return nil
	})

	big := map[string]string{"x": strings.Repeat("a", 600)}
	if err := target.SetTags(big); err == nil || !strings.Contains(err.Error(), "exceeds limit of 512") {
		t.Errorf("over-size tags: err = %v", err)
	}
}

func TestSerfGracefulLeave(t *testing.T) {
	nodes, recs := cluster(t, 3, nil)
	leaver := nodes[2]
	if err := leaver.Leave(); err != nil {
		t.Fatal(err)
	}
	if st := leaver.State(); st != SerfLeft {
		t.Errorf("state after leave = %s", st)
	}
	_ = leaver.Shutdown()
	name := leaver.config.NodeName
	waitStatus(t, 10*time.Second, name, StatusLeft, nodes[0], nodes[1])
	for i := 0; i < 2; i++ {
		if !contains(recs[i].memberEvents(EventMemberLeave), name) {
			t.Errorf("node %d got no member-leave", i)
		}
		if contains(recs[i].memberEvents(EventMemberFailed), name) {
			t.Errorf("node %d saw the leaver fail", i)
		}
	}
	if err := leaver.Leave(); err == nil {
		t.Errorf("leave after shutdown succeeded")
	}
}

func TestSerfFailedThenReaped(t *testing.T) {
	nodes, recs := cluster(t, 3, func(c *Config) { c.ReconnectTimeout = time.Second })
	victim := nodes[2]
	name := victim.config.NodeName
	_ = victim.Shutdown()
	waitStatus(t, 10*time.Second, name, StatusFailed, nodes[0], nodes[1])
	testutil.WaitFor(t, 10*time.Second, func() error {
		for i := 0; i < 2; i++ {
			if !contains(recs[i].memberEvents(EventMemberReap), name) {
				return fmt.Errorf("node %d did not reap %s", i, name)
			}
			for _, m := range nodes[i].Members() {
				if m.Name == name {
					return fmt.Errorf("node %d still lists %s", i, name)
				}
			}
		}
		return nil
	})
}

func TestSerfForceLeave(t *testing.T) {
	nodes, recs := cluster(t, 4, nil)
	victim, pruned := nodes[2], nodes[3]
	_ = victim.Shutdown()
	_ = pruned.Shutdown()
	waitStatus(t, 10*time.Second, victim.config.NodeName, StatusFailed, nodes[0], nodes[1])
	waitStatus(t, 10*time.Second, pruned.config.NodeName, StatusFailed, nodes[0], nodes[1])

	if err := nodes[0].RemoveFailedNode(victim.config.NodeName); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 5*time.Second, victim.config.NodeName, StatusLeft, nodes[0], nodes[1])
	if !contains(recs[1].memberEvents(EventMemberLeave), victim.config.NodeName) {
		t.Errorf("no member-leave for the force-left node")
	}

	if err := nodes[1].RemoveFailedNodePrune(pruned.config.NodeName); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		for i := 0; i < 2; i++ {
			for _, m := range nodes[i].Members() {
				if m.Name == pruned.config.NodeName {
					return fmt.Errorf("node %d still lists the pruned node as %s", i, m.Status)
				}
			}
			if !contains(recs[i].memberEvents(EventMemberReap), pruned.config.NodeName) {
				return fmt.Errorf("node %d got no member-reap", i)
			}
		}
		return nil
	})
}

func TestSerfForceLeaveAliveIsRefuted(t *testing.T) {
	nodes, _ := cluster(t, 3, nil)
	target := nodes[2].config.NodeName
	leaveTime := nodes[0].clock.Time()
	_ = nodes[0].RemoveFailedNode(target)
	// The target refutes with a newer join intent and stays alive: every
	// node ends with the target alive at a status time past the leave.
	testutil.WaitFor(t, 10*time.Second, func() error {
		for _, n := range nodes {
			n.memberLock.RLock()
			ms := n.members[target]
			st, lt := ms.Status, ms.statusLTime
			n.memberLock.RUnlock()
			if st != StatusAlive || lt <= leaveTime {
				return fmt.Errorf("%s sees the target %s at LTime %d, want alive after %d", n.config.NodeName, st, lt, leaveTime)
			}
		}
		return nil
	})
}

func TestSerfUserEventsExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		coalesce bool
		tweak    func(*Config)
	}{
		{"plain", false, nil},
		{"coalesce-flag-without-coalescer", true, nil},
		{"coalescer-on-but-cc-false", false, func(c *Config) {
			c.UserCoalescePeriod, c.UserQuiescentPeriod = 200*time.Millisecond, 50*time.Millisecond
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes, recs := cluster(t, 4, tc.tweak)
			const n = 10
			for i := 0; i < n; i++ {
				src := nodes[i%len(nodes)]
				if err := src.UserEvent("deploy", []byte(fmt.Sprintf("v%d", i)), tc.coalesce); err != nil {
					t.Fatal(err)
				}
			}
			testutil.WaitFor(t, 10*time.Second, func() error {
				for i, r := range recs {
					if got := len(r.userEvents()); got < n {
						return fmt.Errorf("node %d got %d of %d events", i, got, n)
					}
				}
				return nil
			})
			// Let re-gossip finish and force a push-pull between every
			// pair of neighbours, each a chance to deliver a duplicate.
			waitBroadcastsSent(t, nodes...)
			// The joiner merges the state it gets before Join returns, so
			// a barrier event it sends next reaches its recorder after any
			// duplicate the merge delivered.
			for i, n := range nodes {
				if _, err := n.memberlist.Join([]string{addrOf(nodes[(i+1)%len(nodes)])}); err != nil {
					t.Fatalf("push-pull from node %d: %v", i, err)
				}
				if err := n.UserEvent("barrier", []byte(n.config.NodeName), false); err != nil {
					t.Fatal(err)
				}
			}
			testutil.WaitFor(t, 10*time.Second, func() error {
				for i, r := range recs {
					found := false
					for _, e := range r.userEvents() {
						found = found || e.Name == "barrier" && string(e.Payload) == nodes[i].config.NodeName
					}
					if !found {
						return fmt.Errorf("node %d has not seen its own barrier", i)
					}
				}
				return nil
			})
			for i, r := range recs {
				seen := map[string]int{}
				for _, e := range r.userEvents() {
					if e.Name != "deploy" {
						continue
					}
					seen[string(e.Payload)]++
					// Push-pull does not carry the flag, so an event
					// learned that way arrives with Coalesce=false.
					if e.Coalesce && !tc.coalesce {
						t.Errorf("node %d: coalesce flag set on a plain event", i)
					}
				}
				for p, c := range seen {
					if c != 1 {
						t.Errorf("node %d got %q %d times", i, p, c)
					}
				}
				if len(seen) != n {
					t.Errorf("node %d got %d distinct events", i, len(seen))
				}
			}
		})
	}
}

func TestSerfUserEventsCoalesced(t *testing.T) {
	nodes, recs := cluster(t, 3, func(c *Config) {
		c.UserCoalescePeriod, c.UserQuiescentPeriod = 2*time.Second, 300*time.Millisecond
	})
	for i := 0; i < 5; i++ {
		if err := nodes[0].UserEvent("deploy", []byte(fmt.Sprintf("v%d", i)), true); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		for i, r := range recs {
			ev := r.userEvents()
			if len(ev) == 0 {
				return fmt.Errorf("node %d has no events yet", i)
			}
		}
		return nil
	})
	// Once gossip is done, anything more would come from a second window,
	// which would close one quiescent period after its first event.
	waitBroadcastsSent(t, nodes...)
	time.Sleep(600 * time.Millisecond)
	for i, r := range recs {
		ev := r.userEvents()
		// All five came from one sender in one window: only the newest
		// LTime survives coalescing.
		if len(ev) != 1 || string(ev[0].Payload) != "v4" {
			t.Errorf("node %d got %d events: %+v", i, len(ev), ev)
		}
	}
}

func TestSerfUserEventSizeLimits(t *testing.T) {
	conf := memConfig(t, &testutil.MemNetwork{})
	s := startNode(t, conf)
	cases := []struct {
		name, payload string
		want          string
	}{
		{"ok", "small", ""},
		{"before-encoding", strings.Repeat("x", 600), "user event exceeds configured limit of 512 bytes before encoding"},
		{"after-encoding", strings.Repeat("x", 490), "encoded user event exceeds configured limit of 512 bytes after encoding"},
	}
	for _, tc := range cases {
		err := s.UserEvent("dep", []byte(tc.payload), false)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	conf2 := testConfig(t)
	conf2.UserEventSizeLimit = 10000
	if _, err := Create(conf2); err == nil {
		t.Errorf("a limit above 9216 was accepted")
	}
}

func TestSerfQueryAllMembers(t *testing.T) {
	nodes, _ := cluster(t, 4, func(c *Config) { c.Tags = map[string]string{"role": "web"} })
	if err := nodes[3].SetTags(map[string]string{"role": "db"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		for _, m := range nodes[0].Members() {
			if m.Name == nodes[3].config.NodeName && m.Tags["role"] != "db" {
				return fmt.Errorf("tag not yet seen")
			}
		}
		return nil
	})
	names := func(ns ...*Serf) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.config.NodeName)
		}
		return out
	}
	cases := []struct {
		name   string
		params QueryParam
		want   []string
	}{
		{"all", QueryParam{RequestAck: true}, names(nodes...)},
		{"node-filter", QueryParam{RequestAck: true, FilterNodes: names(nodes[1], nodes[2])}, names(nodes[1], nodes[2])},
		{"tag-filter", QueryParam{RequestAck: true, FilterTags: map[string]string{"role": "^db$"}}, names(nodes[3])},
		{"unanchored-tag", QueryParam{FilterTags: map[string]string{"role": "w"}}, names(nodes[0], nodes[1], nodes[2])},
		{"relay", QueryParam{RequestAck: true, RelayFactor: 2}, names(nodes...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.params
			if p.Timeout == 0 {
				p.Timeout = 5 * time.Second
			}
			resp, err := nodes[0].Query("echo-"+tc.name, []byte("ping"), &p)
			if err != nil {
				t.Fatal(err)
			}
			var acks, froms []string
			ackCh := resp.AckCh()
			respCh := resp.ResponseCh()
			// Stop shortly after every expected answer is in, leaving
			// time for unexpected ones to show up.
			var settle <-chan time.Time
			for ackCh != nil || respCh != nil {
				if settle == nil && len(tc.want) > 0 && sameSet(froms, tc.want) && (!p.RequestAck || sameSet(acks, tc.want)) {
					settle = time.After(300 * time.Millisecond)
				}
				select {
				case <-settle:
					ackCh, respCh = nil, nil
					continue
				case a, ok := <-ackCh:
					if !ok {
						ackCh = nil
						continue
					}
					acks = append(acks, a)
				case r, ok := <-respCh:
					if !ok {
						respCh = nil
						continue
					}
					if !bytes.Equal(r.Payload, []byte("re:ping")) {
						t.Errorf("response from %s = %q", r.From, r.Payload)
					}
					froms = append(froms, r.From)
				}
			}
			if !sameSet(froms, tc.want) {
				t.Errorf("responses from %v, want %v", froms, tc.want)
			}
			if p.RequestAck && !sameSet(acks, tc.want) {
				t.Errorf("acks from %v, want %v", acks, tc.want)
			}
		})
	}
}

func TestSerfQueryLimits(t *testing.T) {
	network := &testutil.MemNetwork{}
	s := startNode(t, memConfig(t, network))
	if _, err := s.Query("q", nil, &QueryParam{FilterTags: map[string]string{"role": "("}}); err == nil ||
		!strings.Contains(err.Error(), `invalid tag filter for "role"`) {
		t.Errorf("bad tag regex: %v", err)
	}
	if _, err := s.Query("big", bytes.Repeat([]byte("x"), 2000), nil); err == nil ||
		err.Error() != "query exceeds limit of 1024 bytes" {
		t.Errorf("over-size query: %v", err)
	}
	conf := memConfig(t, network)
	conf.ProtocolVersion = 3
	old := startNode(t, conf)
	if _, err := old.Query("q", nil, nil); err != ErrFeatureNotSupported {
		t.Errorf("protocol 3 query: %v", err)
	}
	if got := s.DefaultQueryTimeout(); got != 16*conf.MemberlistConfig.GossipInterval {
		t.Errorf("default timeout for one node = %v", got)
	}
}

func TestSerfNameConflict(t *testing.T) {
	network := &testutil.MemNetwork{}
	nodes, _ := clusterOn(t, network, 3, nil)
	conf := memConfig(t, network)
	conf.NodeName = nodes[1].config.NodeName
	dup := startNode(t, conf)
	_, _ = dup.Join([]string{addrOf(nodes[0])}, false)
	select {
	case <-dup.ShutdownCh():
	case <-time.After(15 * time.Second):
		t.Fatalf("the newcomer with a duplicate name did not shut down")
	}
	if nodes[1].State() != SerfAlive {
		t.Errorf("the original holder of the name is %s", nodes[1].State())
	}
}

func TestSerfProtocol2Tags(t *testing.T) {
	nodes, _ := cluster(t, 2, func(c *Config) {
		c.ProtocolVersion = 2
		c.Tags = map[string]string{"role": "legacy", "x": "y"}
	})
	for _, m := range nodes[0].Members() {
		if len(m.Tags) != 1 || m.Tags["role"] != "legacy" {
			t.Errorf("protocol 2 tags of %s = %v", m.Name, m.Tags)
		}
	}
}

func TestSerfBadGossipNeverPanics(t *testing.T) {
	s := startNode(t, memConfig(t, &testutil.MemNetwork{}))
	d := &delegate{serf: s}
	inputs := [][]byte{
		nil, {}, {0}, {1}, {3, 0xc1}, {4, 0x85}, {5, 0xff, 0xff}, {9}, {9, 0x82},
		{2, 0x80}, {6, 0xc0}, {7}, {8}, {200, 1, 2, 3},
		append([]byte{byte(messageUserEventType)}, bytes.Repeat([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, 4)...),
	}
	for _, in := range inputs {
		d.NotifyMsg(in)
		d.MergeRemoteState(in, false)
	}
	// Serf 0.10 crashes on an empty-payload key query; ours answers it.
	for _, name := range []string{"install-key", "use-key", "remove-key", "list-keys", "bogus"} {
		q := &Query{Name: internalQueryName(name), serf: s, addr: []byte{127, 0, 0, 1}, port: 1, deadline: time.Now().Add(time.Second)}
		s.handleInternalQuery(q)
	}
	if s.State() != SerfAlive {
		t.Errorf("state after garbage = %s", s.State())
	}
}

func TestSerfKeyQueriesWithoutEncryption(t *testing.T) {
	nodes, _ := cluster(t, 2, nil)
	resp, err := nodes[0].KeyManager().ListKeys()
	if err == nil || err.Error() != "2/2 nodes reported failure" {
		t.Fatalf("list keys without encryption: %v", err)
	}
	for node, msg := range resp.Messages {
		if msg != "Keyring is empty (encryption not enabled)" {
			t.Errorf("%s: %q", node, msg)
		}
	}
	if _, err := nodes[0].KeyManager().InstallKey("not base64!"); err == nil {
		t.Errorf("a malformed key was accepted")
	}
}

// waitBroadcastsSent waits until no node has a user event or query left
// to gossip.
func waitBroadcastsSent(t *testing.T, nodes ...*Serf) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() error {
		for _, n := range nodes {
			if q := n.eventBroadcasts.NumQueued() + n.queryBroadcasts.NumQueued(); q > 0 {
				return fmt.Errorf("%s still has %d broadcasts queued", n.config.NodeName, q)
			}
		}
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, c := range seen {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestSerfConcurrentQueries(t *testing.T) {
	nodes, _ := cluster(t, 2, nil)
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func(i int) {
			_, err := nodes[i%2].Query(fmt.Sprintf("echo-%d", i), nil, &QueryParam{Timeout: 500 * time.Millisecond})
			errs <- err
		}(i)
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent query: %v", err)
		}
	}
}

// TestSerfTenNodeChurn runs a 10-member cluster through churn: two members
// leave, two fail, one of the failed comes back, and every survivor ends
// with the same view.
func TestSerfTenNodeChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	network := &testutil.MemNetwork{}
	nodes, recs := clusterOn(t, network, 10, nil)
	for _, n := range nodes[8:] {
		if err := n.Leave(); err != nil {
			t.Fatal(err)
		}
		_ = n.Shutdown()
	}
	for _, n := range nodes[6:8] {
		_ = n.Shutdown()
	}
	survivors := nodes[:6]
	for _, n := range nodes[8:] {
		waitStatus(t, 15*time.Second, n.config.NodeName, StatusLeft, survivors...)
	}
	for _, n := range nodes[6:8] {
		waitStatus(t, 15*time.Second, n.config.NodeName, StatusFailed, survivors...)
	}

	// node 6 comes back on a fresh instance with its old name and address.
	conf := testConfig(t)
	conf.NodeName = nodes[6].config.NodeName
	tr, err := network.NewTransportAt(addrOf(nodes[6]))
	if err != nil {
		t.Fatal(err)
	}
	conf.MemberlistConfig.Transport = tr
	back := startNode(t, conf)
	join(t, back, survivors[0])
	waitStatus(t, 20*time.Second, conf.NodeName, StatusAlive, survivors...)

	// A user event from a survivor reaches every live member once.
	if err := survivors[3].UserEvent("after-churn", []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		for i, r := range recs[:6] {
			n := 0
			for _, e := range r.userEvents() {
				if e.Name == "after-churn" {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("survivor %d saw the event %d times", i, n)
			}
		}
		return nil
	})
	// Every survivor ends up with the same view (gossip may need a few
	// more rounds to tell the last of them that node 6 is back).
	testutil.WaitFor(t, 15*time.Second, func() error {
		want := map[string]MemberStatus{}
		for _, m := range survivors[0].Members() {
			want[m.Name] = m.Status
		}
		for _, s := range survivors[1:] {
			for _, m := range s.Members() {
				if want[m.Name] != m.Status {
					return fmt.Errorf("%s sees %s as %s, survivor 0 as %s", s.config.NodeName, m.Name, m.Status, want[m.Name])
				}
			}
		}
		return nil
	})
}

func TestSerfListKeysTruncated(t *testing.T) {
	keys := make([][]byte, 60)
	for i := range keys {
		keys[i] = bytes.Repeat([]byte{byte(i)}, 32)
	}
	conf := memConfig(t, &testutil.MemNetwork{})
	kr, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	conf.MemberlistConfig.Keyring = kr
	s := startNode(t, conf)
	resp, err := s.KeyManager().ListKeys()
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	msg := resp.Messages[conf.NodeName]
	var shown, total int
	if _, err := fmt.Sscanf(msg, "truncated key list response, showing first %d of %d keys", &shown, &total); err != nil {
		t.Fatalf("message %q: %v", msg, err)
	}
	if total != 60 || shown < 10 || shown > 40 || len(resp.Keys) != shown {
		t.Errorf("shown %d of %d, %d keys returned", shown, total, len(resp.Keys))
	}
	if resp.PrimaryKeys[base64.StdEncoding.EncodeToString(keys[0])] != 1 {
		t.Errorf("primary keys = %v", resp.PrimaryKeys)
	}
}
