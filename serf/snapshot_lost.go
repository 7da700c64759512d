package serf

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The snapshot remembers failed members too, for the heal loop, on lines
//
//	# lost: <name> <ip:port> <unix seconds when it failed>
//
// The line starts with the comment prefix on purpose: Serf 0.10, and
// versions of this package before the heal loop, skip comment lines
// silently, so a snapshot written here still reads cleanly in them (they
// only lose the lost peers). A line kind of its own would be skipped too,
// but with a warning per line. The name may contain spaces; the address
// and the time cannot, so both are taken from the end of the line.
//
// Replay: a lost line records the member; a later alive or not-alive line
// for the same name removes it (a failure writes not-alive then lost, so
// the order keeps it); a leave line drops them all, as it drops the alive
// set, unless rejoin after leave is set.
const snapshotLostPrefix = "# lost: "

// lostRecord is one lost member in the snapshot state.
type lostRecord struct {
	addr string
	seen int64 // unix seconds
}

// parseSnapshotLostLine parses the part after snapshotLostPrefix.
func parseSnapshotLostLine(rest string) (snapshotLine, error) {
	i := strings.LastIndexByte(rest, ' ')
	if i < 0 {
		return snapshotLine{}, errors.New("lost line without a time")
	}
	seen, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || seen < 0 {
		return snapshotLine{}, fmt.Errorf("bad time in lost line %q", rest)
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, ' ')
	if j < 0 {
		return snapshotLine{}, errors.New("lost line without an address")
	}
	name, addr := rest[:j], rest[j+1:]
	if name == "" {
		return snapshotLine{}, errors.New("lost line without a name")
	}
	if err := checkSnapshotAddr(addr); err != nil {
		return snapshotLine{}, err
	}
	return snapshotLine{kind: snapshotLineLost, name: name, addr: addr, seen: seen}, nil
}

func formatSnapshotLostLine(name string, r lostRecord) string {
	return snapshotLostPrefix + name + " " + r.addr + " " + strconv.FormatInt(r.seen, 10) + "\n"
}

// formatSnapshotLostLines renders the lost members, sorted by name, for a
// compacted file.
func formatSnapshotLostLines(b *strings.Builder, lost map[string]lostRecord) {
	names := make([]string, 0, len(lost))
	for name := range lost {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.WriteString(formatSnapshotLostLine(name, lost[name]))
	}
}

// trimLost bounds the lost set: entries older than window go, then the
// oldest until at most capacity remain. Without it a stream of failures
// of ever new names would grow the state and the file without end.
func trimLost(lost map[string]lostRecord, capacity int, window time.Duration, now time.Time) {
	if window > 0 {
		cutoff := now.Add(-window).Unix()
		for name, r := range lost {
			if r.seen < cutoff {
				delete(lost, name)
			}
		}
	}
	if capacity <= 0 {
		capacity = DefaultAddressBookSize
	}
	for len(lost) > capacity {
		oldest := ""
		for name, r := range lost {
			if oldest == "" || r.seen < lost[oldest].seen || (r.seen == lost[oldest].seen && name < oldest) {
				oldest = name
			}
		}
		delete(lost, oldest)
	}
}

// SetLostLimits sets the bounds of the lost set the snapshot keeps (the
// address book's capacity and window); Serf calls it right after opening
// the snapshot. capacity <= 0 means DefaultAddressBookSize, window <= 0
// no expiry.
func (s *Snapshotter) SetLostLimits(capacity int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostCapacity, s.lostWindow = capacity, window
	trimLost(s.state.lost, capacity, window, s.now())
}

// LostNodes returns the failed members the snapshot remembers, sorted by
// name. Right after NewSnapshotter these are the ones replayed from the
// file.
func (s *Snapshotter) LostNodes() []LostPeer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LostPeer, 0, len(s.state.lost))
	for name, r := range s.state.lost {
		out = append(out, LostPeer{Name: name, Addr: r.addr, LastSeen: time.Unix(r.seen, 0)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// forgetLostEvent tells the snapshot that a member it may remember as lost
// left, by a leave intent for a member that is no longer in the member
// table (a force-leave of a reaped member, or a leave learned in a
// push-pull after a partition). It is recorded but never forwarded: it is
// not an event of the program's.
type forgetLostEvent struct{ name string }

func (forgetLostEvent) EventType() EventType { return EventMemberLeave }
func (e forgetLostEvent) String() string     { return "forget-lost: " + e.name }

// forgetLost drops a lost member, with a not-alive line, which a replay
// reads as "no longer lost" (and Serf 0.10 as a no-op).
func (s *Snapshotter) forgetLost(name string) {
	if !snapshotNameRecordable(name) {
		return
	}
	s.mu.Lock()
	_, ok := s.state.lost[name]
	delete(s.state.lost, name)
	s.mu.Unlock()
	if ok {
		s.tryAppend(formatSnapshotNotAliveLine(name))
	}
}

// recordLost keeps the lost set in step with one member of a member
// event, after its alive or not-alive line was written: a failed member
// with an address is remembered (and a lost line appended), any other
// join or leave forgets it.
func (s *Snapshotter) recordLost(t EventType, m *Member) {
	switch t {
	case EventMemberFailed:
		if len(m.Addr) == 0 || m.Addr.IsUnspecified() {
			s.mu.Lock()
			delete(s.state.lost, m.Name)
			s.mu.Unlock()
			return
		}
		r := lostRecord{addr: snapshotMemberAddr(m), seen: s.now().Unix()}
		s.mu.Lock()
		s.state.lost[m.Name] = r
		trimLost(s.state.lost, s.lostCapacity, s.lostWindow, s.now())
		s.mu.Unlock()
		s.tryAppend(formatSnapshotLostLine(m.Name, r))
	case EventMemberJoin, EventMemberLeave:
		s.mu.Lock()
		delete(s.state.lost, m.Name)
		s.mu.Unlock()
	}
}
