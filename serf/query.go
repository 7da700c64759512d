package serf

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// QueryParam tunes a query. The zero value queries every node with the
// default timeout and no acks.
type QueryParam struct {
	// FilterNodes limits the query to the named nodes.
	FilterNodes []string

	// FilterTags limits the query to nodes whose tag matches the regular
	// expression (unanchored), for every entry.
	FilterTags map[string]string

	// RequestAck asks every node that processes the query to ack it.
	RequestAck bool

	// RelayFactor sends each ack and response through this many other
	// members as well, for delivery despite partial partitions.
	RelayFactor uint8

	// Timeout is how long to wait for answers; zero means the default.
	Timeout time.Duration
}

// DefaultQueryTimeout is GossipInterval * QueryTimeoutMult * ceil(log10(N+1))
// for N live members: long enough for the query to reach everyone.
func (s *Serf) DefaultQueryTimeout() time.Duration {
	n := s.memberlist.NumMembers()
	timeout := s.config.MemberlistConfig.GossipInterval
	timeout *= time.Duration(s.config.QueryTimeoutMult)
	timeout *= time.Duration(math.Ceil(math.Log10(float64(n + 1))))
	return timeout
}

// DefaultQueryParams returns parameters with the default timeout.
func (s *Serf) DefaultQueryParams() *QueryParam {
	return &QueryParam{Timeout: s.DefaultQueryTimeout()}
}

// encodeFilters turns the parameters into wire filters: one node filter,
// then one tag filter per entry.
func (p *QueryParam) encodeFilters() ([][]byte, error) {
	var filters [][]byte
	if len(p.FilterNodes) > 0 {
		buf, err := encodeFilter(filterNodeType, p.FilterNodes)
		if err != nil {
			return nil, err
		}
		filters = append(filters, buf)
	}
	for tag, expr := range p.FilterTags {
		buf, err := encodeFilter(filterTagType, &filterTag{Tag: tag, Expr: expr})
		if err != nil {
			return nil, err
		}
		filters = append(filters, buf)
	}
	return filters, nil
}

// NodeResponse is one node's answer to a query.
type NodeResponse struct {
	From    string
	Payload []byte
}

// QueryResponse collects the acks and responses of a query until its
// deadline, when both channels are closed.
type QueryResponse struct {
	ackCh  chan string
	respCh chan NodeResponse

	deadline time.Time
	id       uint32
	lTime    LamportTime

	acks      map[string]struct{}
	responses map[string]struct{}

	closeLock sync.Mutex
	closed    bool

	expect *queryExpect // who is still to answer (query_expect.go); nil if not known
}

func newQueryResponse(n int, q *messageQuery) *QueryResponse {
	if n < 1 {
		n = 1
	}
	resp := &QueryResponse{
		deadline:  time.Now().Add(q.Timeout),
		id:        q.ID,
		lTime:     q.LTime,
		respCh:    make(chan NodeResponse, n),
		responses: make(map[string]struct{}),
	}
	if q.Ack() {
		resp.ackCh = make(chan string, n)
		resp.acks = make(map[string]struct{})
	}
	return resp
}

// AckCh yields the names of nodes that acked; nil if acks were not asked.
func (r *QueryResponse) AckCh() <-chan string { return r.ackCh }

// ResponseCh yields the responses as they arrive.
func (r *QueryResponse) ResponseCh() <-chan NodeResponse { return r.respCh }

// Deadline is when the query stops collecting answers.
func (r *QueryResponse) Deadline() time.Time { return r.deadline }

// Finished reports whether the query is closed or past its deadline.
func (r *QueryResponse) Finished() bool {
	r.closeLock.Lock()
	defer r.closeLock.Unlock()
	return r.closed || time.Now().After(r.deadline)
}

// Close stops collecting and closes the channels. Safe to call twice.
func (r *QueryResponse) Close() {
	r.closeLock.Lock()
	defer r.closeLock.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if r.ackCh != nil {
		close(r.ackCh)
	}
	close(r.respCh)
}

// deliver records an ack or response from resp.From, once per node.
func (r *QueryResponse) deliver(s *Serf, resp *messageQueryResponse) {
	r.closeLock.Lock()
	defer r.closeLock.Unlock()
	if r.closed || time.Now().After(r.deadline) {
		return
	}
	if resp.Ack() {
		if r.ackCh == nil {
			return
		}
		if _, dup := r.acks[resp.From]; dup {
			s.mx.incr([]string{"serf", "query_duplicate_acks"}, 1)
			return
		}
		s.mx.incr([]string{"serf", "query_acks"}, 1)
		select {
		case r.ackCh <- resp.From:
			r.acks[resp.From] = struct{}{}
			r.expect.arrived(resp.From, true)
		default:
			s.logger.Printf("[WARN] serf: Failed to deliver query ack, dropping")
		}
		return
	}
	if _, dup := r.responses[resp.From]; dup {
		s.mx.incr([]string{"serf", "query_duplicate_responses"}, 1)
		return
	}
	s.mx.incr([]string{"serf", "query_responses"}, 1)
	select {
	case r.respCh <- NodeResponse{From: resp.From, Payload: resp.Payload}:
		r.responses[resp.From] = struct{}{}
		r.expect.arrived(resp.From, false)
	default:
		s.logger.Printf("[WARN] serf: Failed to deliver query response, dropping")
	}
}

// Query sends a query to the cluster and returns a handle on its answers.
func (s *Serf) Query(name string, payload []byte, params *QueryParam) (*QueryResponse, error) {
	if s.config.ProtocolVersion < 4 {
		return nil, ErrFeatureNotSupported
	}
	if s.State() == SerfShutdown {
		return nil, errShutdown
	}
	if params == nil {
		params = s.DefaultQueryParams()
	} else if params.Timeout == 0 {
		p := *params
		p.Timeout = s.DefaultQueryTimeout()
		params = &p
	}
	// Receivers skip a query whose tag filter does not compile; catch the
	// mistake here, where it can be reported.
	for tag, expr := range params.FilterTags {
		if _, err := compileTagFilter(expr); err != nil {
			return nil, fmt.Errorf("invalid tag filter for %q: %w", tag, err)
		}
	}
	filters, err := params.encodeFilters()
	if err != nil {
		return nil, fmt.Errorf("failed to format filters: %w", err)
	}
	var flags uint32
	if params.RequestAck {
		flags |= queryFlagAck
	}
	// Pending queries are keyed by LTime: pick the LTime and handle the
	// query (which advances the clock past it) under one lock, so two
	// concurrent queries never share an LTime.
	s.querySendLock.Lock()
	defer s.querySendLock.Unlock()

	addr, port := s.localAddr()
	q := messageQuery{
		LTime:       s.queryClock.Time(),
		ID:          rand.Uint32() >> 1,
		Addr:        addr,
		Port:        port,
		SourceNode:  s.config.NodeName,
		Filters:     filters,
		Flags:       flags,
		RelayFactor: params.RelayFactor,
		Timeout:     params.Timeout,
		Name:        name,
		Payload:     payload,
	}
	raw, err := encodeMessage(messageQueryType, &q)
	if err != nil {
		return nil, err
	}
	if len(raw) > s.config.QuerySizeLimit {
		return nil, fmt.Errorf("query exceeds limit of %d bytes", s.config.QuerySizeLimit)
	}

	resp := newQueryResponse(s.memberlist.NumMembers(), &q)
	resp.expect = s.expectAnswers(params) // query_expect.go
	if err := s.registerQueryResponse(params.Timeout, resp); err != nil {
		return nil, err
	}
	// Handle it ourselves first: we filter, ack and answer like any node.
	s.handleQuery(&q)
	s.queueBounded(s.queryBroadcasts, &broadcast{msg: raw})
	s.push(raw, "", true) // push.go
	return resp, nil
}

// registerQueryResponse tracks a pending query by LTime and closes it at
// its timeout.
func (s *Serf) registerQueryResponse(timeout time.Duration, resp *QueryResponse) error {
	s.queryLock.Lock()
	if _, busy := s.queryResponse[resp.lTime]; busy {
		s.queryLock.Unlock()
		return fmt.Errorf("a query is already pending at LTime %d", resp.lTime)
	}
	s.queryResponse[resp.lTime] = resp
	s.queryLock.Unlock()

	started := s.goFunc(func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.shutdownCh:
		}
		s.queryLock.Lock()
		delete(s.queryResponse, resp.lTime)
		s.queryLock.Unlock()
		resp.Close()
	})
	if !started { // shutting down: no answers will come
		s.queryLock.Lock()
		delete(s.queryResponse, resp.lTime)
		s.queryLock.Unlock()
		resp.Close()
		return errShutdown
	}
	return nil
}

// handleQuery processes a query from gossip (or our own). It reports
// whether the query should be re-gossiped.
func (s *Serf) handleQuery(query *messageQuery) bool {
	verdict, cur := admitOnce(&s.queryClock, &s.queryLock, &s.queryMinTime, s.queryBuffer.size(), query.LTime,
		func() bool { return s.queryBuffer.add(query.LTime, query.ID) })
	switch verdict {
	case admitTooOld:
		s.logger.Printf("[WARN] serf: received old query %s from time %d (current: %d)", query.Name, query.LTime, cur)
		return false
	case admitDuplicate, admitBeforeMin:
		return false
	}

	s.mx.incr([]string{"serf", "queries"}, 1)
	s.mx.incr([]string{"serf", "queries", query.Name}, 1)

	rebroadcast := !query.NoBroadcast()
	if !s.shouldProcessQuery(query.Filters) {
		return rebroadcast
	}

	if query.Ack() {
		ack := messageQueryResponse{LTime: query.LTime, ID: query.ID, From: s.config.NodeName, Flags: queryFlagAck}
		raw, err := encodeMessage(messageQueryResponseType, &ack)
		if err != nil {
			s.logger.Printf("[ERR] serf: failed to format ack: %v", err)
		} else {
			dest := net.UDPAddr{IP: query.Addr, Port: int(query.Port)}
			if err := s.memberlist.SendToAddress(memberlist.Address{Addr: dest.String(), Name: query.SourceNode}, raw); err != nil {
				s.logger.Printf("[ERR] serf: failed to send ack: %v", err)
			}
			if err := s.relayResponse(query.RelayFactor, dest, query.SourceNode, &ack); err != nil {
				s.logger.Printf("[ERR] serf: failed to relay ack: %v", err)
			}
		}
	}

	s.emit(&Query{
		LTime:       query.LTime,
		Name:        query.Name,
		Payload:     query.Payload,
		serf:        s,
		id:          query.ID,
		addr:        query.Addr,
		port:        query.Port,
		sourceNode:  query.SourceNode,
		deadline:    time.Now().Add(query.Timeout),
		relayFactor: query.RelayFactor,
	})
	return rebroadcast
}

// shouldProcessQuery checks every filter; all must match. A filter that
// cannot be read means "not for us".
func (s *Serf) shouldProcessQuery(filters [][]byte) bool {
	for _, f := range filters {
		if len(f) == 0 {
			s.logger.Printf("[WARN] serf: empty filter")
			return false
		}
		switch filterType(f[0]) {
		case filterNodeType:
			var nodes []string
			if err := decodeMessage(f[1:], &nodes); err != nil {
				s.logger.Printf("[WARN] serf: failed to decode filterNodeType: %v", err)
				return false
			}
			found := false
			for _, n := range nodes {
				if n == s.config.NodeName {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		case filterTagType:
			var filt filterTag
			if err := decodeMessage(f[1:], &filt); err != nil {
				s.logger.Printf("[WARN] serf: failed to decode filterTagType: %v", err)
				return false
			}
			s.tagsLock.RLock()
			value := s.tags[filt.Tag]
			s.tagsLock.RUnlock()
			re, err := compileTagFilter(filt.Expr)
			if err != nil {
				s.logger.Printf("[WARN] serf: failed to compile filter regex (%s): %v", filt.Expr, err)
				return false
			}
			if !re.MatchString(value) {
				return false
			}
		default:
			s.logger.Printf("[WARN] serf: query has unrecognized filter type: %d", f[0])
			return false
		}
	}
	return true
}

// handleQueryResponse files an ack or response with its pending query.
func (s *Serf) handleQueryResponse(resp *messageQueryResponse) {
	s.queryLock.Lock()
	query, ok := s.queryResponse[resp.LTime]
	s.queryLock.Unlock()
	if !ok {
		s.logger.Printf("[WARN] serf: reply for non-running query (LTime: %d, ID: %d) From: %s",
			resp.LTime, resp.ID, resp.From)
		return
	}
	if query.id != resp.ID {
		s.logger.Printf("[WARN] serf: Query reply ID mismatch (Local: %d, Response: %d)", query.id, resp.ID)
		return
	}
	query.deliver(s, resp)
}

// sendQueryResponse sends a response to the originator and its relays.
func (s *Serf) sendQueryResponse(q *Query, resp messageQueryResponse) error {
	raw, err := encodeMessage(messageQueryResponseType, &resp)
	if err != nil {
		return fmt.Errorf("failed to format response: %w", err)
	}
	if len(raw) > s.config.QueryResponseSizeLimit {
		return fmt.Errorf("response exceeds limit of %d bytes", s.config.QueryResponseSizeLimit)
	}
	dest := q.sourceAddr()
	if err := s.sendQueryBytes(memberlist.Address{Addr: dest.String(), Name: q.sourceNode}, raw); err != nil { // query_reliable.go
		return err
	}
	return s.relayResponse(q.relayFactor, dest, q.sourceNode, &resp)
}

// relayResponse sends copies of a response through up to relayFactor
// random live members, which forward it to the originator.
func (s *Serf) relayResponse(relayFactor uint8, dest net.UDPAddr, destName string, resp *messageQueryResponse) error {
	if relayFactor == 0 {
		return nil
	}
	if s.NumMembers() < int(relayFactor)+1 {
		return nil
	}
	raw, err := encodeRelayMessage(messageQueryResponseType, dest, destName, resp)
	if err != nil {
		return fmt.Errorf("failed to format relayed response: %w", err)
	}
	if len(raw) > s.config.QueryResponseSizeLimit {
		return fmt.Errorf("relayed response exceeds limit of %d bytes", s.config.QueryResponseSizeLimit)
	}
	var errs []error
	for _, m := range s.relayCandidates(int(relayFactor)) {
		addr := net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
		if err := s.sendQueryBytes(memberlist.Address{Addr: addr, Name: m.Name}, raw); err != nil { // query_reliable.go
			errs = append(errs, fmt.Errorf("relay via %s: %w", m.Name, err))
		}
	}
	return errors.Join(errs...)
}

// relayCandidates picks up to k distinct live members, not us, that speak
// memberlist protocol 5, within 3*members random draws as Serf does.
func (s *Serf) relayCandidates(k int) []Member {
	s.memberLock.RLock()
	defer s.memberLock.RUnlock()
	all := make([]*memberState, 0, len(s.members))
	for _, m := range s.members {
		all = append(all, m)
	}
	picked := make(map[string]struct{}, k)
	var out []Member
	for i := 0; i < 3*len(all) && len(out) < k; i++ {
		m := all[rand.IntN(len(all))]
		if m.Status != StatusAlive || m.ProtocolMax < 5 || m.Name == s.config.NodeName {
			continue
		}
		if _, dup := picked[m.Name]; dup {
			continue
		}
		picked[m.Name] = struct{}{}
		out = append(out, m.clone())
	}
	return out
}

// handleRelay forwards the inner bytes of a relay message, unchanged, to
// the destination named in its header.
func (s *Serf) handleRelay(buf []byte) {
	h, rest, err := decodeRelayHeader(buf)
	if err != nil {
		s.dropMalformed(messageRelayType, err)
		return
	}
	if len(rest) == 0 {
		s.dropMalformed(messageRelayType, errors.New("relay message carries nothing"))
		return
	}
	addr := h.DestAddr.String()
	s.logger.Printf("[DEBUG] serf: Relaying response to addr: %s", addr)
	forward := func() {
		if err := s.sendQueryBytes(memberlist.Address{Addr: addr, Name: h.DestName}, rest); err != nil { // query_reliable.go
			s.logger.Printf("[ERR] serf: Error forwarding message to %s: %s", addr, err)
		}
	}
	if len(rest) <= s.packetLimit() {
		forward()
		return
	}
	// A relay too large for a packet goes over TCP, which may take up to
	// memberlist's TCP timeout: not on memberlist's packet handler, which
	// every other message waits behind. Serf owns the goroutine; after
	// shutdown the relay is dropped, as its query has no use for it.
	rest = append([]byte(nil), rest...)
	if !s.goFunc(forward) {
		s.logger.Printf("[DEBUG] serf: Dropping relay to %s: shutting down", addr)
	}
}
