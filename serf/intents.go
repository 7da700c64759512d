package serf

import "time"

// nodeIntent is the newest join or leave intent heard for a node that is
// not (yet) a member. Intents can outrun memberlist's own news of a node.
type nodeIntent struct {
	Type     messageType // messageJoinType or messageLeaveType
	LTime    LamportTime
	WallTime time.Time
}

// intentBuffer keeps one intent per unknown node, newest LTime wins. It is
// not safe for concurrent use; Serf guards it with the member lock.
type intentBuffer struct {
	intents map[string]nodeIntent
}

func newIntentBuffer() *intentBuffer {
	return &intentBuffer{intents: make(map[string]nodeIntent)}
}

// upsert records the intent if it is newer than what is stored for the
// node. It reports whether the buffer changed, which decides re-gossip.
func (b *intentBuffer) upsert(node string, t messageType, ltime LamportTime, now time.Time) bool {
	if old, ok := b.intents[node]; ok && ltime <= old.LTime {
		return false
	}
	b.intents[node] = nodeIntent{Type: t, LTime: ltime, WallTime: now}
	return true
}

// get returns the buffered intent of a node. Reading does not remove it:
// Serf lets the reaper expire entries.
func (b *intentBuffer) get(node string) (nodeIntent, bool) {
	in, ok := b.intents[node]
	return in, ok
}

// reap drops intents older than timeout.
func (b *intentBuffer) reap(now time.Time, timeout time.Duration) {
	for node, in := range b.intents {
		if now.Sub(in.WallTime) > timeout {
			delete(b.intents, node)
		}
	}
}
