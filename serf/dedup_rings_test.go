package serf

import (
	"sync"
	"testing"
)

// TestAdmitOnce walks the shared de-duplication rule through each of its
// outcomes, on a ring of 4.
func TestAdmitOnce(t *testing.T) {
	var clock LamportClock
	var lock sync.Mutex
	minTime := LamportTime(2)
	ring := newQueryRing(4)
	steps := []struct {
		name   string
		ltime  LamportTime
		id     uint32
		want   admission
		clockT LamportTime // the clock after the step
	}{
		{"below the floor", 1, 1, admitBeforeMin, 2},
		{"first sighting", 5, 1, admitNew, 6},
		{"duplicate", 5, 1, admitDuplicate, 6},
		{"same time, other id", 5, 2, admitNew, 6},
		{"newer", 20, 1, admitNew, 21},
		{"fallen out of the ring", 10, 3, admitTooOld, 21},
		{"just inside the ring", 17, 3, admitNew, 21},
	}
	for _, st := range steps {
		got, _ := admitOnce(&clock, &lock, &minTime, ring.size(), st.ltime,
			func() bool { return ring.add(st.ltime, st.id) })
		if got != st.want {
			t.Errorf("%s: admission %d, want %d", st.name, got, st.want)
		}
		if c := clock.Time(); c != st.clockT {
			t.Errorf("%s: clock %d, want %d (every message is witnessed)", st.name, c, st.clockT)
		}
	}
}
