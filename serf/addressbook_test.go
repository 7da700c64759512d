package serf

import (
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"
)

// bookAt returns a book whose clock the test sets.
func bookAt(capacity int, window time.Duration, now *time.Time) *addressBook {
	b := newAddressBook("self", capacity, window)
	b.now = func() time.Time { return *now }
	return b
}

func bookNames(b *addressBook) []string {
	names := []string{}
	for _, p := range b.peersList() {
		names = append(names, p.Name)
	}
	return names
}

func TestAddressBookObserve(t *testing.T) {
	ip := net.IPv4(10, 0, 0, 1)
	cases := []struct {
		name   string
		events []Event
		want   []string
	}{
		{
			name:   "a failed member is remembered",
			events: []Event{snapshotMemberEv(EventMemberFailed, "a", ip, 1)},
			want:   []string{"a"},
		},
		{
			name: "a reaped failed member stays",
			events: []Event{
				snapshotMemberEv(EventMemberFailed, "a", ip, 1),
				snapshotMemberEv(EventMemberReap, "a", ip, 1),
			},
			want: []string{"a"},
		},
		{
			name: "a member that left gracefully is not remembered",
			events: []Event{
				snapshotMemberEv(EventMemberLeave, "a", ip, 1),
				snapshotMemberEv(EventMemberReap, "a", ip, 1),
			},
			want: []string{},
		},
		{
			name: "a force-left failed member is forgotten",
			events: []Event{
				snapshotMemberEv(EventMemberFailed, "a", ip, 1),
				snapshotMemberEv(EventMemberFailed, "b", ip, 2),
				snapshotMemberEv(EventMemberLeave, "a", ip, 1),
			},
			want: []string{"b"},
		},
		{
			name: "a member back alive is forgotten",
			events: []Event{
				snapshotMemberEv(EventMemberFailed, "a", ip, 1),
				snapshotMemberEv(EventMemberJoin, "a", ip, 1),
			},
			want: []string{},
		},
		{
			name: "updates, user events and queries change nothing",
			events: []Event{
				snapshotMemberEv(EventMemberFailed, "a", ip, 1),
				snapshotMemberEv(EventMemberUpdate, "a", ip, 1),
				UserEvent{Name: "x"},
				&Query{Name: "q"},
			},
			want: []string{"a"},
		},
		{
			name: "self and members without an address are not remembered",
			events: []Event{
				snapshotMemberEv(EventMemberFailed, "self", ip, 1),
				snapshotMemberEv(EventMemberFailed, "noaddr", nil, 1),
				snapshotMemberEv(EventMemberFailed, "zero", net.IPv4zero, 1),
			},
			want: []string{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(5000, 0)
			b := bookAt(10, time.Hour, &now)
			for _, e := range tc.events {
				b.observe(e)
			}
			if got := bookNames(b); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("book = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAddressBookWindow(t *testing.T) {
	now := time.Unix(100000, 0)
	b := bookAt(10, time.Hour, &now)
	b.remember("old", "10.0.0.1:1", now.Add(-2*time.Hour)) // outside already
	b.remember("a", "10.0.0.1:2", now.Add(-50*time.Minute))
	b.remember("b", "10.0.0.1:3", now)
	if got := bookNames(b); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("book = %v, want [a b]", got)
	}
	now = now.Add(20 * time.Minute) // a is now 70 minutes old
	if got := bookNames(b); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("after 20 minutes book = %v, want [b]", got)
	}
	if b.size() != 1 {
		t.Errorf("size = %d, want 1", b.size())
	}
	// A newer failure refreshes an entry and its address.
	b.remember("b", "10.0.0.9:3", now)
	now = now.Add(50 * time.Minute)
	if got := b.peersList(); len(got) != 1 || got[0].Addr != "10.0.0.9:3" {
		t.Errorf("refreshed entry = %v, want b at 10.0.0.9:3", got)
	}
}

func TestAddressBookCapacity(t *testing.T) {
	cases := []struct {
		name     string
		capacity int
		adds     int
		want     int
		oldest   string // the oldest entry kept
	}{
		{name: "under the cap", capacity: 5, adds: 3, want: 3, oldest: "p0"},
		{name: "at the cap", capacity: 5, adds: 5, want: 5, oldest: "p0"},
		{name: "over the cap evicts the oldest", capacity: 5, adds: 8, want: 5, oldest: "p3"},
		{name: "default cap", capacity: 0, adds: DefaultAddressBookSize + 10, want: DefaultAddressBookSize, oldest: "p10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(100000, 0)
			b := bookAt(tc.capacity, 0, &now)
			for i := 0; i < tc.adds; i++ {
				b.remember(fmt.Sprintf("p%d", i), "10.0.0.1:1", now.Add(time.Duration(i)*time.Second))
			}
			if b.size() != tc.want {
				t.Fatalf("size = %d, want %d", b.size(), tc.want)
			}
			var oldest LostPeer
			for _, p := range b.peersList() {
				if oldest.Name == "" || p.LastSeen.Before(oldest.LastSeen) {
					oldest = p
				}
			}
			if oldest.Name != tc.oldest {
				t.Errorf("oldest kept = %s, want %s", oldest.Name, tc.oldest)
			}
		})
	}
}

// A Serf value built by hand (as some tests do) has no book: every
// method is a no-op on nil.
func TestAddressBookNil(t *testing.T) {
	var b *addressBook
	b.observe(snapshotMemberEv(EventMemberFailed, "a", net.IPv4(10, 0, 0, 1), 1))
	b.remember("a", "10.0.0.1:1", time.Now())
	b.forget("a")
	b.markTried("a", time.Now())
	if b.size() != 0 || len(b.peersList()) != 0 || len(b.candidates(func(string) bool { return false })) != 0 {
		t.Error("nil book is not empty")
	}
}
