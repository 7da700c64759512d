package agent

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-metrics"

	"github.com/serfclone/serf/internal/promsink"
	"github.com/serfclone/serf/serf"
)

// clusterGaugeInterval is how often the per-cluster gauges are refreshed:
// well inside a scrape interval, and rare enough that an idle agent does
// not wake every second to copy the member list.
const clusterGaugeInterval = 5 * time.Second

// runtimeGaugeInterval is how often go-metrics samples the Go runtime
// (goroutines, heap, GC pauses): once per interval of the in-memory sink,
// instead of go-metrics' default of every second, since reading the
// memory statistics briefly stops the process.
const runtimeGaugeInterval = 10 * time.Second

// memberStatuses are the statuses reported by the members gauge.
var memberStatuses = []serf.MemberStatus{serf.StatusAlive, serf.StatusLeaving, serf.StatusLeft, serf.StatusFailed}

// emitClusterGauges records gauges that describe the cluster as a whole:
// members by status, broadcast queue depths and the health score. There
// is deliberately no per-peer series, so the series count stays constant
// however large the cluster grows.
func (a *Agent) emitClusterGauges() {
	counts := make(map[serf.MemberStatus]int, len(memberStatuses))
	for _, m := range a.serf.Members() {
		counts[m.Status]++
	}
	for _, st := range memberStatuses {
		metrics.SetGaugeWithLabels([]string{"serf", "members"}, float32(counts[st]),
			[]metrics.Label{{Name: "status", Value: st.String()}})
	}
	stats := a.serf.Stats()
	for _, key := range []string{"intent_queue", "event_queue", "query_queue", "health_score"} {
		if v, err := strconv.ParseFloat(stats[key], 32); err == nil {
			metrics.SetGauge([]string{"serf", key}, float32(v))
		}
	}
}

// StartClusterGauges refreshes the cluster gauges until the agent stops;
// Shutdown waits for the goroutine.
func (a *Agent) StartClusterGauges() {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(clusterGaugeInterval)
		defer t.Stop()
		for {
			a.emitClusterGauges()
			select {
			case <-t.C:
			case <-a.shutdownCh:
				return
			}
		}
	}()
}

// PrometheusServer serves go-metrics' Prometheus sink at /metrics.
type PrometheusServer struct {
	Sink   *promsink.Sink
	server *http.Server
	ln     net.Listener
	done   chan struct{}
}

// NewPrometheusServer creates the sink and starts serving it on addr.
func NewPrometheusServer(addr string, logger *log.Logger) (*PrometheusServer, error) {
	sink := promsink.New(promsink.DefaultConfig())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on metrics address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", sink.Handler())
	p := &PrometheusServer{
		Sink:   sink,
		server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		ln:     ln,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		if err := p.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Printf("[ERR] agent: metrics server stopped: %v", err)
		}
	}()
	return p, nil
}

// Addr is the address the server listens on.
func (p *PrometheusServer) Addr() string { return p.ln.Addr().String() }

// Shutdown stops the server.
func (p *PrometheusServer) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.server.Shutdown(ctx)
	<-p.done
}

// telemetry is what setupTelemetry started: the SIGUSR1 dump of the
// in-memory sink and the Prometheus server, if any. Stop ends both.
type telemetry struct {
	signal *metrics.InmemSignal
	prom   *PrometheusServer
	// handler serves /metrics on the HTTP API's listener: the Prometheus
	// server's when -metrics-addr is set, else a sink of its own when only
	// -http-addr is. Nil when neither is.
	handler http.Handler
}

// Stop stops the signal listener and the Prometheus server.
func (t *telemetry) Stop() {
	if t == nil {
		return
	}
	t.signal.Stop()
	if t.prom != nil {
		t.prom.Shutdown()
	}
}

// setupTelemetry installs go-metrics with Serf's service name and an
// in-memory sink dumped to stderr on SIGUSR1, plus the configured
// external sinks and the Prometheus endpoint.
func setupTelemetry(conf *Config, logger *log.Logger) (*telemetry, error) {
	inm := metrics.NewInmemSink(10*time.Second, time.Minute)
	mc := metrics.DefaultConfig("serf-agent")
	mc.EnableHostname = false
	mc.ProfileInterval = runtimeGaugeInterval

	sinks := metrics.FanoutSink{inm}
	if conf.StatsiteAddr != "" {
		sink, err := metrics.NewStatsiteSink(conf.StatsiteAddr)
		if err != nil {
			return nil, fmt.Errorf("Failed to start statsite sink. Got: %w", err)
		}
		sinks = append(sinks, sink)
	}
	if conf.StatsdAddr != "" {
		sink, err := metrics.NewStatsdSink(conf.StatsdAddr)
		if err != nil {
			return nil, fmt.Errorf("Failed to start statsd sink. Got: %w", err)
		}
		sinks = append(sinks, sink)
	}
	if len(sinks) > 1 {
		mc.EnableHostname = true
	}
	t := &telemetry{}
	if conf.MetricsAddr != "" {
		prom, err := NewPrometheusServer(conf.MetricsAddr, logger)
		if err != nil {
			return nil, fmt.Errorf("Failed to start Prometheus metrics: %w", err)
		}
		t.prom = prom
		t.handler = prom.Handler()
		sinks = append(sinks, prom.Sink)
	} else if conf.HTTPAddr != "" {
		sink, h, err := NewPrometheusSink()
		if err != nil {
			return nil, fmt.Errorf("Failed to start Prometheus metrics: %w", err)
		}
		t.handler = h
		sinks = append(sinks, sink)
	}
	if _, err := metrics.NewGlobal(mc, sinks); err != nil {
		if t.prom != nil {
			t.prom.Shutdown()
		}
		return nil, fmt.Errorf("Failed to start metrics: %w", err)
	}
	t.signal = metrics.DefaultInmemSignal(inm)
	return t, nil
}
