package agent

import (
	"fmt"
	"log"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

func TestEventQueueBoundedFIFO(t *testing.T) {
	q := newEventQueue(20)
	for i := 0; i < 25; i++ {
		ok := q.Push(queuedEvent{event: serf.UserEvent{Name: fmt.Sprint(i)}})
		if ok != (i < 20) {
			t.Fatalf("push %d = %v", i, ok)
		}
	}
	if len(q.ring) != 20 {
		t.Errorf("ring has %d slots for a limit of 20", len(q.ring))
	}
	// Interleave pops and pushes so the ring wraps.
	for i := 0; i < 10; i++ {
		it, _ := q.Pop()
		if it.event.(serf.UserEvent).Name != fmt.Sprint(i) {
			t.Fatalf("pop %d got %s", i, it.event.(serf.UserEvent).Name)
		}
		q.Push(queuedEvent{event: serf.UserEvent{Name: fmt.Sprint(100 + i)}})
	}
	var got []string
	for {
		it, ok := q.Pop()
		if !ok {
			break
		}
		got = append(got, it.event.(serf.UserEvent).Name)
	}
	want := "10 11 12 13 14 15 16 17 18 19 100 101 102 103 104 105 106 107 108 109"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v", got)
	}
	for i, slot := range q.ring {
		if slot.event != nil {
			t.Errorf("slot %d still holds an event after pop", i)
		}
	}
}

// memberEv builds a member event; a member "x@v" is x with tag v=1, so
// tests can tell which version of a member an event holds.
func memberEv(typ serf.EventType, members ...string) serf.MemberEvent {
	ev := serf.MemberEvent{Type: typ}
	for _, m := range members {
		name, version, _ := strings.Cut(m, "@")
		ev.Members = append(ev.Members, serf.Member{Name: name, Addr: net.ParseIP("127.0.0.1"), Tags: map[string]string{"v": version}})
	}
	return ev
}

// describe renders the queue as "join[a@1 b@] leave[c@]".
func describe(q *eventQueue) string {
	var parts []string
	for i := 0; i < q.Len(); i++ {
		switch ev := q.at(i).event.(type) {
		case serf.MemberEvent:
			var ms []string
			for _, m := range ev.Members {
				ms = append(ms, m.Name+"@"+m.Tags["v"])
			}
			parts = append(parts, strings.TrimPrefix(ev.Type.String(), "member-")+"["+strings.Join(ms, " ")+"]")
		case serf.UserEvent:
			parts = append(parts, "user:"+ev.Name)
		}
	}
	return strings.Join(parts, " ")
}

func TestEventQueueMergeMember(t *testing.T) {
	scripts, other := &scriptSet{}, &scriptSet{}
	join, leave, update := serf.EventMemberJoin, serf.EventMemberLeave, serf.EventMemberUpdate
	cases := []struct {
		name    string
		waiting []queuedEvent
		add     queuedEvent
		merged  bool
		want    string
	}{
		{"same type at the back: appended",
			[]queuedEvent{{memberEv(leave, "z@"), scripts}, {memberEv(join, "a@"), scripts}},
			queuedEvent{memberEv(join, "b@"), scripts}, true, "leave[z@] join[a@ b@]"},
		{"same member at the back: newest line kept",
			[]queuedEvent{{memberEv(update, "a@1", "b@1"), scripts}},
			queuedEvent{memberEv(update, "a@2"), scripts}, true, "update[a@2 b@1]"},
		{"member waiting further up with the same type: line replaced",
			[]queuedEvent{{memberEv(update, "a@1"), scripts}, {memberEv(join, "b@"), scripts}},
			queuedEvent{memberEv(update, "a@2"), scripts}, true, "update[a@2] join[b@]"},
		{"member's newest event has another type: dropped",
			[]queuedEvent{{memberEv(join, "a@1"), scripts}, {memberEv(leave, "a@1"), scripts}, {memberEv(update, "b@"), scripts}},
			queuedEvent{memberEv(join, "a@2"), scripts}, false, "join[a@1] leave[a@1] update[b@]"},
		{"new member not waiting: dropped",
			[]queuedEvent{{memberEv(join, "a@"), scripts}, {memberEv(leave, "b@"), scripts}},
			queuedEvent{memberEv(join, "c@"), scripts}, false, "join[a@] leave[b@]"},
		{"only some members waiting: dropped whole",
			[]queuedEvent{{memberEv(update, "a@1"), scripts}, {memberEv(leave, "b@"), scripts}},
			queuedEvent{memberEv(update, "a@2", "c@"), scripts}, false, "update[a@1] leave[b@]"},
		{"other scripts (a reload between): not merged",
			[]queuedEvent{{memberEv(join, "a@"), scripts}},
			queuedEvent{memberEv(join, "b@"), other}, false, "join[a@]"},
		{"user event: never merged",
			[]queuedEvent{{serf.UserEvent{Name: "x"}, scripts}},
			queuedEvent{serf.UserEvent{Name: "x"}, scripts}, false, "user:x"},
		{"member event behind a user event: member merged further up",
			[]queuedEvent{{memberEv(update, "a@1"), scripts}, {serf.UserEvent{Name: "x"}, scripts}},
			queuedEvent{memberEv(update, "a@2"), scripts}, true, "update[a@2] user:x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newEventQueue(len(tc.waiting))
			var originals []serf.MemberEvent
			for _, w := range tc.waiting {
				if !q.Push(w) {
					t.Fatal("setup push failed")
				}
				if me, ok := w.event.(serf.MemberEvent); ok {
					originals = append(originals, me)
				}
			}
			before := make([]string, len(originals))
			for i, me := range originals {
				before[i] = fmt.Sprint(me.Members)
			}
			if got := q.MergeMember(tc.add); got != tc.merged {
				t.Errorf("merged = %v, want %v", got, tc.merged)
			}
			if got := describe(q); got != tc.want {
				t.Errorf("queue %s, want %s", got, tc.want)
			}
			// The original events (shared with RPC streams) are untouched.
			for i, me := range originals {
				if fmt.Sprint(me.Members) != before[i] {
					t.Errorf("event %d was modified in place", i)
				}
			}
		})
	}
}

func TestLineLogger(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines across writes", []string{"a\nb", "c\n\nd"}, []string{"P a", "P bc", "P d"}},
		{"crlf", []string{"x\r\n"}, []string{"P x"}},
		{"long line split", []string{strings.Repeat("y", maxLogLine+3) + "\n"}, []string{"P " + strings.Repeat("y", maxLogLine), "P yyy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := &testutil.SyncBuffer{}
			l := newLineLogger(log.New(buf, "", 0), "P ")
			for _, w := range tc.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write = %d, %v", n, err)
				}
			}
			l.Flush()
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDropWarnerRateLimits(t *testing.T) {
	reports := make(chan int, 10)
	w := newDropWarner(100*time.Millisecond, func(n int) { reports <- n })
	w.add(1) // reported at once
	w.add(2)
	w.add(3)
	got := []int{<-reports}
	select {
	case n := <-reports: // the summary after the interval
		got = append(got, n)
	case <-time.After(10 * time.Second):
		t.Fatal("no summary")
	}
	w.add(4)
	w.stop() // reports what is pending
	for len(reports) > 0 {
		got = append(got, <-reports)
	}
	if fmt.Sprint(got) != "[1 5 4]" {
		t.Errorf("reports %v, want [1 5 4]", got)
	}
	w.add(9)
	if len(reports) != 0 {
		t.Errorf("report after stop")
	}
}
