package serf

import (
	"bytes"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

const snapshotTestTimeout = 5 * time.Second

// snapshotVectorDir holds snapshot files captured from a real Serf 0.10
// agent; the notes file next to them says how they were made.
const snapshotVectorDir = "../testdata/vectors/snapshot"

// snapshotLogBuffer is a goroutine-safe log destination.
type snapshotLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *snapshotLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *snapshotLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testSnapshotLogger() (*log.Logger, *snapshotLogBuffer) {
	buf := &snapshotLogBuffer{}
	return log.New(buf, "", 0), buf
}

// testSnapshotMetrics returns an isolated metrics instance and its sink.
func testSnapshotMetrics(t testing.TB) (*metrics.Metrics, *metrics.InmemSink) {
	t.Helper()
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	conf := metrics.DefaultConfig("")
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = false
	m, err := metrics.New(conf, sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m, sink
}

func snapshotSampleCount(sink *metrics.InmemSink, key string) int {
	n := 0
	for _, intv := range sink.Data() {
		if s, ok := intv.Samples[key]; ok {
			n += s.Count
		}
	}
	return n
}

func snapshotReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func snapshotWriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0644); err != nil {
		t.Fatal(err)
	}
}

func snapshotStateOf(s *Snapshotter) (map[string]string, [3]LamportTime) {
	alive := make(map[string]string)
	for _, n := range s.AliveNodes() {
		alive[n.Name] = n.Addr
	}
	return alive, [3]LamportTime{s.LastClock(), s.LastEventClock(), s.LastQueryClock()}
}

// snapshotWaitFor retries cond until it holds or the deadline passes.
func snapshotWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(snapshotTestTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// directSnapshotter opens a snapshotter without its goroutines, with a
// clock the test moves by hand, so every write can be checked in order.
type directSnapshotter struct {
	*Snapshotter
	now   time.Time
	clock *LamportClock
	log   *snapshotLogBuffer
}

func openDirectSnapshotter(t testing.TB, path string, minCompact int, rejoin bool, m *metrics.Metrics) *directSnapshotter {
	t.Helper()
	logger, logs := testSnapshotLogger()
	clock := &LamportClock{}
	s, err := openSnapshotter(path, minCompact, rejoin, logger, clock, nil, make(chan struct{}), m)
	if err != nil {
		t.Fatal(err)
	}
	d := &directSnapshotter{Snapshotter: s, now: time.Unix(1000, 0), clock: clock, log: logs}
	s.now = func() time.Time { return d.now }
	s.lastFlush = d.now
	t.Cleanup(func() { s.fh.Close() })
	return d
}

// setClock makes the member clock's last used value v.
func (d *directSnapshotter) setClock(v LamportTime) { d.clock.Witness(v) }

// flushed returns the file content after flushing the writer.
func (d *directSnapshotter) flushed(t testing.TB) string {
	t.Helper()
	if err := d.buffered.Flush(); err != nil {
		t.Fatal(err)
	}
	return snapshotReadFile(t, d.path)
}

func snapshotMemberEv(typ EventType, name string, ip net.IP, port uint16) MemberEvent {
	return MemberEvent{Type: typ, Members: []Member{{Name: name, Addr: ip, Port: port}}}
}

func TestSnapshotReplayVectors(t *testing.T) {
	if _, err := os.Stat(snapshotVectorDir); err != nil {
		t.Skipf("snapshot vectors not available: %v", err)
	}
	nodeH := map[string]string{"node-h": "127.0.0.1:19601"}
	none := map[string]string{}
	cases := []struct {
		file      string
		rejoin    bool
		wantAlive map[string]string
		// clock, event-clock, query-clock
		wantClocks [3]LamportTime
	}{
		// Before shutdown: p1 left and p2 failed, so only node-h is alive.
		{"node-h.snapshot.before-shutdown.txt", false, nodeH, [3]LamportTime{2, 1, 2}},
		{"node-h.snapshot.before-shutdown.txt", true, nodeH, [3]LamportTime{2, 1, 2}},
		// After the graceful leave: the marker clears everything, then
		// "clock: 3" follows it.
		{"node-h.snapshot.txt", false, none, [3]LamportTime{3, 0, 0}},
		// With rejoin-after-leave the marker is ignored.
		{"node-h.snapshot.txt", true, nodeH, [3]LamportTime{3, 1, 2}},
	}
	for _, tc := range cases {
		name := tc.file
		if tc.rejoin {
			name += "/rejoin"
		}
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(filepath.Join(snapshotVectorDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "snap")
			snapshotWriteFile(t, path, string(orig))

			logger, logs := testSnapshotLogger()
			shutdown := make(chan struct{})
			clock := &LamportClock{}
			_, s, err := NewSnapshotter(path, 0, tc.rejoin, logger, clock, make(chan Event, 1), shutdown, nil)
			if err != nil {
				t.Fatal(err)
			}
			alive, clocks := snapshotStateOf(s)
			close(shutdown)
			s.Wait()

			if !reflect.DeepEqual(alive, tc.wantAlive) {
				t.Errorf("alive = %v, want %v", alive, tc.wantAlive)
			}
			if clocks != tc.wantClocks {
				t.Errorf("clocks = %v, want %v", clocks, tc.wantClocks)
			}
			// Of all these lines, only an ignored leave marker is logged.
			wantLogs := ""
			if tc.rejoin && strings.Contains(string(orig), "\nleave\n") {
				wantLogs = "[INFO] serf: Ignoring previous leave in snapshot\n"
			}
			if logs.String() != wantLogs {
				t.Errorf("log output:\n%s\nwant:\n%s", logs, wantLogs)
			}
			// An unused clock writes nothing, so the file is untouched.
			if got := snapshotReadFile(t, path); got != string(orig) {
				t.Errorf("file changed by open and shutdown:\n%s", got)
			}
		})
	}
}

func TestSnapshotReplayLines(t *testing.T) {
	a := "10.0.0.1:7946"
	cases := []struct {
		name         string
		input        string
		rejoin       bool
		wantAlive    map[string]string
		wantClocks   [3]LamportTime
		wantComplete int // -1: len(input)
		wantLogs     []string
	}{
		{
			name:         "empty",
			input:        "",
			wantAlive:    map[string]string{},
			wantComplete: -1,
		},
		{
			name:         "alive and not-alive",
			input:        "alive: a 10.0.0.1:7946\nalive: b 10.0.0.2:7946\nnot-alive: b\n",
			wantAlive:    map[string]string{"a": a},
			wantComplete: -1,
		},
		{
			name:         "a later alive line replaces the address",
			input:        "alive: a 10.0.0.9:1\nalive: a 10.0.0.1:7946\n",
			wantAlive:    map[string]string{"a": a},
			wantComplete: -1,
		},
		{
			name: "names with spaces split at the last space",
			input: "alive: my node 10.0.0.1:7946\nalive:  lead space 10.0.0.1:7946\n" +
				"alive: trailing  10.0.0.1:7946\nalive: gone too 10.0.0.1:7946\nnot-alive: gone too\n",
			wantAlive:    map[string]string{"my node": a, " lead space": a, "trailing ": a},
			wantComplete: -1,
		},
		{
			name:         "IPv6 and address-less members",
			input:        "alive: v6 [fe80::1]:7946\nalive: zone [fe80::1%eth0]:1\nalive: noaddr :7946\n",
			wantAlive:    map[string]string{"v6": "[fe80::1]:7946", "zone": "[fe80::1%eth0]:1", "noaddr": ":7946"},
			wantComplete: -1,
		},
		{
			name:         "clock lines, the last one wins",
			input:        "clock: 5\nevent-clock: 7\nquery-clock: 9\nclock: 4\nevent-clock: 8\n",
			wantAlive:    map[string]string{},
			wantClocks:   [3]LamportTime{4, 8, 9},
			wantComplete: -1,
		},
		{
			name:         "final line without newline is ignored",
			input:        "alive: a 10.0.0.1:7946\nclock: 3\nalive: b 10.0.0.2:79",
			wantAlive:    map[string]string{"a": a},
			wantClocks:   [3]LamportTime{3, 0, 0},
			wantComplete: len("alive: a 10.0.0.1:7946\nclock: 3\n"),
			wantLogs:     []string{`[WARN] serf: Ignoring incomplete final snapshot line: "alive: b 10.0.0.2:79"`},
		},
		{
			name:         "comments and legacy coordinates are ignored silently",
			input:        "# written by hand\ncoordinate: {\"Vec\":[0,0]}\nalive: a 10.0.0.1:7946\n#\n",
			wantAlive:    map[string]string{"a": a},
			wantComplete: -1,
		},
		{
			name:         "unknown lines are skipped with a warning",
			input:        "bogus line\nalive: a 10.0.0.1:7946\n\nLEAVE\nleave now\n",
			wantAlive:    map[string]string{"a": a},
			wantComplete: -1,
			wantLogs: []string{
				"[WARN] serf: Unrecognized snapshot line: bogus line",
				"[WARN] serf: Unrecognized snapshot line: \n",
				"[WARN] serf: Unrecognized snapshot line: LEAVE",
				"[WARN] serf: Unrecognized snapshot line: leave now",
			},
		},
		{
			name: "garbled lines are skipped and the rest used",
			input: "alive: a 10.0.0.1:7946\n" +
				"alive: b 10.0.0.2:7946clock: 12\n" + // torn write followed by an append
				"alive: nospace\n" +
				"alive:  10.0.0.3:1\n" + // empty name
				"alive: c 10.0.0.3:notaport\n" +
				"alive: d 999.0.0.1:1\n" +
				"alive: e 10.0.0.5:70000\n" +
				"not-alive: \n" +
				"clock: abc\n" +
				"event-clock: -1\n" +
				"query-clock: 99999999999999999999999\n" +
				"clock: 6\n",
			wantAlive:    map[string]string{"a": a},
			wantClocks:   [3]LamportTime{6, 0, 0},
			wantComplete: -1,
			wantLogs: []string{
				`Skipping malformed snapshot line "alive: b 10.0.0.2:7946clock: 12"`,
				`Skipping malformed snapshot line "alive: nospace"`,
				`Skipping malformed snapshot line "alive:  10.0.0.3:1"`,
				`Skipping malformed snapshot line "alive: c 10.0.0.3:notaport"`,
				`Skipping malformed snapshot line "alive: d 999.0.0.1:1"`,
				`Skipping malformed snapshot line "alive: e 10.0.0.5:70000"`,
				`Skipping malformed snapshot line "not-alive: "`,
				`Skipping malformed snapshot line "clock: abc"`,
				`Skipping malformed snapshot line "event-clock: -1"`,
				`Skipping malformed snapshot line "query-clock: 99999999999999999999999"`,
			},
		},
		{
			name:         "leave clears members and clocks",
			input:        "alive: a 10.0.0.1:7946\nclock: 5\nevent-clock: 2\nquery-clock: 3\nleave\nclock: 6\n",
			wantAlive:    map[string]string{},
			wantClocks:   [3]LamportTime{6, 0, 0},
			wantComplete: -1,
		},
		{
			name:         "leave is ignored with rejoin after leave",
			input:        "alive: a 10.0.0.1:7946\nclock: 5\nevent-clock: 2\nquery-clock: 3\nleave\nclock: 6\n",
			rejoin:       true,
			wantAlive:    map[string]string{"a": a},
			wantClocks:   [3]LamportTime{6, 2, 3},
			wantComplete: -1,
			wantLogs:     []string{"[INFO] serf: Ignoring previous leave in snapshot"},
		},
		{
			name:         "members seen after a leave count again",
			input:        "alive: a 10.0.0.1:7946\nleave\nalive: b 10.0.0.2:7946\n",
			wantAlive:    map[string]string{"b": "10.0.0.2:7946"},
			wantComplete: -1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := testSnapshotLogger()
			st, complete, err := replaySnapshot(strings.NewReader(tc.input), tc.rejoin, logger)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st.alive, tc.wantAlive) {
				t.Errorf("alive = %q, want %q", st.alive, tc.wantAlive)
			}
			if got := [3]LamportTime{st.lastClock, st.lastEventClock, st.lastQueryClock}; got != tc.wantClocks {
				t.Errorf("clocks = %v, want %v", got, tc.wantClocks)
			}
			want := tc.wantComplete
			if want < 0 {
				want = len(tc.input)
			}
			if complete != int64(want) {
				t.Errorf("complete = %d, want %d", complete, want)
			}
			out := logs.String()
			for _, w := range tc.wantLogs {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q; log:\n%s", w, out)
				}
			}
			if got := strings.Count(out, "\n"); got != len(tc.wantLogs) {
				t.Errorf("%d log lines, want %d; log:\n%s", got, len(tc.wantLogs), out)
			}
		})
	}
}

func TestSnapshotWritesLines(t *testing.T) {
	ip := net.IPv4(10, 0, 0, 1)
	type step struct {
		clock *LamportTime // if set, witnessed on the member clock first
		event Event        // nil: a clock tick
	}
	lt := func(v LamportTime) *LamportTime { return &v }
	cases := []struct {
		name  string
		steps []step
		want  string
	}{
		{
			name: "join writes alive lines for every member, then the clock",
			steps: []step{{clock: lt(4), event: MemberEvent{Type: EventMemberJoin, Members: []Member{
				{Name: "a", Addr: ip, Port: 7946},
				{Name: "b c", Addr: net.ParseIP("::1"), Port: 8000},
			}}}},
			want: "alive: a 10.0.0.1:7946\nalive: b c [::1]:8000\nclock: 4\n",
		},
		{
			name: "leave and failed write not-alive",
			steps: []step{
				{event: snapshotMemberEv(EventMemberJoin, "a", ip, 1)},
				{event: snapshotMemberEv(EventMemberFailed, "a", ip, 1)},
				{event: snapshotMemberEv(EventMemberLeave, "a", ip, 1)}, // force-leave of a failed node
			},
			// A failure also remembers the member for the heal loop.
			want: "alive: a 10.0.0.1:1\nnot-alive: a\n# lost: a 10.0.0.1:1 1000\nnot-alive: a\n",
		},
		{
			name: "update and reap write only the clock check",
			steps: []step{
				{clock: lt(2), event: snapshotMemberEv(EventMemberUpdate, "a", ip, 1)},
				{event: snapshotMemberEv(EventMemberUpdate, "a", ip, 1)},
				{clock: lt(3), event: snapshotMemberEv(EventMemberReap, "a", ip, 1)},
			},
			want: "clock: 2\nclock: 3\n",
		},
		{
			name: "clock lines only when the clock moved past the last written value",
			steps: []step{
				{event: nil},               // clock never used: Time() is 0
				{clock: lt(0), event: nil}, // Time() 1, last used 0: nothing new
				{clock: lt(5), event: nil}, // tick
				{event: nil},               // unchanged
				{clock: lt(7), event: nil}, // tick
				{clock: lt(6), event: snapshotMemberEv(EventMemberUpdate, "a", ip, 1)}, // behind: unchanged
			},
			want: "clock: 5\nclock: 7\n",
		},
		{
			name: "user events write newer event clocks only",
			steps: []step{
				{event: coalesceUserEv("deploy", 3, "", true)},
				{event: coalesceUserEv("deploy", 2, "", false)},
				{event: coalesceUserEv("other", 3, "", false)},
				{event: coalesceUserEv("other", 4, "", false)},
			},
			want: "event-clock: 3\nevent-clock: 4\n",
		},
		{
			name: "queries write newer query clocks only",
			steps: []step{
				{event: &Query{LTime: 1, Name: "_serf_ping"}},
				{event: &Query{LTime: 2, Name: "status"}},
				{event: &Query{LTime: 2, Name: "again"}},
			},
			want: "query-clock: 1\nquery-clock: 2\n",
		},
		{
			name: "pointer member events are recorded too",
			steps: []step{
				{event: &MemberEvent{Type: EventMemberJoin, Members: []Member{{Name: "p", Addr: ip, Port: 2}}}},
			},
			want: "alive: p 10.0.0.1:2\n",
		},
		{
			name: "names with a newline are not recorded",
			steps: []step{
				{event: snapshotMemberEv(EventMemberJoin, "x 10.0.0.9:1\nleave", ip, 1)},
				{event: snapshotMemberEv(EventMemberFailed, "y\n", ip, 1)},
			},
			want: "",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := openDirectSnapshotter(t, filepath.Join(t.TempDir(), "snap"), 0, false, nil)
			for _, st := range tc.steps {
				if st.clock != nil {
					d.setClock(*st.clock)
				}
				if st.event == nil {
					d.updateClock()
				} else {
					d.processEvent(st.event)
				}
			}
			if got := d.flushed(t); got != tc.want {
				t.Errorf("file =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestSnapshotEndToEnd runs the goroutines: events are recorded in order,
// every one is forwarded in order, and shutdown leaves a complete file.
func TestSnapshotEndToEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	logger, _ := testSnapshotLogger()
	// The member clock stays unused while the events flow, so the 500ms
	// ticker cannot slip a clock line between them.
	clock := &LamportClock{}
	out := make(chan Event, 64)
	shutdown := make(chan struct{})
	in, s, err := NewSnapshotter(path, 0, false, logger, clock, out, shutdown, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cap(in) != snapshotEventChSize {
		t.Errorf("input depth %d, want %d", cap(in), snapshotEventChSize)
	}
	ip := net.IPv4(10, 0, 0, 1)
	events := []Event{
		MemberEvent{Type: EventMemberJoin, Members: []Member{
			{Name: "a", Addr: ip, Port: 7946}, {Name: "b c", Addr: net.ParseIP("::1"), Port: 8000},
		}},
		snapshotMemberEv(EventMemberUpdate, "a", ip, 7946),
		coalesceUserEv("deploy", 3, "v", true),
		coalesceUserEv("deploy", 2, "v", true),
		&Query{LTime: 4, Name: "q"},
		snapshotMemberEv(EventMemberFailed, "b c", ip, 8000),
		snapshotMemberEv(EventMemberLeave, "a", ip, 7946),
		snapshotMemberEv(EventMemberReap, "a", ip, 7946),
	}
	for _, e := range events {
		in <- e
	}
	for i, want := range events {
		got := coalesceRecv(t, out)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("forwarded event %d = %v, want %v", i, got, want)
		}
	}
	snapshotWaitFor(t, "all events to be recorded", func() bool {
		alive, clocks := snapshotStateOf(s)
		return len(alive) == 0 && clocks == [3]LamportTime{0, 3, 4}
	})
	clock.Witness(8) // written by the ticker or at shutdown, once
	close(shutdown)
	s.Wait()

	want := "alive: a 10.0.0.1:7946\nalive: b c [::1]:8000\nevent-clock: 3\n" +
		"query-clock: 4\nnot-alive: b c\nLOST\nnot-alive: a\nclock: 8\n"
	// The failure's lost line carries the wall clock time.
	lost := regexp.MustCompile(`(?m)^# lost: b c 10\.0\.0\.1:8000 [0-9]+$`)
	if got := lost.ReplaceAllString(snapshotReadFile(t, path), "LOST"); got != want {
		t.Errorf("file =\n%q\nwant\n%q", got, want)
	}

	// A restart reads it back.
	_, s2, err := NewSnapshotter(path, 0, false, logger, &LamportClock{}, nil, shutdown, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2.Wait()
	alive, clocks := snapshotStateOf(s2)
	if len(alive) != 0 || clocks != [3]LamportTime{8, 3, 4} {
		t.Errorf("replayed alive %v clocks %v", alive, clocks)
	}
}

func TestSnapshotLeave(t *testing.T) {
	cases := []struct {
		rejoin     bool
		wantAlive  []string
		wantReplay map[string]string
		wantClocks [3]LamportTime
	}{
		{rejoin: false, wantAlive: nil, wantReplay: map[string]string{}, wantClocks: [3]LamportTime{9, 0, 0}},
		{rejoin: true, wantAlive: []string{"a: 10.0.0.1:1"},
			wantReplay: map[string]string{"a": "10.0.0.1:1"}, wantClocks: [3]LamportTime{9, 2, 0}},
	}
	for _, tc := range cases {
		name := "no-rejoin"
		if tc.rejoin {
			name = "rejoin"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snap")
			logger, _ := testSnapshotLogger()
			clock := &LamportClock{} // unused until after the leave
			out := make(chan Event, 64)
			shutdown := make(chan struct{})
			in, s, err := NewSnapshotter(path, 0, tc.rejoin, logger, clock, out, shutdown, nil)
			if err != nil {
				t.Fatal(err)
			}

			in <- snapshotMemberEv(EventMemberJoin, "a", net.IPv4(10, 0, 0, 1), 1)
			in <- coalesceUserEv("deploy", 2, "", true)
			snapshotWaitFor(t, "the join and the event to be recorded", func() bool {
				return len(s.AliveNodes()) == 1 && s.LastEventClock() == 2
			})

			s.Leave()
			// The marker is on disk as soon as Leave returns.
			if got := snapshotReadFile(t, path); !strings.HasSuffix(got, "leave\n") {
				t.Fatalf("after Leave the file is %q", got)
			}
			var got []string
			for _, n := range s.AliveNodes() {
				got = append(got, n.String())
			}
			if !reflect.DeepEqual(got, tc.wantAlive) {
				t.Errorf("AliveNodes after Leave = %v, want %v", got, tc.wantAlive)
			}

			// After the marker only clock lines are written.
			in <- snapshotMemberEv(EventMemberJoin, "b", net.IPv4(10, 0, 0, 2), 2)
			in <- coalesceUserEv("late", 7, "", true)
			in <- &Query{LTime: 5, Name: "late"}
			for i := 0; i < 3; i++ {
				coalesceRecv(t, out) // still forwarded
			}
			clock.Witness(9)
			close(shutdown)
			s.Wait()

			want := "alive: a 10.0.0.1:1\nevent-clock: 2\nleave\nclock: 9\n"
			if got := snapshotReadFile(t, path); got != want {
				t.Errorf("file =\n%q\nwant\n%q", got, want)
			}

			_, s2, err := NewSnapshotter(path, 0, tc.rejoin, logger, &LamportClock{}, nil, shutdown, nil)
			if err != nil {
				t.Fatal(err)
			}
			s2.Wait()
			alive, clocks := snapshotStateOf(s2)
			if !reflect.DeepEqual(alive, tc.wantReplay) || clocks != tc.wantClocks {
				t.Errorf("replayed alive %v clocks %v, want %v %v", alive, clocks, tc.wantReplay, tc.wantClocks)
			}
		})
	}
}

func TestSnapshotLeaveAfterShutdownReturns(t *testing.T) {
	logger, _ := testSnapshotLogger()
	shutdown := make(chan struct{})
	_, s, err := NewSnapshotter(filepath.Join(t.TempDir(), "snap"), 0, false, logger, &LamportClock{}, nil, shutdown, nil)
	if err != nil {
		t.Fatal(err)
	}
	close(shutdown)
	done := make(chan struct{})
	go func() {
		s.Leave()
		s.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(snapshotTestTimeout):
		t.Fatal("Leave or Wait blocked after shutdown")
	}
}

func TestSnapshotCompaction(t *testing.T) {
	ip := net.IPv4(10, 0, 0, 1)
	cases := []struct {
		name   string
		rejoin bool
		leave  bool
		want   string
	}{
		{
			name: "alive members and all three clocks",
			want: "alive: a 10.0.0.1:1\nalive: b b 10.0.0.1:2\nclock: 4\nevent-clock: 7\nquery-clock: 0\n",
		},
		{
			name:   "never writes the leave marker",
			rejoin: true,
			leave:  true,
			want:   "alive: a 10.0.0.1:1\nalive: b b 10.0.0.1:2\nclock: 4\nevent-clock: 7\nquery-clock: 0\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, sink := testSnapshotMetrics(t)
			path := filepath.Join(t.TempDir(), "snap")
			// The threshold is max(2*128*alive, min) = 512 with two members.
			d := openDirectSnapshotter(t, path, 100, tc.rejoin, m)
			d.setClock(4)
			d.processEvent(snapshotMemberEv(EventMemberJoin, "a", ip, 1))
			d.processEvent(snapshotMemberEv(EventMemberJoin, "b b", ip, 2))
			d.processEvent(snapshotMemberEv(EventMemberJoin, "gone", ip, 3))
			d.processEvent(coalesceUserEv("deploy", 7, "", true))
			if d.maxSize() != 768 {
				t.Fatalf("maxSize = %d, want 768 with three members", d.maxSize())
			}
			// A leave, not a failure: a failed member is kept as lost.
			d.processEvent(snapshotMemberEv(EventMemberLeave, "gone", ip, 3))
			if d.maxSize() != 512 {
				t.Fatalf("maxSize = %d, want 512 with two members", d.maxSize())
			}
			if tc.leave {
				d.handleLeave()
			}
			// Clock lines keep coming after a leave, so they grow the
			// file in both cases.
			for i := LamportTime(5); d.offset <= 512; i++ {
				if i > 1000 {
					t.Fatal("no compaction")
				}
				before := d.offset
				d.setClock(i)
				d.updateClock()
				if d.offset < before {
					break // compacted
				}
			}
			// The clock line that crossed the limit is in the state, so
			// it is in the compacted file.
			want := strings.Replace(tc.want, "clock: 4\n", "clock: "+strconv.FormatUint(uint64(d.LastClock()), 10)+"\n", 1)
			if got := d.flushed(t); got != want {
				t.Errorf("compacted file =\n%q\nwant\n%q", got, want)
			}
			if d.offset != int64(len(want)) {
				t.Errorf("offset %d, want %d", d.offset, len(want))
			}
			if _, err := os.Stat(path + snapshotCompactSuffix); !os.IsNotExist(err) {
				t.Errorf("temporary file left behind: %v", err)
			}
			if n := snapshotSampleCount(sink, "serf.snapshot.compact"); n != 1 {
				t.Errorf("serf.snapshot.compact count %d, want 1", n)
			}
			if n := snapshotSampleCount(sink, "serf.snapshot.appendLine"); n == 0 {
				t.Error("no serf.snapshot.appendLine samples")
			}

			// Appends go to the new file, and it replays to the same state.
			d.processEvent(coalesceUserEv("deploy", 8, "", true))
			got := d.flushed(t)
			if tc.leave {
				if got != want {
					t.Errorf("event recorded after leave: %q", got)
				}
			} else if got != want+"event-clock: 8\n" {
				t.Errorf("after compaction the file is %q", got)
			}
			st, _, err := replaySnapshot(strings.NewReader(got), tc.rejoin, log.New(io.Discard, "", 0))
			if err != nil {
				t.Fatal(err)
			}
			alive, _ := snapshotStateOf(d.Snapshotter)
			if !reflect.DeepEqual(st.alive, alive) {
				t.Errorf("replayed alive %v, live %v", st.alive, alive)
			}
		})
	}
}

func TestSnapshotFlushInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	d := openDirectSnapshotter(t, path, 0, false, nil)
	ip := net.IPv4(10, 0, 0, 1)

	d.processEvent(snapshotMemberEv(EventMemberJoin, "a", ip, 1))
	if got := snapshotReadFile(t, path); got != "" {
		t.Fatalf("flushed before the interval: %q", got)
	}
	d.now = d.now.Add(snapshotFlushInterval) // not more than the interval
	d.processEvent(snapshotMemberEv(EventMemberJoin, "b", ip, 2))
	if got := snapshotReadFile(t, path); got != "" {
		t.Fatalf("flushed at exactly the interval: %q", got)
	}
	d.now = d.now.Add(time.Millisecond)
	d.processEvent(snapshotMemberEv(EventMemberJoin, "c", ip, 3))
	want := "alive: a 10.0.0.1:1\nalive: b 10.0.0.1:2\nalive: c 10.0.0.1:3\n"
	if got := snapshotReadFile(t, path); got != want {
		t.Fatalf("after the interval the file is %q", got)
	}

	// A line left in the buffer is flushed by the ticker once it is old.
	d.processEvent(snapshotMemberEv(EventMemberJoin, "d", ip, 4))
	d.flushIfIdle()
	if got := snapshotReadFile(t, path); got != want {
		t.Fatalf("idle flush came too early: %q", got)
	}
	d.now = d.now.Add(snapshotFlushInterval + time.Millisecond)
	d.flushIfIdle()
	if got := snapshotReadFile(t, path); got != want+"alive: d 10.0.0.1:4\n" {
		t.Fatalf("idle flush missing: %q", got)
	}
}

func TestSnapshotIncompleteFinalLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	snapshotWriteFile(t, path, "alive: a 10.0.0.1:1\nalive: b 10.0.0.2:7")
	d := openDirectSnapshotter(t, path, 0, false, nil)
	if got := d.AliveNodes(); len(got) != 1 || got[0].String() != "a: 10.0.0.1:1" {
		t.Fatalf("AliveNodes = %v", got)
	}
	if !strings.Contains(d.log.String(), "Ignoring incomplete final snapshot line") {
		t.Errorf("no warning logged: %q", d.log.String())
	}
	// The torn bytes are dropped, so the next line starts clean.
	d.processEvent(snapshotMemberEv(EventMemberJoin, "c", net.IPv4(10, 0, 0, 3), 3))
	if got, want := d.flushed(t), "alive: a 10.0.0.1:1\nalive: c 10.0.0.3:3\n"; got != want {
		t.Errorf("file = %q, want %q", got, want)
	}
}

func TestSnapshotUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	snapshotWriteFile(t, regular, "")
	cases := []struct {
		name string
		path string
	}{
		{"parent is a file", filepath.Join(regular, "snap")},
		{"missing directory", filepath.Join(dir, "missing", "snap")},
		{"path is a directory", dir},
		{"empty path", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, _ := testSnapshotLogger()
			in, s, err := NewSnapshotter(tc.path, 0, false, logger, &LamportClock{}, nil, make(chan struct{}), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if in != nil || s != nil {
				t.Error("non-nil results with an error")
			}
			if tc.path != "" && !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the path", err)
			}
		})
	}
	t.Run("nil clock", func(t *testing.T) {
		_, _, err := NewSnapshotter(filepath.Join(dir, "snap"), 0, false, nil, nil, nil, make(chan struct{}), nil)
		if err == nil {
			t.Fatal("no error")
		}
	})
}

// TestSnapshotForwardsToSlowConsumer checks the one place we differ from
// Serf on purpose: a full outCh delays events instead of dropping them.
func TestSnapshotForwardsToSlowConsumer(t *testing.T) {
	logger, _ := testSnapshotLogger()
	out := make(chan Event, 1)
	shutdown := make(chan struct{})
	in, s, err := NewSnapshotter(filepath.Join(t.TempDir(), "snap"), 0, false, logger, &LamportClock{}, out, shutdown, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(shutdown)
		s.Wait()
	}()
	const n = 200
	for i := 1; i <= n; i++ {
		in <- coalesceUserEv("e", LamportTime(i), "", false)
	}
	for i := 1; i <= n; i++ {
		got, ok := coalesceRecv(t, out).(UserEvent)
		if !ok || got.LTime != LamportTime(i) {
			t.Fatalf("event %d: got %v", i, got)
		}
	}
}

func TestSnapshotShutdownUnblocksForwarding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	logger, _ := testSnapshotLogger()
	out := make(chan Event) // never read
	shutdown := make(chan struct{})
	in, s, err := NewSnapshotter(path, 0, false, logger, &LamportClock{}, out, shutdown, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		in <- coalesceUserEv("e", LamportTime(i), "", false)
	}
	close(shutdown)
	done := make(chan struct{})
	go func() {
		s.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(snapshotTestTimeout):
		t.Fatal("Wait blocked with a stalled consumer")
	}
	// Everything queued was still recorded.
	if got := snapshotReadFile(t, path); !strings.HasSuffix(got, "event-clock: 10\n") {
		t.Errorf("file = %q", got)
	}
}

func TestSnapshotWriteErrorRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	d := openDirectSnapshotter(t, path, 0, false, nil)
	ip := net.IPv4(10, 0, 0, 1)
	d.processEvent(snapshotMemberEv(EventMemberJoin, "a", ip, 1))

	// Break the file under the writer; the next flush fails.
	d.fh.Close()
	d.now = d.now.Add(time.Second)
	d.processEvent(snapshotMemberEv(EventMemberJoin, "b", ip, 2))
	logs := d.log.String()
	if !strings.Contains(logs, "[ERR] serf: Failed to update snapshot") ||
		!strings.Contains(logs, "successfully recovered from error state") {
		t.Fatalf("no recovery logged:\n%s", logs)
	}
	want := "alive: a 10.0.0.1:1\nalive: b 10.0.0.1:2\nclock: 0\nevent-clock: 0\nquery-clock: 0\n"
	if got := d.flushed(t); got != want {
		t.Fatalf("recovered file = %q, want %q", got, want)
	}

	// A second failure within 30s is logged but not compacted again.
	d.fh.Close()
	d.now = d.now.Add(time.Second)
	d.processEvent(snapshotMemberEv(EventMemberJoin, "c", ip, 3))
	if n := strings.Count(d.log.String(), "Attempting compaction"); n != 1 {
		t.Fatalf("%d compaction attempts, want 1:\n%s", n, d.log.String())
	}
	// After the interval the next failure compacts again.
	d.now = d.now.Add(snapshotErrorRecoveryInterval + time.Second)
	d.processEvent(snapshotMemberEv(EventMemberJoin, "e", ip, 5))
	if n := strings.Count(d.log.String(), "successfully recovered"); n != 2 {
		t.Fatalf("%d recoveries, want 2:\n%s", n, d.log.String())
	}
	alive, _ := snapshotStateOf(d.Snapshotter)
	st, _, err := replaySnapshot(strings.NewReader(d.flushed(t)), false, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.alive, alive) || len(alive) != 4 {
		t.Errorf("file holds %v, live state %v", st.alive, alive)
	}
}

func TestSnapshotMetricsGlobalFallback(t *testing.T) {
	// With a nil sink the global go-metrics instance is used; that must
	// simply work (the default global discards).
	d := openDirectSnapshotter(t, filepath.Join(t.TempDir(), "snap"), 0, false, nil)
	d.processEvent(coalesceUserEv("x", 1, "", false))
	if got := d.flushed(t); got != "event-clock: 1\n" {
		t.Errorf("file = %q", got)
	}
}

func TestSnapshotPreviousNodeString(t *testing.T) {
	p := PreviousNode{Name: "node a", Addr: "[::1]:7946"}
	if got := p.String(); got != "node a: [::1]:7946" {
		t.Errorf("String() = %q", got)
	}
	if got := (&p).String(); got != "node a: [::1]:7946" {
		t.Errorf("(*PreviousNode).String() = %q", got)
	}
}

func FuzzSnapshotReplay(f *testing.F) {
	for _, name := range []string{"node-h.snapshot.txt", "node-h.snapshot.before-shutdown.txt"} {
		if b, err := os.ReadFile(filepath.Join(snapshotVectorDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("alive: a b 10.0.0.1:1\nnot-alive: a b\nleave\nclock: 3\n"))
	f.Add([]byte("alive: v6 [fe80::1%eth0]:1\n# c\ncoordinate: x\nbogus\nclock: 1"))
	f.Add([]byte("event-clock: 18446744073709551615\nquery-clock: 1\n\n\n"))
	discard := log.New(io.Discard, "", 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, rejoin := range []bool{false, true} {
			st, complete, err := replaySnapshot(bytes.NewReader(data), rejoin, discard)
			if err != nil {
				t.Fatalf("replay of in-memory data failed: %v", err)
			}
			if complete < 0 || complete > int64(len(data)) {
				t.Fatalf("complete = %d of %d bytes", complete, len(data))
			}
			if complete > 0 && data[complete-1] != '\n' {
				t.Fatalf("complete = %d does not end at a newline", complete)
			}
			if bytes.IndexByte(data[complete:], '\n') >= 0 {
				t.Fatalf("complete = %d stops before the last newline", complete)
			}
			// What compaction writes must replay to the same state.
			again, n, err := replaySnapshot(strings.NewReader(formatCompactedSnapshot(st)), rejoin, discard)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(formatCompactedSnapshot(st))) {
				t.Fatalf("compacted output has an incomplete line")
			}
			if !reflect.DeepEqual(again, st) {
				t.Fatalf("compaction round trip: %+v != %+v", again, st)
			}
		}
	})
}

func BenchmarkSnapshotAppend(b *testing.B) {
	m, _ := testSnapshotMetrics(b)
	ip := net.IPv4(10, 0, 0, 1)
	b.Run("line", func(b *testing.B) {
		d := openDirectSnapshotter(b, filepath.Join(b.TempDir(), "snap"), 1<<40, false, m)
		line := formatSnapshotAliveLine("node-0001", "10.0.0.1:7946")
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := d.appendLine(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("member-join-with-compaction", func(b *testing.B) {
		// The default threshold: compaction runs every ~128 KiB.
		d := openDirectSnapshotter(b, filepath.Join(b.TempDir(), "snap"), 0, false, m)
		ev := snapshotMemberEv(EventMemberJoin, "node-0001", ip, 7946)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d.processEvent(ev)
		}
	})
}
