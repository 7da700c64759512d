package serf

import (
	"fmt"
)

// The event pipeline carries every event Serf emits (member changes, user
// events, queries) to the program's Config.EventCh. In the order an event
// flows through them, the stages are:
//
//	emit (under the member lock, or from the event and query handlers)
//	  -> snapshot          records members and clocks (if SnapshotPath)
//	  -> internal queries  answers _serf_ queries, passes the rest on
//	  -> user coalescer    merges coalescible user events (if configured)
//	  -> member coalescer  merges member events (if configured)
//	  -> consumer          hands events to Config.EventCh, bounded wait
//
// Every stage is a goroutine Serf owns (Shutdown waits for it) reading a
// buffered channel. None of them takes a lock of Serf, and the consumer
// is the only one that waits on code Serf does not own, with a bound; so
// the pipeline always drains and emit, which runs under Serf's locks,
// never waits on the program. Without an EventCh the coalescers and the
// consumer are left out and events end at the internal-query stage.

// pipelineStage starts one stage of the pipeline in front of out (nil:
// the stage is the last) and returns the stage's input channel.
type pipelineStage func(out chan<- Event) (chan<- Event, error)

// eventStages lists the configured stages in the order events flow.
func (s *Serf) eventStages() []pipelineStage {
	conf := s.config
	var stages []pipelineStage
	if conf.SnapshotPath != "" {
		stages = append(stages, s.startSnapshotStage)
	}
	stages = append(stages, s.startInternalQueriesStage)
	if conf.EventCh == nil {
		return stages
	}
	if conf.UserCoalescePeriod > 0 && conf.UserQuiescentPeriod > 0 {
		stages = append(stages, s.startUserCoalescerStage)
	}
	if conf.CoalescePeriod > 0 && conf.QuiescentPeriod > 0 {
		stages = append(stages, s.startMemberCoalescerStage)
	}
	return append(stages, s.startConsumerStage)
}

// buildEventPipeline starts the stages and points emit at the first. Each
// stage needs the channel of the one after it, so they are started from
// the last to the first. On error the caller stops what was started.
func (s *Serf) buildEventPipeline() error {
	stages := s.eventStages()
	var next chan<- Event
	for i := len(stages) - 1; i >= 0; i-- {
		in, err := stages[i](next)
		if err != nil {
			return err
		}
		next = in
	}
	s.eventCh = next
	return nil
}

// startSnapshotStage opens and replays the snapshot, restores the clocks
// and the de-duplication floors from it, and remembers whom to rejoin.
func (s *Serf) startSnapshotStage(out chan<- Event) (chan<- Event, error) {
	conf := s.config
	in, snap, err := NewSnapshotter(conf.SnapshotPath, SnapshotMinCompactSize, conf.RejoinAfterLeave,
		s.logger, &s.clock, out, s.shutdownCh, conf.Metrics)
	if err != nil {
		return nil, fmt.Errorf("Failed to setup snapshot: %w", err)
	}
	s.snapshotter = snap
	s.previousNodes = snap.AliveNodes()
	s.seedAddressBook(snap)
	s.clock.Witness(snap.LastClock())
	s.eventClock.Witness(snap.LastEventClock())
	s.queryClock.Witness(snap.LastQueryClock())
	s.eventMinTime = snap.LastEventClock() + 1
	s.queryMinTime = snap.LastQueryClock() + 1
	return in, nil
}

// startInternalQueriesStage takes _serf_ queries out of the stream.
func (s *Serf) startInternalQueriesStage(out chan<- Event) (chan<- Event, error) {
	return s.startInternalQueries(out), nil
}

// startUserCoalescerStage merges user events sent with coalescing allowed.
func (s *Serf) startUserCoalescerStage(out chan<- Event) (chan<- Event, error) {
	conf := s.config
	l := newCoalesceLoop(out, s.shutdownCh, conf.UserCoalescePeriod, conf.UserQuiescentPeriod,
		newUserEventCoalescer(), realWindowTimer)
	s.goFunc(l.run)
	return l.in, nil
}

// startMemberCoalescerStage merges member events.
func (s *Serf) startMemberCoalescerStage(out chan<- Event) (chan<- Event, error) {
	conf := s.config
	l := newCoalesceLoop(out, s.shutdownCh, conf.CoalescePeriod, conf.QuiescentPeriod,
		newMemberEventCoalescer(), realWindowTimer)
	s.goFunc(l.run)
	return l.in, nil
}

// startConsumerStage hands events to the program's EventCh; out is nil,
// as the consumer is always the last stage.
func (s *Serf) startConsumerStage(chan<- Event) (chan<- Event, error) {
	c := newConsumerStage(s.config.EventCh, s.config.EventDeliveryTimeout, s.shutdownCh, s.logger, s.mx)
	s.goFunc(c.run)
	return c.in, nil
}
