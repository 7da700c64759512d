package agent

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// HTTPConfig tunes the HTTP API. The zero value of every field but Logger
// means the default of DefaultHTTPConfig.
type HTTPConfig struct {
	// AuthToken, when not empty, must come with every request as
	// "Authorization: Bearer <token>" (or as the password of HTTP Basic
	// auth, which is what a browser can send for the page). The agent
	// passes its rpc_auth here.
	AuthToken string

	// LogWriter is the agent's log ring, the one RPC monitors read; the
	// log stream replays it and then follows it. Nil: no log lines.
	LogWriter *LogWriter

	// MetricsHandler, if set, is served at /metrics.
	MetricsHandler http.Handler

	// Logger receives the server's own log lines. Nil: the agent's.
	Logger *log.Logger

	// Ready reports whether the daemon has finished starting (joined its
	// cluster, or has nothing to join); /v1/health is 503 until it does.
	// Nil means always ready.
	Ready func() bool

	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64

	// StreamBuffer is how many events or log lines a stream holds for a
	// slow client before it drops new ones.
	StreamBuffer int

	// Timeouts of the server. Streams (events, logs, query results) lift
	// the read and write deadlines once the request has been read.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// Heartbeat is how often an idle stream sends a comment, so proxies
	// keep it open and a vanished client is noticed.
	Heartbeat time.Duration

	// MaxConns bounds the connections open at once on each listener;
	// past it new ones wait in the kernel's accept queue until one
	// closes. Zero means the agent's rpc_max_conns; negative, no bound.
	MaxConns int
}

// DefaultHTTPConfig returns the defaults: no token, 64 KiB bodies, 512
// buffered stream items, conservative timeouts and as many connections
// as DefaultRPCMaxConns.
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{
		MaxBodyBytes:      64 << 10,
		StreamBuffer:      512,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Heartbeat:         15 * time.Second,
		MaxConns:          DefaultRPCMaxConns,
	}
}

// withDefaults fills the zero fields of c from DefaultHTTPConfig.
func (c HTTPConfig) withDefaults() HTTPConfig {
	d := DefaultHTTPConfig()
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.StreamBuffer <= 0 {
		c.StreamBuffer = d.StreamBuffer
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = d.Heartbeat
	}
	if c.MaxConns == 0 {
		c.MaxConns = d.MaxConns
	}
	if c.Ready == nil {
		c.Ready = func() bool { return true }
	}
	return c
}

// HTTPServer is the agent's HTTP API and live page. It runs the same
// operations as the RPC server against the same agent. Shutdown stops it
// and waits for every request, stream and Serve call.
type HTTPServer struct {
	agent  *Agent
	conf   HTTPConfig
	logger *log.Logger
	server *http.Server
	// eventHandlers is the info "event_handlers" section, fixed at start
	// as for the RPC server.
	eventHandlers map[string]string

	// stopCh is closed by Shutdown so that streams end before the server
	// waits for its connections to go idle.
	stopCh   chan struct{}
	stopOnce sync.Once
	serving  sync.WaitGroup

	mu      sync.Mutex
	ln      []net.Listener
	stopped bool // Shutdown has begun: no new Serve calls
}

// NewHTTPServer prepares the API for a, which must have been started;
// call Serve to accept requests.
func NewHTTPServer(a *Agent, conf HTTPConfig) (*HTTPServer, error) {
	if a == nil {
		return nil, errors.New("http server needs an agent")
	}
	if conf.MaxConns == 0 && a.Config() != nil {
		conf.MaxConns = a.Config().RPCMaxConns
	}
	conf = conf.withDefaults()
	logger := conf.Logger
	if logger == nil {
		logger = a.Logger()
	}
	s := &HTTPServer{
		agent:         a,
		conf:          conf,
		logger:        logger,
		eventHandlers: statsEventHandlers(a.Config()),
		stopCh:        make(chan struct{}),
	}
	s.server = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: conf.ReadHeaderTimeout,
		ReadTimeout:       conf.ReadTimeout,
		WriteTimeout:      conf.WriteTimeout,
		IdleTimeout:       conf.IdleTimeout,
		// net/http's own complaints (bad requests, TLS on a plain
		// port) get the agent's log line shape.
		ErrorLog: log.New(logger.Writer(), "[WARN] agent.http: ", log.LstdFlags|log.Lmsgprefix),
	}
	return s, nil
}

// StartHTTPServer listens on addr and serves the API in a goroutine that
// Shutdown waits for.
func StartHTTPServer(a *Agent, addr string, conf HTTPConfig) (*HTTPServer, error) {
	s, err := NewHTTPServer(a, conf)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on HTTP address %s: %w", addr, err)
	}
	if !s.startServing() {
		_ = ln.Close()
		return nil, errors.New("http server is shut down")
	}
	go func() {
		defer s.serving.Done()
		if err := s.serve(ln); err != nil {
			s.logger.Printf("[ERR] agent.http: server stopped: %v", err)
		}
	}()
	return s, nil
}

// Serve accepts requests on ln until Shutdown. It returns nil after a
// Shutdown, like a clean stop, and the listener's error otherwise.
func (s *HTTPServer) Serve(ln net.Listener) error {
	if !s.startServing() {
		return nil
	}
	defer s.serving.Done()
	return s.serve(ln)
}

// startServing counts a Serve call for Shutdown to wait for; false once
// Shutdown has begun.
func (s *HTTPServer) startServing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.serving.Add(1)
	return true
}

func (s *HTTPServer) serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = append(s.ln, ln)
	s.mu.Unlock()
	addr := ln.Addr().String()
	s.logger.Printf("[INFO] agent.http: Serving the HTTP API on %s", addr)
	if s.conf.AuthToken == "" && !isLoopbackAddr(ln.Addr()) {
		s.logger.Printf("[WARN] agent.http: The HTTP API on %s is reachable from other hosts and "+
			"no rpc_auth token is set: anyone who can connect can control this agent", addr)
	}
	if s.conf.MaxConns > 0 {
		ln = netutil.LimitListener(ln, s.conf.MaxConns)
	}
	err := s.server.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Addrs are the addresses the server listens on.
func (s *HTTPServer) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.ln))
	for _, ln := range s.ln {
		out = append(out, ln.Addr())
	}
	return out
}

// Shutdown ends the streams, stops accepting, lets requests in flight
// finish until ctx is done (then closes their connections) and waits for
// every Serve call to return. Safe to call more than once.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopCh) })
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	err := s.server.Shutdown(ctx)
	if err != nil {
		// Past the deadline: cut what is left.
		_ = s.server.Close()
	}
	s.serving.Wait()
	return err
}

// handler builds the middleware chain, outermost first: panics become a
// JSON error, the Host is checked, cross-site browser writes are refused,
// the token is checked, and then the routes run.
func (s *HTTPServer) handler() http.Handler {
	var h http.Handler = s.routes()
	h = s.requireAuth(h)
	h = crossOriginGuard(h)
	h = s.checkHost(h)
	h = s.recoverPanics(h)
	return h
}

// recoverPanics turns a panic in a handler into a logged 500 with a JSON
// body; the agent keeps running either way.
func (s *HTTPServer) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Printf("[ERR] agent.http: panic serving %s %s: %v", r.Method, r.URL.Path, v)
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// crossOriginGuard refuses state-changing requests that a browser marks
// as coming from another site, so a web page cannot drive a local agent.
func crossOriginGuard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return cop.Handler(next)
}

// checkHost refuses, on a loopback listener, requests whose Host is not a
// loopback name: a loopback API is only reached as 127.0.0.1, [::1] or
// localhost, and any other name means a DNS-rebinding web page.
func (s *HTTPServer) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if local != nil && isLoopbackAddr(local) && !isLoopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not allowed on a loopback listener", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAuth checks the token when one is configured. The page routes
// ask for HTTP Basic auth (any user name, the token as password) so a
// browser prompts once and then sends it with every request of the page.
func (s *HTTPServer) requireAuth(next http.Handler) http.Handler {
	if s.conf.AuthToken == "" {
		return next
	}
	want := []byte(s.conf.AuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := requestToken(r)
		if ok && subtle.ConstantTimeCompare([]byte(got), want) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		msg := "authentication required"
		if ok {
			msg = "invalid authentication token"
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="serf"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="serf", charset="UTF-8"`)
		}
		writeError(w, http.StatusUnauthorized, msg)
	})
}

// requestToken extracts the token from a Bearer or Basic Authorization
// header.
func requestToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, value, found := strings.Cut(h, " ")
	if !found {
		return "", h != ""
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(value), true
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return "", true
		}
		_, password, _ := strings.Cut(string(raw), ":")
		return password, true
	}
	return "", true
}

// isLoopbackAddr reports whether a listener address is a loopback IP.
func isLoopbackAddr(a net.Addr) bool {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackHost reports whether a Host header names this machine's
// loopback interface.
func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
