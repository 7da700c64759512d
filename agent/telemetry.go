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
	gprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/serfclone/serf/serf"
)

// clusterGaugeInterval is how often the per-cluster gauges are refreshed.
const clusterGaugeInterval = time.Second

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

// StartClusterGauges refreshes the cluster gauges until the agent stops.
func (a *Agent) StartClusterGauges() {
	go func() {
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
	Sink   *gprom.PrometheusSink
	server *http.Server
	ln     net.Listener
	done   chan struct{}
}

// NewPrometheusServer creates the sink on its own registry and starts
// serving it on addr.
func NewPrometheusServer(addr string, logger *log.Logger) (*PrometheusServer, error) {
	reg := prometheus.NewRegistry()
	sink, err := gprom.NewPrometheusSinkFrom(gprom.PrometheusOpts{
		Expiration: time.Minute,
		Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("create prometheus sink: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on metrics address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
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
