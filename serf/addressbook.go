package serf

import (
	"sort"
	"sync"
	"time"
)

// DefaultAddressBookSize is the number of lost peers remembered when
// Config.AddressBookSize is not set.
const DefaultAddressBookSize = 1024

// LostPeer is a member that failed (and may since have been reaped), as
// the address book remembers it for the heal loop.
type LostPeer struct {
	Name string
	// Addr is "ip:port", as the snapshot writes member addresses.
	Addr string
	// LastSeen is when the member was reported failed, or, for members
	// restored from a snapshot's alive lines, when the snapshot was read.
	LastSeen time.Time
}

// addressBook remembers members that failed or were reaped, so that the
// heal loop can try them again after both sides of a partition have
// reaped each other. It holds at most capacity entries (the oldest
// LastSeen is evicted first) and forgets entries older than window.
// Members that left (gracefully or by force-leave) are removed: they
// chose to go, or an operator said they are gone.
//
// Its lock is a leaf: observe is called from emit under the member lock.
// A nil book records nothing and is empty (a Serf value built by hand in
// tests has none).
type addressBook struct {
	self     string
	capacity int
	window   time.Duration // <= 0: entries never expire
	now      func() time.Time

	mu    sync.Mutex
	peers map[string]*bookEntry
}

// bookEntry is a LostPeer plus when the heal loop last tried it.
type bookEntry struct {
	LostPeer
	lastTried time.Time
}

// newAddressBook returns an empty book that never records self.
// capacity <= 0 means DefaultAddressBookSize.
func newAddressBook(self string, capacity int, window time.Duration) *addressBook {
	if capacity <= 0 {
		capacity = DefaultAddressBookSize
	}
	return &addressBook{
		self:     self,
		capacity: capacity,
		window:   window,
		now:      time.Now,
		peers:    make(map[string]*bookEntry),
	}
}

// observe updates the book from a member event: a failed member is
// remembered, a member that joined is a member again and one that left
// is not to be contacted, so both are forgotten. Updates and reaps change
// nothing: a reaped failed member is exactly what the book is for.
func (b *addressBook) observe(e Event) {
	if b == nil {
		return
	}
	me, ok := e.(MemberEvent)
	if !ok {
		return
	}
	for i := range me.Members {
		m := &me.Members[i]
		switch me.Type {
		case EventMemberFailed:
			if len(m.Addr) == 0 || m.Addr.IsUnspecified() {
				continue // nowhere to try
			}
			b.remember(m.Name, snapshotMemberAddr(m), b.now())
		case EventMemberJoin, EventMemberLeave:
			b.forget(m.Name)
		}
	}
}

// remember records (or refreshes) a lost peer seen at seen. Entries
// already outside the window are ignored. When the book is full the entry
// with the oldest LastSeen makes room.
func (b *addressBook) remember(name, addr string, seen time.Time) {
	if b == nil {
		return
	}
	if name == "" || name == b.self || addr == "" {
		return
	}
	now := b.now()
	if b.expired(seen, now) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.peers[name]; ok {
		e.Addr = addr
		if seen.After(e.LastSeen) {
			e.LastSeen = seen
		}
		return
	}
	if len(b.peers) >= b.capacity {
		b.expireLocked(now)
	}
	for len(b.peers) >= b.capacity {
		b.evictOldestLocked()
	}
	b.peers[name] = &bookEntry{LostPeer: LostPeer{Name: name, Addr: addr, LastSeen: seen}}
}

// forget removes name from the book and reports whether it was there.
func (b *addressBook) forget(name string) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.peers[name]
	delete(b.peers, name)
	return ok
}

// size returns the number of entries still inside the window.
func (b *addressBook) size() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked(b.now())
	return len(b.peers)
}

// peersList returns the entries inside the window, sorted by name.
func (b *addressBook) peersList() []LostPeer {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked(b.now())
	out := make([]LostPeer, 0, len(b.peers))
	for _, e := range b.peers {
		out = append(out, e.LostPeer)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// candidates returns the entries inside the window that are not members
// now (failed members still known are the reconnect loop's job), with
// when each was last tried.
func (b *addressBook) candidates(isMember func(name string) bool) []bookEntry {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked(b.now())
	out := make([]bookEntry, 0, len(b.peers))
	for name, e := range b.peers {
		if !isMember(name) {
			out = append(out, *e)
		}
	}
	return out
}

// markTried records that the heal loop tried name at t.
func (b *addressBook) markTried(name string, t time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if e, ok := b.peers[name]; ok {
		e.lastTried = t
	}
	b.mu.Unlock()
}

func (b *addressBook) expired(seen, now time.Time) bool {
	return b.window > 0 && now.Sub(seen) > b.window
}

func (b *addressBook) expireLocked(now time.Time) {
	if b.window <= 0 {
		return
	}
	for name, e := range b.peers {
		if b.expired(e.LastSeen, now) {
			delete(b.peers, name)
		}
	}
}

// evictOldestLocked drops the entry seen longest ago (ties: the smallest
// name, so eviction is deterministic). A linear scan: it runs only when
// the book is full and the book is small.
func (b *addressBook) evictOldestLocked() {
	var oldest *bookEntry
	for _, e := range b.peers {
		if oldest == nil || e.LastSeen.Before(oldest.LastSeen) ||
			(e.LastSeen.Equal(oldest.LastSeen) && e.Name < oldest.Name) {
			oldest = e
		}
	}
	if oldest != nil {
		delete(b.peers, oldest.Name)
	}
}
