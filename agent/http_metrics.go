package agent

import (
	"net/http"

	"github.com/serfclone/serf/internal/promsink"
)

// Handler serves the server's /metrics, so the HTTP API can serve the
// same metrics on its own listener.
func (p *PrometheusServer) Handler() http.Handler { return p.server.Handler }

// NewPrometheusSink creates a Prometheus sink, like NewPrometheusServer
// but without a listener, and the handler that serves it: for an agent
// whose metrics are only on the HTTP API's /metrics.
func NewPrometheusSink() (*promsink.Sink, http.Handler, error) {
	sink := promsink.New(promsink.DefaultConfig())
	return sink, sink.Handler(), nil
}
