package serf

import (
	"fmt"
	"net"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

// coalesceTestTimeout bounds every wait in these tests.
const coalesceTestTimeout = 5 * time.Second

func coalesceTestMember(name string) Member {
	return Member{Name: name, Addr: net.IPv4(10, 0, 0, 1), Port: 7946, Status: StatusAlive}
}

func coalesceMemberEv(typ EventType, names ...string) MemberEvent {
	e := MemberEvent{Type: typ}
	for _, n := range names {
		e.Members = append(e.Members, coalesceTestMember(n))
	}
	return e
}

func coalesceUserEv(name string, ltime LamportTime, payload string, cc bool) UserEvent {
	return UserEvent{LTime: ltime, Name: name, Payload: []byte(payload), Coalesce: cc}
}

// coalesceFlushAll runs one Flush and returns what it emits.
func coalesceFlushAll(c coalescer) []Event { return c.Flush() }

// startCoalesceLoop starts a coalescing stage on a goroutine the test
// owns; the stage's done channel tells when it has stopped.
func startCoalesceLoop(outCh chan<- Event, shutdownCh <-chan struct{},
	cPeriod, qPeriod time.Duration, c coalescer, newTimer windowTimerFunc) *coalesceLoop {
	l := newCoalesceLoop(outCh, shutdownCh, cPeriod, qPeriod, c, newTimer)
	go l.run()
	return l
}

// coalesceDescribe renders events compactly for failure messages.
func coalesceDescribe(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		switch v := e.(type) {
		case MemberEvent:
			names := make([]string, 0, len(v.Members))
			for _, m := range v.Members {
				names = append(names, m.Name)
			}
			out = append(out, fmt.Sprintf("%s%v", v.Type, names))
		case UserEvent:
			out = append(out, fmt.Sprintf("user:%s@%d:%s:cc=%v", v.Name, v.LTime, v.Payload, v.Coalesce))
		default:
			out = append(out, e.String())
		}
	}
	return out
}

func TestMemberEventCoalescer(t *testing.T) {
	type window struct {
		in   []Event
		want []string // coalesceDescribe of the flush
	}
	cases := []struct {
		name    string
		windows []window
	}{
		{
			name: "join then leave of the same node leaves only the leave",
			windows: []window{
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a"), coalesceMemberEv(EventMemberLeave, "a")},
					want: []string{"member-leave[a]"}},
			},
		},
		{
			name: "repeated join after a flushed join is suppressed",
			windows: []window{
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a")}, want: []string{"member-join[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a")}, want: nil},
			},
		},
		{
			name: "leave and rejoin within a window after a flushed join is suppressed",
			windows: []window{
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a")}, want: []string{"member-join[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberLeave, "a"), coalesceMemberEv(EventMemberJoin, "a")}, want: nil},
			},
		},
		{
			name: "updates are always delivered",
			windows: []window{
				{in: []Event{coalesceMemberEv(EventMemberUpdate, "a")}, want: []string{"member-update[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberUpdate, "a")}, want: []string{"member-update[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberUpdate, "a"), coalesceMemberEv(EventMemberUpdate, "a")},
					want: []string{"member-update[a]"}},
			},
		},
		{
			name: "grouped into one event per type in a fixed order",
			windows: []window{
				{in: []Event{
					coalesceMemberEv(EventMemberReap, "r"),
					coalesceMemberEv(EventMemberFailed, "c"),
					coalesceMemberEv(EventMemberJoin, "a", "b"),
					coalesceMemberEv(EventMemberUpdate, "u"),
					coalesceMemberEv(EventMemberLeave, "l"),
					coalesceMemberEv(EventMemberJoin, "d"),
				}, want: []string{
					"member-join[a b d]", "member-leave[l]", "member-failed[c]",
					"member-update[u]", "member-reap[r]",
				}},
			},
		},
		{
			name: "each change of a node across windows is delivered",
			windows: []window{
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a")}, want: []string{"member-join[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberFailed, "a")}, want: []string{"member-failed[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberReap, "a")}, want: []string{"member-reap[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a")}, want: []string{"member-join[a]"}},
			},
		},
		{
			name: "suppression is per member",
			windows: []window{
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a")}, want: []string{"member-join[a]"}},
				{in: []Event{coalesceMemberEv(EventMemberJoin, "a", "b")}, want: []string{"member-join[b]"}},
			},
		},
		{
			name: "pointer member events are coalesced too",
			windows: []window{
				{in: []Event{&MemberEvent{Type: EventMemberJoin, Members: []Member{coalesceTestMember("p")}}},
					want: []string{"member-join[p]"}},
			},
		},
		{
			name:    "empty window flushes nothing",
			windows: []window{{in: nil, want: nil}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &memberEventCoalescer{} // the zero value must work
			for i, w := range tc.windows {
				for _, e := range w.in {
					if !c.Handle(e) {
						t.Fatalf("window %d: Handle(%v) = false", i, e)
					}
					c.Coalesce(e)
				}
				got := coalesceDescribe(coalesceFlushAll(c))
				if len(got) == 0 && len(w.want) == 0 {
					continue
				}
				if !reflect.DeepEqual(got, w.want) {
					t.Fatalf("window %d: flushed %v, want %v", i, got, w.want)
				}
			}
		})
	}
}

func TestMemberEventCoalescerHandle(t *testing.T) {
	c := newMemberEventCoalescer()
	cases := []struct {
		e    Event
		want bool
	}{
		{coalesceMemberEv(EventMemberJoin, "a"), true},
		{coalesceMemberEv(EventMemberLeave, "a"), true},
		{coalesceMemberEv(EventMemberFailed, "a"), true},
		{coalesceMemberEv(EventMemberUpdate, "a"), true},
		{coalesceMemberEv(EventMemberReap, "a"), true},
		{&MemberEvent{Type: EventMemberJoin}, true},
		{coalesceUserEv("deploy", 1, "", true), false},
		{&Query{Name: "q"}, false},
	}
	for _, tc := range cases {
		if got := c.Handle(tc.e); got != tc.want {
			t.Errorf("Handle(%s) = %v, want %v", tc.e.String(), got, tc.want)
		}
	}
}

func TestUserEventCoalescer(t *testing.T) {
	cases := []struct {
		name string
		in   []UserEvent
		want []string
	}{
		{
			name: "highest LTime per name wins",
			in:   []UserEvent{coalesceUserEv("deploy", 1, "v1", true), coalesceUserEv("deploy", 3, "v3", true), coalesceUserEv("deploy", 2, "v2", true)},
			want: []string{"user:deploy@3:v3:cc=true"},
		},
		{
			name: "all events sharing the highest LTime are kept",
			in: []UserEvent{coalesceUserEv("deploy", 3, "x", true), coalesceUserEv("deploy", 2, "old", true),
				coalesceUserEv("deploy", 3, "y", true)},
			want: []string{"user:deploy@3:x:cc=true", "user:deploy@3:y:cc=true"},
		},
		{
			name: "names are independent, in order of first appearance",
			in:   []UserEvent{coalesceUserEv("a", 1, "", true), coalesceUserEv("b", 2, "", true), coalesceUserEv("a", 2, "", true)},
			want: []string{"user:a@2::cc=true", "user:b@2::cc=true"},
		},
		{
			name: "empty window",
			in:   nil,
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &userEventCoalescer{}
			for _, e := range tc.in {
				if !c.Handle(e) {
					t.Fatalf("Handle(%v) = false", e)
				}
				c.Coalesce(e)
			}
			got := coalesceDescribe(coalesceFlushAll(c))
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("flushed %v, want %v", got, tc.want)
			}
			if again := coalesceFlushAll(c); len(again) != 0 {
				t.Fatalf("second flush sent %v, want nothing", coalesceDescribe(again))
			}
		})
	}
}

func TestUserEventCoalescerHandle(t *testing.T) {
	c := newUserEventCoalescer()
	cases := []struct {
		e    Event
		want bool
	}{
		{coalesceUserEv("deploy", 1, "", true), true},
		{coalesceUserEv("deploy", 1, "", false), false},
		{coalesceMemberEv(EventMemberJoin, "a"), false},
		{&Query{Name: "q"}, false},
	}
	for _, tc := range cases {
		if got := c.Handle(tc.e); got != tc.want {
			t.Errorf("Handle(%s) = %v, want %v", tc.e.String(), got, tc.want)
		}
	}
}

// fakeWindowTimer is a timer the test fires by hand.
type fakeWindowTimer struct {
	d       time.Duration
	c       chan time.Time
	stopped atomic.Bool
}

func (f *fakeWindowTimer) fire() { f.c <- time.Time{} }

// fakeWindowTimers records the timers a coalescing loop starts.
type fakeWindowTimers struct {
	created chan *fakeWindowTimer
}

func newFakeWindowTimers() *fakeWindowTimers {
	return &fakeWindowTimers{created: make(chan *fakeWindowTimer, 256)}
}

func (f *fakeWindowTimers) newTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := &fakeWindowTimer{d: d, c: make(chan time.Time, 1)}
	f.created <- t
	return t.c, func() bool { return !t.stopped.Swap(true) }
}

// next returns the next timer the loop started, which must last d.
func (f *fakeWindowTimers) next(t *testing.T, d time.Duration) *fakeWindowTimer {
	t.Helper()
	select {
	case tm := <-f.created:
		if tm.d != d {
			t.Fatalf("timer of %v started, want %v", tm.d, d)
		}
		return tm
	case <-time.After(coalesceTestTimeout):
		t.Fatalf("no timer of %v started", d)
		return nil
	}
}

func (f *fakeWindowTimers) expectNone(t *testing.T) {
	t.Helper()
	select {
	case tm := <-f.created:
		t.Fatalf("unexpected timer of %v started", tm.d)
	default:
	}
}

func coalesceRecv(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(coalesceTestTimeout):
		t.Fatal("timed out waiting for an event")
		return nil
	}
}

// coalesceBarrier sends an event the coalescer does not handle and waits for it:
// everything sent before it has then been processed, and anything flushed
// would have arrived before it.
func coalesceBarrier(t *testing.T, in chan<- Event, out <-chan Event) {
	t.Helper()
	marker := coalesceUserEv("coalesceBarrier", 0, "", false)
	in <- marker
	if got := coalesceRecv(t, out); !reflect.DeepEqual(got, Event(marker)) {
		t.Fatalf("got %v before the coalesceBarrier, want nothing", coalesceDescribe([]Event{got}))
	}
}

const (
	testCoalescePeriod = 3 * time.Second
	testQuietPeriod    = time.Second
)

func startTestCoalesceLoop(t *testing.T, c coalescer, out chan Event) (*coalesceLoop, *fakeWindowTimers, chan struct{}) {
	t.Helper()
	timers := newFakeWindowTimers()
	shutdown := make(chan struct{})
	l := startCoalesceLoop(out, shutdown, testCoalescePeriod, testQuietPeriod, c, timers.newTimer)
	t.Cleanup(func() {
		select {
		case <-shutdown:
		default:
			close(shutdown)
		}
		select {
		case <-l.done:
		case <-time.After(coalesceTestTimeout):
			t.Error("coalescing goroutine did not stop")
		}
	})
	return l, timers, shutdown
}

func TestCoalesceLoopPassThrough(t *testing.T) {
	out := make(chan Event, 16)
	l, timers, _ := startTestCoalesceLoop(t, newUserEventCoalescer(), out)

	plain := coalesceUserEv("plain", 7, "p", false)
	l.in <- plain
	if got := coalesceRecv(t, out); !reflect.DeepEqual(got, Event(plain)) {
		t.Fatalf("got %v, want the event unchanged", got)
	}
	member := coalesceMemberEv(EventMemberJoin, "a")
	l.in <- member
	if got := coalesceRecv(t, out); !reflect.DeepEqual(got, Event(member)) {
		t.Fatalf("got %v, want the member event unchanged", got)
	}
	timers.expectNone(t)
}

func TestCoalesceLoopQuiescenceFlush(t *testing.T) {
	out := make(chan Event, 16)
	l, timers, _ := startTestCoalesceLoop(t, newMemberEventCoalescer(), out)

	l.in <- coalesceMemberEv(EventMemberJoin, "a")
	period := timers.next(t, testCoalescePeriod)
	quiet1 := timers.next(t, testQuietPeriod)

	l.in <- coalesceMemberEv(EventMemberJoin, "b")
	quiet2 := timers.next(t, testQuietPeriod)
	if !quiet1.stopped.Load() {
		t.Fatal("a new handled event must restart the quiescence timer")
	}
	timers.expectNone(t) // the period timer is not restarted
	coalesceBarrier(t, l.in, out)

	quiet2.fire()
	got := coalesceDescribe([]Event{coalesceRecv(t, out)})
	if want := []string{"member-join[a b]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("flushed %v, want %v", got, want)
	}
	coalesceBarrier(t, l.in, out) // nothing else was flushed
	if !period.stopped.Load() {
		t.Fatal("the period timer must be stopped by the flush")
	}

	// The next handled event opens a new window.
	l.in <- coalesceMemberEv(EventMemberLeave, "a")
	timers.next(t, testCoalescePeriod)
	timers.next(t, testQuietPeriod).fire()
	got = coalesceDescribe([]Event{coalesceRecv(t, out)})
	if want := []string{"member-leave[a]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("second window flushed %v, want %v", got, want)
	}
}

func TestCoalesceLoopPeriodFlush(t *testing.T) {
	out := make(chan Event, 16)
	l, timers, _ := startTestCoalesceLoop(t, newUserEventCoalescer(), out)

	l.in <- coalesceUserEv("deploy", 1, "v1", true)
	period := timers.next(t, testCoalescePeriod)
	timers.next(t, testQuietPeriod)
	// Keep the window busy: every event restarts quiescence, so only the
	// period can end it.
	for i := 2; i <= 5; i++ {
		l.in <- coalesceUserEv("deploy", LamportTime(i), fmt.Sprintf("v%d", i), true)
		timers.next(t, testQuietPeriod)
	}
	coalesceBarrier(t, l.in, out)

	period.fire()
	got := coalesceDescribe([]Event{coalesceRecv(t, out)})
	if want := []string{"user:deploy@5:v5:cc=true"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("flushed %v, want %v", got, want)
	}
	coalesceBarrier(t, l.in, out)
}

func TestCoalesceLoopStopsOnShutdown(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, l *coalesceLoop, timers *fakeWindowTimers, shutdown chan struct{})
	}{
		{
			name: "idle",
			run: func(t *testing.T, l *coalesceLoop, timers *fakeWindowTimers, shutdown chan struct{}) {
				close(shutdown)
			},
		},
		{
			name: "with an open window",
			run: func(t *testing.T, l *coalesceLoop, timers *fakeWindowTimers, shutdown chan struct{}) {
				l.in <- coalesceMemberEv(EventMemberJoin, "a")
				timers.next(t, testCoalescePeriod)
				timers.next(t, testQuietPeriod)
				close(shutdown)
			},
		},
		{
			name: "blocked passing an event through",
			run: func(t *testing.T, l *coalesceLoop, timers *fakeWindowTimers, shutdown chan struct{}) {
				l.in <- coalesceUserEv("x", 1, "", false) // nobody reads out
				close(shutdown)
			},
		},
		{
			name: "blocked in a flush",
			run: func(t *testing.T, l *coalesceLoop, timers *fakeWindowTimers, shutdown chan struct{}) {
				l.in <- coalesceMemberEv(EventMemberJoin, "a")
				l.in <- coalesceMemberEv(EventMemberFailed, "b")
				timers.next(t, testCoalescePeriod).fire() // two events, nobody reads out
				close(shutdown)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := make(chan Event) // unbuffered and never read
			timers := newFakeWindowTimers()
			shutdown := make(chan struct{})
			l := startCoalesceLoop(out, shutdown, testCoalescePeriod, testQuietPeriod,
				newMemberEventCoalescer(), timers.newTimer)
			tc.run(t, l, timers, shutdown)
			select {
			case <-l.done:
			case <-time.After(coalesceTestTimeout):
				t.Fatal("coalescing goroutine did not stop after shutdown")
			}
		})
	}
}

// TestCoalescedEventChRealTimers checks the production wiring with real
// timers. Durations are chosen so that only a very slow machine could
// change the outcome: all events are queued before the window can close.
func TestCoalescedEventChRealTimers(t *testing.T) {
	cases := []struct {
		name             string
		cPeriod, qPeriod time.Duration
	}{
		{name: "quiescence ends the window", cPeriod: time.Hour, qPeriod: 200 * time.Millisecond},
		{name: "period ends the window", cPeriod: 200 * time.Millisecond, qPeriod: time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := make(chan Event, 16)
			shutdown := make(chan struct{})
			l := startCoalesceLoop(out, shutdown, tc.cPeriod, tc.qPeriod, newMemberEventCoalescer(), realWindowTimer)
			defer func() { close(shutdown); <-l.done }()
			in := l.in
			if cap(in) != coalescerInputSize {
				t.Fatalf("input channel depth %d, want %d", cap(in), coalescerInputSize)
			}
			in <- coalesceMemberEv(EventMemberJoin, "a")
			in <- coalesceMemberEv(EventMemberJoin, "b")
			in <- coalesceMemberEv(EventMemberFailed, "a")
			var got []Event
			got = append(got, coalesceRecv(t, out), coalesceRecv(t, out))
			want := []string{"member-join[b]", "member-failed[a]"}
			if d := coalesceDescribe(got); !reflect.DeepEqual(d, want) {
				t.Fatalf("flushed %v, want %v", d, want)
			}
		})
	}
}
