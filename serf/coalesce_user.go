package serf

// userEventCoalescer merges user events sent with Coalesce=true. Within a
// window it keeps, per event name, only the events with the highest LTime
// (all of them, if several share it) and delivers them at flush. User
// events without the flag, and every other event, pass straight through.
//
// The zero value is ready to use.
type userEventCoalescer struct {
	// latest holds the kept events of each name in the current window;
	// order is the order in which the names first appeared in it.
	latest map[string]*latestUserEvents
	order  []string
}

// latestUserEvents are the events of one name that share the highest
// LTime seen for it in the window.
type latestUserEvents struct {
	ltime  LamportTime
	events []UserEvent
}

// newUserEventCoalescer returns an empty user-event coalescer.
func newUserEventCoalescer() *userEventCoalescer {
	return &userEventCoalescer{}
}

// Handle implements coalescer.
func (c *userEventCoalescer) Handle(e Event) bool {
	ue, ok := e.(UserEvent)
	return ok && ue.Coalesce
}

// Coalesce implements coalescer.
func (c *userEventCoalescer) Coalesce(e Event) {
	ue, ok := e.(UserEvent)
	if !ok {
		return
	}
	if c.latest == nil {
		c.latest = make(map[string]*latestUserEvents)
	}
	kept, seen := c.latest[ue.Name]
	switch {
	case !seen:
		c.order = append(c.order, ue.Name)
		c.latest[ue.Name] = &latestUserEvents{ltime: ue.LTime, events: []UserEvent{ue}}
	case ue.LTime > kept.ltime:
		kept.ltime = ue.LTime
		kept.events = []UserEvent{ue}
	case ue.LTime == kept.ltime:
		kept.events = append(kept.events, ue)
	default:
		// Older than what the window already holds for this name.
	}
}

// Flush implements coalescer.
func (c *userEventCoalescer) Flush() []Event {
	latest, order := c.latest, c.order
	c.latest, c.order = nil, nil
	var out []Event
	for _, name := range order {
		for _, ue := range latest[name].events {
			out = append(out, ue)
		}
	}
	return out
}
