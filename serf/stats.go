package serf

import (
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Stats returns Serf's counters as decimal strings, as `serf info` shows.
func (s *Serf) Stats() map[string]string {
	s.memberLock.RLock()
	members, failed, left := len(s.members), len(s.failedMembers), len(s.leftMembers)
	s.memberLock.RUnlock()

	stats := map[string]string{
		"members":      strconv.Itoa(members),
		"failed":       strconv.Itoa(failed),
		"left":         strconv.Itoa(left),
		"health_score": strconv.Itoa(s.memberlist.GetHealthScore()),
		"member_time":  strconv.FormatUint(uint64(s.clock.Time()), 10),
		"event_time":   strconv.FormatUint(uint64(s.eventClock.Time()), 10),
		"query_time":   strconv.FormatUint(uint64(s.queryClock.Time()), 10),
		"intent_queue": strconv.Itoa(s.broadcasts.NumQueued()),
		"event_queue":  strconv.Itoa(s.eventBroadcasts.NumQueued()),
		"query_queue":  strconv.Itoa(s.queryBroadcasts.NumQueued()),
		"encrypted":    strconv.FormatBool(s.EncryptionEnabled()),
		// Not in Serf 0.10: lost peers the heal loop may try.
		"address_book": strconv.Itoa(s.book.size()),
	}
	if s.coordClient != nil {
		stats["coordinate_resets"] = strconv.Itoa(s.coordClient.Stats().Resets)
	}
	return stats
}

// checkQueueDepth watches one broadcast queue: it records the depth, warns
// when it grows, and prunes it when it passes the limit.
func (s *Serf) checkQueueDepth(name string, queue *memberlist.TransmitLimitedQueue) {
	t := time.NewTicker(s.config.QueueCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.checkQueueOnce(name, queue)
		case <-s.shutdownCh:
			return
		}
	}
}

func (s *Serf) checkQueueOnce(name string, queue *memberlist.TransmitLimitedQueue) {
	n := queue.NumQueued()
	s.mx.sample([]string{"serf", "queue", name}, float32(n))
	if n >= s.config.QueueDepthWarning {
		s.logger.Printf("[WARN] serf: %s queue depth: %d", name, n)
	}
	if limit := s.maxQueueDepth(); n > limit {
		s.logger.Printf("[WARN] serf: %s queue depth (%d) exceeds limit (%d), dropping messages!", name, n, limit)
		queue.Prune(limit)
	}
}

// maxQueueDepth is the queue limit, scaled with the cluster when
// MinQueueDepth is set.
func (s *Serf) maxQueueDepth() int {
	if s.config.MinQueueDepth > 0 {
		if d := 2 * s.NumMembers(); d > s.config.MinQueueDepth {
			return d
		}
		return s.config.MinQueueDepth
	}
	return s.config.MaxQueueDepth
}

// queueBounded queues a broadcast and, when that takes the queue past its
// limit, drops the oldest messages at once. Serf 0.10 trims only at the
// periodic queue check, so a burst of events could hold tens of megabytes
// for up to QueueCheckInterval; trimming here keeps memory flat. The
// messages kept are the same ones the periodic check would keep.
func (s *Serf) queueBounded(queue *memberlist.TransmitLimitedQueue, b memberlist.Broadcast) {
	queue.QueueBroadcast(b)
	if limit := s.maxQueueDepth(); queue.NumQueued() > limit {
		queue.Prune(limit)
		s.mx.incr([]string{"serf", "queue", s.queueName(queue), "dropped"}, 1)
	}
}

// queueName names one of the three broadcast queues, as the metrics and
// the queue-depth warnings do.
func (s *Serf) queueName(queue *memberlist.TransmitLimitedQueue) string {
	switch queue {
	case s.eventBroadcasts:
		return "Event"
	case s.queryBroadcasts:
		return "Query"
	default:
		return "Intent"
	}
}
