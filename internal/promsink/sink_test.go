package promsink

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves the sink once and parses the answer as Prometheus text.
func scrape(t *testing.T, s *Sink) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, body)
	}
	return fams, string(body)
}

func TestSinkSeries(t *testing.T) {
	s := New(DefaultConfig())
	status := []metrics.Label{{Name: "status", Value: "alive"}}
	s.SetGaugeWithLabels([]string{"serf-agent", "serf", "members"}, 3, status)
	s.IncrCounter([]string{"serf-agent", "member", "join"}, 1)
	s.IncrCounter([]string{"serf-agent", "member", "join"}, 2)
	s.IncrCounter([]string{"serf-agent", "member", "join"}, -5) // dropped
	for i := 1; i <= 10; i++ {
		s.AddSample([]string{"serf-agent", "msgs.sent"}, float32(i))
	}
	// A label value that needs escaping, and a clash of kinds.
	s.SetGaugeWithLabels([]string{"odd"}, 1, []metrics.Label{{Name: "v", Value: "a\"b\\c\nd"}})
	s.IncrCounter([]string{"serf-agent", "serf", "members"}, 1) // gauge already: dropped
	s.SetGauge([]string{"9lives"}, 9)
	s.SetGauge([]string{"bad{name"}, 1)
	s.EmitKey([]string{"nothing"}, 1)

	fams, body := scrape(t, s)
	cases := []struct {
		name string
		typ  dto.MetricType
		val  func(*dto.Metric) float64
		want float64
	}{
		{"serf_agent_serf_members", dto.MetricType_GAUGE, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() }, 3},
		{"serf_agent_member_join", dto.MetricType_COUNTER, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }, 3},
		{"serf_agent_msgs_sent", dto.MetricType_SUMMARY, func(m *dto.Metric) float64 { return float64(m.GetSummary().GetSampleCount()) }, 10},
		{"odd", dto.MetricType_GAUGE, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() }, 1},
		{"_9lives", dto.MetricType_GAUGE, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() }, 9},
		{"bad_name", dto.MetricType_GAUGE, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() }, 1},
	}
	for _, tc := range cases {
		fam, ok := fams[tc.name]
		if !ok {
			t.Errorf("no family %s in\n%s", tc.name, body)
			continue
		}
		if fam.GetType() != tc.typ || len(fam.GetMetric()) != 1 {
			t.Errorf("%s: type %v with %d series, want %v with 1", tc.name, fam.GetType(), len(fam.GetMetric()), tc.typ)
			continue
		}
		if got := tc.val(fam.GetMetric()[0]); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if l := fams["serf_agent_serf_members"].GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetValue() != "alive" {
		t.Errorf("members labels %v", l)
	}
	if l := fams["odd"].GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetValue() != "a\"b\\c\nd" {
		t.Errorf("escaped label came back as %v", l)
	}
	if _, ok := fams["nothing"]; ok {
		t.Errorf("EmitKey kept a series")
	}
}

func TestSinkExpires(t *testing.T) {
	s := New(Config{Expiration: time.Minute})
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	s.SetGauge([]string{"old"}, 1)
	now = now.Add(30 * time.Second)
	s.SetGauge([]string{"fresh"}, 1)
	now = now.Add(45 * time.Second)
	fams, body := scrape(t, s)
	if _, ok := fams["old"]; ok {
		t.Errorf("series not updated for 75s is still served:\n%s", body)
	}
	if _, ok := fams["fresh"]; !ok {
		t.Errorf("series updated 45s ago is gone:\n%s", body)
	}
	// An expired name can come back.
	s.SetGauge([]string{"old"}, 2)
	if fams, _ := scrape(t, s); fams["old"].GetMetric()[0].GetGauge().GetValue() != 2 {
		t.Errorf("expired series did not come back")
	}
}

// FuzzSeriesName checks that no key or label makes the sink panic or
// write something a Prometheus parser refuses.
func FuzzSeriesName(f *testing.F) {
	f.Add("serf", "member", "status", "alive")
	f.Add("a{b", "}", "x=\"", "\\\n")
	f.Add("q", "x", "quantile", "1")
	f.Add("d", "x", "a-b", "1")
	f.Fuzz(func(t *testing.T, k1, k2, ln, lv string) {
		s := New(DefaultConfig())
		labels := []metrics.Label{{Name: ln, Value: lv}, {Name: strings.ReplaceAll(ln, "-", "_"), Value: lv}}
		s.SetGaugeWithLabels([]string{k1, k2}, 1, labels)
		s.AddSampleWithLabels([]string{k1, k2, "s"}, 1, labels)
		scrape(t, s)
	})
}
