package serf

import (
	"fmt"
)

// UserEvent fires a custom event to the whole cluster. With coalesce,
// receivers may merge it with later events of the same name.
func (s *Serf) UserEvent(name string, payload []byte, coalesce bool) error {
	limit := s.config.UserEventSizeLimit
	if size := len(name) + len(payload); size > limit {
		return fmt.Errorf("user event exceeds configured limit of %d bytes before encoding", limit)
	} else if size > UserEventSizeLimit {
		return fmt.Errorf("user event exceeds sane limit of %d bytes before encoding", UserEventSizeLimit)
	}

	msg := messageUserEvent{
		LTime:   s.eventClock.Time(),
		Name:    name,
		Payload: payload,
		CC:      coalesce,
	}
	raw, err := encodeMessage(messageUserEventType, &msg)
	if err != nil {
		return err
	}
	if len(raw) > limit {
		return fmt.Errorf("encoded user event exceeds configured limit of %d bytes after encoding", limit)
	} else if len(raw) > UserEventSizeLimit {
		return fmt.Errorf("encoded user event exceeds reasonable limit of %d bytes after encoding", UserEventSizeLimit)
	}

	s.eventClock.Increment()
	// Deliver to ourselves as if it came from the network, then gossip.
	s.handleUserEvent(&msg)
	s.queueBounded(s.eventBroadcasts, &broadcast{msg: raw})
	s.push(raw, "", true) // push.go
	return nil
}

// handleUserEvent records a user event and delivers it if it is new. It
// reports whether the event should be re-gossiped.
func (s *Serf) handleUserEvent(msg *messageUserEvent) bool {
	verdict, cur := admitOnce(&s.eventClock, &s.eventLock, &s.eventMinTime, s.eventBuffer.size(), msg.LTime,
		func() bool { return s.eventBuffer.add(msg.LTime, msg.Name, msg.Payload) })
	switch verdict {
	case admitTooOld:
		s.logger.Printf("[WARN] serf: received old event %s from time %d (current: %d)", msg.Name, msg.LTime, cur)
		return false
	case admitDuplicate, admitBeforeMin:
		return false
	}

	s.mx.incr([]string{"serf", "events"}, 1)
	s.mx.incr([]string{"serf", "events", msg.Name}, 1)
	s.emit(UserEvent{LTime: msg.LTime, Name: msg.Name, Payload: msg.Payload, Coalesce: msg.CC})
	return true
}
