package serf

import (
	"sync"
	"sync/atomic"
)

// versionedRWMutex is the member lock. Every write section bumps a
// counter as it ends, so a reader can tell, without comparing records,
// whether the member table may have changed since it last looked: the
// agent keeps its encoded members reply until the counter moves. Bumping
// in Unlock rather than at each change means a write section added later
// cannot forget to bump; a section that changed nothing only costs the
// readers one needless refresh.
type versionedRWMutex struct {
	sync.RWMutex
	version atomic.Uint64
}

// Unlock bumps the version, then releases the write lock. A reader that
// holds the read lock therefore sees the version of the state it reads.
func (m *versionedRWMutex) Unlock() {
	m.version.Add(1)
	m.RWMutex.Unlock()
}

// MembersVersion is a counter that moves whenever the member table may
// have changed: a member joined, left, failed, was reaped, or changed its
// tags, address or protocol versions. Equal values mean Members would
// return the same records (in any order).
func (s *Serf) MembersVersion() uint64 { return s.memberLock.version.Load() }

// MembersWithVersion returns Members and the MembersVersion they belong
// to, read under one lock so the two agree.
func (s *Serf) MembersWithVersion() ([]Member, uint64) {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	out := make([]Member, 0, len(s.members))
	for _, ms := range s.members {
		out = append(out, ms.clone())
	}
	return out, s.memberLock.version.Load()
}
