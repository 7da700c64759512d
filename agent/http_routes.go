package agent

import (
	"fmt"
	"net/http"
	"strings"
)

// route is one path of the API and the handler of each of its methods.
type route struct {
	path    string
	methods map[string]apiHandler
}

// apiRoutes is the API, one line per endpoint, in the order of the
// README.
func (s *HTTPServer) apiRoutes() []route {
	return []route{
		{"/v1/members", map[string]apiHandler{http.MethodGet: s.getMembers}},
		{"/v1/info", map[string]apiHandler{http.MethodGet: s.getInfo}},
		{"/v1/tags", map[string]apiHandler{http.MethodPut: s.putTags}},
		{"/v1/tags/{key}", map[string]apiHandler{http.MethodDelete: s.deleteTag}},
		{"/v1/event", map[string]apiHandler{http.MethodPost: s.postEvent}},
		{"/v1/query", map[string]apiHandler{http.MethodPost: s.postQuery}},
		{"/v1/join", map[string]apiHandler{http.MethodPost: s.postJoin}},
		{"/v1/leave", map[string]apiHandler{http.MethodPost: s.postLeave}},
		{"/v1/force-leave/{node}", map[string]apiHandler{http.MethodPost: s.postForceLeave}},
		{"/v1/keys", map[string]apiHandler{http.MethodGet: s.getKeys}},
		{"/v1/keys/{op}", map[string]apiHandler{http.MethodPost: s.postKey}},
		{"/v1/coordinate/{node}", map[string]apiHandler{http.MethodGet: s.getCoordinate}},
		{"/v1/coordinates", map[string]apiHandler{http.MethodGet: s.getCoordinates}},
		{"/v1/rtt", map[string]apiHandler{http.MethodGet: s.getRTT}},
		{"/v1/health", map[string]apiHandler{http.MethodGet: s.getHealth}},
		{"/v1/stream/events", map[string]apiHandler{http.MethodGet: s.streamEvents}},
		{"/v1/stream/logs", map[string]apiHandler{http.MethodGet: s.streamLogs}},
	}
}

// routes is the mux: the API, /metrics when configured, the page and its
// assets, and a JSON 404 for everything else.
func (s *HTTPServer) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.path, &methodRoutes{byMethod: rt.methods})
	}
	if s.conf.MetricsHandler != nil {
		metricsHandler := s.conf.MetricsHandler
		mux.Handle("/metrics", &methodRoutes{byMethod: map[string]apiHandler{
			http.MethodGet: func(w http.ResponseWriter, r *http.Request) error {
				metricsHandler.ServeHTTP(w, r)
				return nil
			},
		}})
	}
	mux.Handle("/ui/", &methodRoutes{byMethod: map[string]apiHandler{http.MethodGet: s.getAsset}})
	mux.Handle("/{$}", &methodRoutes{byMethod: map[string]apiHandler{http.MethodGet: s.getPage}})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s", r.URL.Path))
	})
	return mux
}

// checkParams refuses query parameters the endpoint does not know, so a
// misspelt filter is an error rather than silently ignored.
func checkParams(r *http.Request, known ...string) error {
	for name := range r.URL.Query() {
		ok := false
		for _, k := range known {
			if name == k {
				ok = true
				break
			}
		}
		if !ok {
			if len(known) == 0 {
				return badRequest("unknown query parameter %q: this endpoint takes none", name)
			}
			return badRequest("unknown query parameter %q (known: %s)", name, strings.Join(known, ", "))
		}
	}
	return nil
}
