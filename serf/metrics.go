package serf

import (
	"github.com/hashicorp/go-metrics"
)

// metricMalformed counts gossip that could not be decoded. Serf 0.10 only
// logs such messages; the counter lets operators alert on them.
var metricMalformed = []string{"serf", "msgs", "malformed"}

// metricsEmitter sends Serf's metrics to a chosen sink, or to go-metrics'
// global one as Serf does when the program configured none.
type metricsEmitter struct {
	sink   *metrics.Metrics
	labels []metrics.Label
}

func (m metricsEmitter) incr(key []string, v float32) {
	if m.sink != nil {
		m.sink.IncrCounterWithLabels(key, v, m.labels)
		return
	}
	metrics.IncrCounterWithLabels(key, v, m.labels)
}

func (m metricsEmitter) sample(key []string, v float32) {
	if m.sink != nil {
		m.sink.AddSampleWithLabels(key, v, m.labels)
		return
	}
	metrics.AddSampleWithLabels(key, v, m.labels)
}
