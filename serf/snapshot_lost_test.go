package serf

import (
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSnapshotLostLines(t *testing.T) {
	cases := []struct {
		name   string
		lines  string
		rejoin bool
		want   []LostPeer
		warn   string
	}{
		{
			name:  "a lost line with a name with spaces",
			lines: "# lost: b c 10.0.0.1:8000 1700000000\n",
			want:  []LostPeer{{Name: "b c", Addr: "10.0.0.1:8000", LastSeen: time.Unix(1700000000, 0)}},
		},
		{
			name:  "IPv6",
			lines: "# lost: v6 [::1]:7946 5\n",
			want:  []LostPeer{{Name: "v6", Addr: "[::1]:7946", LastSeen: time.Unix(5, 0)}},
		},
		{
			name:  "a later alive line removes it",
			lines: "# lost: a 10.0.0.1:1 5\nalive: a 10.0.0.1:1\n",
			want:  []LostPeer{},
		},
		{
			name:  "a later not-alive line (a leave) removes it",
			lines: "# lost: a 10.0.0.1:1 5\nnot-alive: a\n",
			want:  []LostPeer{},
		},
		{
			name:  "not-alive then lost, as a failure writes them, keeps it",
			lines: "alive: a 10.0.0.1:1\nnot-alive: a\n# lost: a 10.0.0.1:1 5\n",
			want:  []LostPeer{{Name: "a", Addr: "10.0.0.1:1", LastSeen: time.Unix(5, 0)}},
		},
		{
			name:  "this node's leave forgets them",
			lines: "# lost: a 10.0.0.1:1 5\nleave\n",
			want:  []LostPeer{},
		},
		{
			name:   "unless rejoin after leave",
			lines:  "# lost: a 10.0.0.1:1 5\nleave\n",
			rejoin: true,
			want:   []LostPeer{{Name: "a", Addr: "10.0.0.1:1", LastSeen: time.Unix(5, 0)}},
		},
		{
			name:  "garbled lost lines are skipped",
			lines: "# lost: a 10.0.0.1:1 x\n# lost: a 10.0.0.1 5\n# lost:  10.0.0.1:1 5\n# lost: 5\n# lost: a 10.0.0.1:1 -3\n",
			want:  []LostPeer{},
			warn:  "Skipping malformed snapshot line",
		},
		{
			name:  "other comments stay comments",
			lines: "# lost\n#lost: a 10.0.0.1:1 5\n",
			want:  []LostPeer{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snap")
			snapshotWriteFile(t, path, tc.lines)
			d := openDirectSnapshotter(t, path, 0, tc.rejoin, nil)
			if got := d.LostNodes(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("lost = %v, want %v", got, tc.want)
			}
			if tc.warn != "" && !strings.Contains(d.log.String(), tc.warn) {
				t.Errorf("log lacks %q:\n%s", tc.warn, d.log.String())
			}
			if strings.Contains(d.log.String(), "Unrecognized snapshot line") {
				t.Errorf("lost lines reported as unrecognized:\n%s", d.log.String())
			}
		})
	}
}

// TestSnapshotLostRoundTrip: failures are written, survive compaction and
// a restart; leaves and rejoins drop them.
func TestSnapshotLostRoundTrip(t *testing.T) {
	ip := net.IPv4(10, 0, 0, 1)
	path := filepath.Join(t.TempDir(), "snap")
	d := openDirectSnapshotter(t, path, 0, false, nil)
	for _, e := range []MemberEvent{
		snapshotMemberEv(EventMemberJoin, "a", ip, 1),
		snapshotMemberEv(EventMemberJoin, "b", ip, 2),
		snapshotMemberEv(EventMemberJoin, "c", ip, 3),
		snapshotMemberEv(EventMemberJoin, "d", ip, 4),
		snapshotMemberEv(EventMemberFailed, "a", ip, 1),
		snapshotMemberEv(EventMemberFailed, "b", ip, 2),
		snapshotMemberEv(EventMemberReap, "b", ip, 2),
		snapshotMemberEv(EventMemberFailed, "c", ip, 3),
		snapshotMemberEv(EventMemberLeave, "c", ip, 3), // force-left
		snapshotMemberEv(EventMemberLeave, "d", ip, 4), // left gracefully
	} {
		d.processEvent(e)
	}
	want := []LostPeer{
		{Name: "a", Addr: "10.0.0.1:1", LastSeen: time.Unix(1000, 0)},
		{Name: "b", Addr: "10.0.0.1:2", LastSeen: time.Unix(1000, 0)},
	}
	if got := d.LostNodes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("in memory lost = %v, want %v", got, want)
	}
	d.flushed(t)

	reopen := func(what string) {
		t.Helper()
		d.fh.Close()
		d2 := openDirectSnapshotter(t, path, 0, false, nil)
		if got := d2.LostNodes(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: replayed lost = %v, want %v\nfile:\n%s", what, got, want, snapshotReadFile(t, path))
		}
		d = d2
	}
	reopen("appended file")

	if err := d.compact(); err != nil {
		t.Fatal(err)
	}
	content := snapshotReadFile(t, path)
	wantFile := "# lost: a 10.0.0.1:1 1000\n# lost: b 10.0.0.1:2 1000\n" +
		"clock: 0\nevent-clock: 0\nquery-clock: 0\n"
	if content != wantFile {
		t.Errorf("compacted file =\n%q\nwant\n%q", content, wantFile)
	}
	reopen("compacted file")

	// The limits bound the set by capacity (oldest go) and window.
	d.state.lost["old"] = lostRecord{addr: "10.0.0.1:9", seen: 10}
	d.SetLostLimits(2, 0)
	if got := d.LostNodes(); !reflect.DeepEqual(got, want) {
		t.Errorf("capacity 2 kept %v, want %v", got, want)
	}
	d.SetLostLimits(10, time.Minute) // d.now is 1000s: cutoff 940s
	if got := d.LostNodes(); !reflect.DeepEqual(got, want) {
		t.Errorf("window kept %v, want %v", got, want)
	}
	d.now = time.Unix(1061, 0)
	d.SetLostLimits(10, time.Minute)
	if got := d.LostNodes(); len(got) != 0 {
		t.Errorf("window of 1m at 61s later kept %v", got)
	}

	// This node's leave forgets them in memory too.
	d.state.lost["a"] = lostRecord{addr: "10.0.0.1:1", seen: 1000}
	d.handleLeave()
	if got := d.LostNodes(); len(got) != 0 {
		t.Errorf("after leave lost = %v, want none", got)
	}
}

// TestSnapshotForgetLost: the forget event removes a lost member with a
// not-alive line, and is not forwarded.
func TestSnapshotForgetLost(t *testing.T) {
	ip := net.IPv4(10, 0, 0, 1)
	path := filepath.Join(t.TempDir(), "snap")
	d := openDirectSnapshotter(t, path, 0, false, nil)
	d.processEvent(snapshotMemberEv(EventMemberFailed, "a", ip, 1))
	d.processEvent(forgetLostEvent{name: "a"})
	d.processEvent(forgetLostEvent{name: "never-lost"}) // writes nothing
	if got := d.LostNodes(); len(got) != 0 {
		t.Errorf("lost = %v, want none", got)
	}
	if got, want := d.flushed(t), "not-alive: a\n# lost: a 10.0.0.1:1 1000\nnot-alive: a\n"; got != want {
		t.Errorf("file =\n%q\nwant\n%q", got, want)
	}
	out := make(chan Event, 1)
	d.outCh = out
	if !d.forwardIfRoom(forgetLostEvent{name: "a"}) || len(out) != 0 {
		t.Errorf("forget event forwarded")
	}
}
