package agent

import (
	"fmt"
	"net/http"
	"time"

	gprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the server's /metrics, so the HTTP API can serve the
// same registry on its own listener.
func (p *PrometheusServer) Handler() http.Handler { return p.server.Handler }

// NewPrometheusSink creates a Prometheus sink on its own registry, like
// NewPrometheusServer but without a listener, and the handler that serves
// it: for an agent whose metrics are only on the HTTP API's /metrics.
func NewPrometheusSink() (*gprom.PrometheusSink, http.Handler, error) {
	reg := prometheus.NewRegistry()
	sink, err := gprom.NewPrometheusSinkFrom(gprom.PrometheusOpts{
		Expiration: time.Minute,
		Registerer: reg,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create prometheus sink: %w", err)
	}
	return sink, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
