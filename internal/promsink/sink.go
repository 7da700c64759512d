// Package promsink is a go-metrics sink exposed in the Prometheus text
// format, built on VictoriaMetrics' small metrics library rather than the
// Prometheus client. The client and the protobuf runtime it needs cost an
// agent about 2.5 MiB of resident memory from their package
// initialisation alone, even when /metrics is never scraped; this sink
// costs next to nothing until a metric is recorded.
//
// Names and series are those of go-metrics' own Prometheus sink: the key
// parts joined with "_" (spaces, dots, dashes, "=" and "/" become "_"),
// labels as Prometheus labels, counters and gauges as such, samples as
// summaries with the 0.5, 0.9 and 0.99 quantiles over a 10 s window. A
// series not updated for Expiration is dropped.
package promsink

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/go-metrics"
)

// Config is a sink's settings.
type Config struct {
	// Expiration is how long a series that is not updated stays.
	Expiration time.Duration
}

// DefaultConfig is go-metrics' Prometheus sink's default: one minute.
func DefaultConfig() Config { return Config{Expiration: time.Minute} }

// summaryWindow and summaryQuantiles match go-metrics' Prometheus sink.
const summaryWindow = 10 * time.Second

var summaryQuantiles = []float64{0.5, 0.9, 0.99}

// kind is what a series is; a name keeps the kind it was first seen as.
type kind uint8

const (
	kindGauge kind = iota + 1
	kindCounter
	kindSummary
)

type series struct {
	kind    kind
	updated time.Time
	gauge   *vm.Gauge
	counter *vm.FloatCounter
	summary *vm.Summary
}

// Sink implements metrics.MetricSink and serves what it holds.
type Sink struct {
	conf Config
	now  func() time.Time

	mu     sync.Mutex
	set    *vm.Set
	series map[string]*series
	// families holds each family's kind and number of series: a family
	// has one kind, whatever its labels.
	families map[string]*family
}

type family struct {
	kind   kind
	series int
}

// familyOf is the metric name without its labels.
func familyOf(name string) string {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		return name[:i]
	}
	return name
}

var (
	_ metrics.MetricSink               = (*Sink)(nil)
	_ metrics.PrecisionGaugeMetricSink = (*Sink)(nil)
)

// New returns an empty sink.
func New(conf Config) *Sink {
	if conf.Expiration <= 0 {
		conf.Expiration = DefaultConfig().Expiration
	}
	// The library writes the # HELP and # TYPE lines only when asked, and
	// the switch is the library's own; every sink wants them.
	vm.ExposeMetadata(true)
	return &Sink{conf: conf, now: time.Now, set: vm.NewSet(), series: make(map[string]*series), families: make(map[string]*family)}
}

// Handler serves the sink at the Prometheus text exposition format.
func (s *Sink) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.expire()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.set.WritePrometheus(w)
	})
}

// expire drops the series not updated within the expiration.
func (s *Sink) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.now().Add(-s.conf.Expiration)
	for name, sr := range s.series {
		if sr.updated.Before(cutoff) {
			s.set.UnregisterMetric(name)
			delete(s.series, name)
			fam := familyOf(name)
			if f := s.families[fam]; f != nil {
				if f.series--; f.series <= 0 {
					delete(s.families, fam)
				}
			}
		}
	}
}

// get returns the series of name, creating it as k; nil if name is
// already a series of another kind (such a sample is dropped, as the
// Prometheus client would refuse the clash).
func (s *Sink) get(name string, k kind) *series {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr, ok := s.series[name]
	if !ok {
		// The library panics on a name it cannot write; such a sample
		// is dropped instead.
		if vm.ValidateMetric(name) != nil {
			return nil
		}
		fam := s.families[familyOf(name)]
		if fam == nil {
			fam = &family{kind: k}
			s.families[familyOf(name)] = fam
		}
		if fam.kind != k {
			return nil
		}
		fam.series++
		sr = &series{kind: k}
		switch k {
		case kindGauge:
			sr.gauge = s.set.NewGauge(name, nil)
		case kindCounter:
			sr.counter = s.set.NewFloatCounter(name)
		case kindSummary:
			sr.summary = s.set.NewSummaryExt(name, summaryWindow, summaryQuantiles)
		}
		s.series[name] = sr
	}
	if sr.kind != k {
		return nil
	}
	sr.updated = s.now()
	return sr
}

// SetGauge implements metrics.MetricSink.
func (s *Sink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// SetGaugeWithLabels implements metrics.MetricSink.
func (s *Sink) SetGaugeWithLabels(key []string, val float32, labels []metrics.Label) {
	s.SetPrecisionGaugeWithLabels(key, float64(val), labels)
}

// SetPrecisionGauge implements metrics.PrecisionGaugeMetricSink.
func (s *Sink) SetPrecisionGauge(key []string, val float64) {
	s.SetPrecisionGaugeWithLabels(key, val, nil)
}

// SetPrecisionGaugeWithLabels implements metrics.PrecisionGaugeMetricSink.
func (s *Sink) SetPrecisionGaugeWithLabels(key []string, val float64, labels []metrics.Label) {
	if sr := s.get(seriesName(key, labels), kindGauge); sr != nil {
		sr.gauge.Set(val)
	}
}

// EmitKey implements metrics.MetricSink; like go-metrics' Prometheus
// sink, it keeps nothing.
func (s *Sink) EmitKey([]string, float32) {}

// IncrCounter implements metrics.MetricSink.
func (s *Sink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }

// IncrCounterWithLabels implements metrics.MetricSink. A counter only
// goes up; a negative increment is dropped.
func (s *Sink) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	if val < 0 {
		return
	}
	if sr := s.get(seriesName(key, labels), kindCounter); sr != nil {
		sr.counter.Add(float64(val))
	}
}

// AddSample implements metrics.MetricSink.
func (s *Sink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }

// AddSampleWithLabels implements metrics.MetricSink.
func (s *Sink) AddSampleWithLabels(key []string, val float32, labels []metrics.Label) {
	if sr := s.get(seriesName(key, labels), kindSummary); sr != nil {
		sr.summary.Update(float64(val))
	}
}

// seriesName is the Prometheus series of a key and labels:
// name{label="value",...}, labels sorted by name.
func seriesName(key []string, labels []metrics.Label) string {
	var b strings.Builder
	b.WriteString(sanitize(strings.Join(key, "_")))
	if len(labels) == 0 {
		return b.String()
	}
	names := make([]metrics.Label, 0, len(labels))
	for _, l := range labels {
		n := strings.ReplaceAll(sanitize(l.Name), ":", "_") // no colons in label names
		if n == "quantile" || strings.HasPrefix(n, "__") {
			n = "x" + n // quantile is the summaries' own; __ is reserved
		}
		names = append(names, metrics.Label{Name: n, Value: l.Value})
	}
	sort.SliceStable(names, func(i, j int) bool { return names[i].Name < names[j].Name })
	b.WriteByte('{')
	for i, l := range names {
		if i > 0 && l.Name == names[i-1].Name {
			continue // two labels that sanitise alike: the first wins
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(escapeValue(l.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// sanitize makes a valid metric or label name: every byte outside
// [a-zA-Z0-9_:] becomes "_", and a leading digit gets a "_" before it.
// go-metrics' Prometheus sink maps the common separators the same way.
func sanitize(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	if b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// labelEscaper escapes a label value for the text format.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escapeValue makes v a valid label value: UTF-8, escaped.
func escapeValue(v string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(v, "\uFFFD"))
}
