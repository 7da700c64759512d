package serf

// memberEventCoalescer merges member events (join, leave, failed, update,
// reap). Within a window only the latest event type of each member counts.
// At flush a member is left out if its latest type is the one last
// delivered for it, except member-update, which is always delivered; the
// rest are grouped into one MemberEvent per type.
//
// The zero value is ready to use.
type memberEventCoalescer struct {
	// lastFlushed is the event type last delivered for each member name.
	// It outlives windows, so it holds every name ever delivered.
	lastFlushed map[string]EventType

	// latest is the newest event of each member in the current window;
	// order is the order in which those members first appeared in it.
	latest map[string]coalescedMember
	order  []string
}

// coalescedMember is one member's latest event type in a window.
type coalescedMember struct {
	typ    EventType
	member Member
}

// memberEventTypesInFlushOrder fixes the order in which the grouped events
// of one window are delivered. Serf uses map order; a fixed order is easier
// to reason about and to test.
var memberEventTypesInFlushOrder = [...]EventType{
	EventMemberJoin,
	EventMemberLeave,
	EventMemberFailed,
	EventMemberUpdate,
	EventMemberReap,
}

// newMemberEventCoalescer returns an empty member coalescer.
func newMemberEventCoalescer() *memberEventCoalescer {
	return &memberEventCoalescer{}
}

// Handle implements coalescer.
func (c *memberEventCoalescer) Handle(e Event) bool {
	switch e.EventType() {
	case EventMemberJoin, EventMemberLeave, EventMemberFailed,
		EventMemberUpdate, EventMemberReap:
	default:
		return false
	}
	switch e.(type) {
	case MemberEvent, *MemberEvent:
		return true
	}
	return false
}

// Coalesce implements coalescer.
func (c *memberEventCoalescer) Coalesce(e Event) {
	var me MemberEvent
	switch v := e.(type) {
	case MemberEvent:
		me = v
	case *MemberEvent:
		if v == nil {
			return
		}
		me = *v
	default:
		return
	}
	if c.latest == nil {
		c.latest = make(map[string]coalescedMember)
	}
	for _, m := range me.Members {
		if _, seen := c.latest[m.Name]; !seen {
			c.order = append(c.order, m.Name)
		}
		c.latest[m.Name] = coalescedMember{typ: me.Type, member: m}
	}
}

// Flush implements coalescer.
func (c *memberEventCoalescer) Flush() []Event {
	if len(c.order) == 0 {
		return nil
	}
	if c.lastFlushed == nil {
		c.lastFlushed = make(map[string]EventType)
	}

	grouped := make(map[EventType][]Member)
	for _, name := range c.order {
		cm := c.latest[name]
		if last, ok := c.lastFlushed[name]; ok && last == cm.typ && cm.typ != EventMemberUpdate {
			continue
		}
		c.lastFlushed[name] = cm.typ
		grouped[cm.typ] = append(grouped[cm.typ], cm.member)
	}

	c.latest = nil
	c.order = nil

	var out []Event
	for _, typ := range memberEventTypesInFlushOrder {
		if members := grouped[typ]; len(members) > 0 {
			out = append(out, MemberEvent{Type: typ, Members: members})
		}
	}
	return out
}
