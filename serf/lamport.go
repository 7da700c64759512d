package serf

import "sync/atomic"

// LamportTime is a point on one of Serf's logical clocks.
type LamportTime uint64

// LamportClock is a thread-safe Lamport clock. Time() is the next value to
// use: every value below it has already been used or seen.
type LamportClock struct {
	counter atomic.Uint64
}

// Time returns the current value of the clock.
func (l *LamportClock) Time() LamportTime {
	return LamportTime(l.counter.Load())
}

// Increment advances the clock by one and returns the new value.
func (l *LamportClock) Increment() LamportTime {
	return LamportTime(l.counter.Add(1))
}

// Witness moves the clock past v if v is not already behind it, so that
// after witnessing, Time() > v. A v below the clock changes nothing; Serf
// does not increment on every receive.
func (l *LamportClock) Witness(v LamportTime) {
	for {
		cur := l.counter.Load()
		if uint64(v) < cur {
			return
		}
		if l.counter.CompareAndSwap(cur, uint64(v)+1) {
			return
		}
	}
}
