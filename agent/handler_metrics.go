package agent

import (
	"time"

	"github.com/hashicorp/go-metrics"
)

// The runner's metrics, all labelled with the lane ("member", "user" or
// "query") and nothing else, so the number of series does not grow with
// the number of scripts or events. Under the agent's "serf-agent" service
// name they read serf-agent.agent.handler.<name>, and in Prometheus
// serf_agent_agent_handler_<name>{lane="..."}.
var (
	metricQueueDepth = []string{"agent", "handler", "queue_depth"} // gauge: events waiting
	metricRuns       = []string{"agent", "handler", "runs"}        // counter: script runs begun
	metricFailures   = []string{"agent", "handler", "failures"}    // counter: failed to start or exited non-zero
	metricTimeouts   = []string{"agent", "handler", "timeouts"}    // counter: stopped at handler_timeout
	metricDropped    = []string{"agent", "handler", "dropped"}     // counter: events dropped, lane full
	metricMerged     = []string{"agent", "handler", "merged"}      // counter: member events merged, lane full
	metricExpired    = []string{"agent", "handler", "expired"}     // counter: query scripts not run, deadline passed
	metricRunTime    = []string{"agent", "handler", "run_time"}    // timer: one script's run, in ms
)

// handlerMetrics sends the runner's metrics to a go-metrics instance, or
// to the process-wide one the agent sets up when none is given.
type handlerMetrics struct {
	m *metrics.Metrics
}

func laneLabel(lane string) []metrics.Label {
	return []metrics.Label{{Name: "lane", Value: lane}}
}

func (h handlerMetrics) incr(name []string, lane string, n int) {
	if h.m != nil {
		h.m.IncrCounterWithLabels(name, float32(n), laneLabel(lane))
		return
	}
	metrics.IncrCounterWithLabels(name, float32(n), laneLabel(lane))
}

func (h handlerMetrics) gauge(name []string, lane string, v int) {
	if h.m != nil {
		h.m.SetGaugeWithLabels(name, float32(v), laneLabel(lane))
		return
	}
	metrics.SetGaugeWithLabels(name, float32(v), laneLabel(lane))
}

func (h handlerMetrics) since(name []string, lane string, start time.Time) {
	if h.m != nil {
		h.m.MeasureSinceWithLabels(name, start, laneLabel(lane))
		return
	}
	metrics.MeasureSinceWithLabels(name, start, laneLabel(lane))
}

// invoked records Serf's own per-script timer, agent.invoke.<script>,
// which dashboards built for Serf read.
func (h handlerMetrics) invoked(script string, start time.Time) {
	key := []string{"agent", "invoke", script}
	if h.m != nil {
		h.m.MeasureSince(key, start)
		return
	}
	metrics.MeasureSince(key, start)
}
