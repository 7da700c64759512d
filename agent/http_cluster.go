package agent

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/serfclone/serf/coordinate"
	"github.com/serfclone/serf/serf"
)

// This file holds the read-mostly endpoints: members, info, tags,
// coordinates, rtt and health.

// httpMember is a member as `serf members -format=json` shows it.
type httpMember struct {
	Name     string            `json:"name"`
	Addr     string            `json:"addr"`
	Port     uint16            `json:"port"`
	Tags     map[string]string `json:"tags"`
	Status   string            `json:"status"`
	Protocol httpProtocol      `json:"protocol"`
}

// httpProtocol is a member's Serf (delegate) protocol range.
type httpProtocol struct {
	Max     uint8 `json:"max"`
	Min     uint8 `json:"min"`
	Version uint8 `json:"version"`
}

type httpMembersReply struct {
	Members []httpMember `json:"members"`
}

// toHTTPMembers converts members, sorted by name; never nil.
func toHTTPMembers(members []serf.Member) []httpMember {
	out := make([]httpMember, 0, len(members))
	for _, m := range members {
		tags := m.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out = append(out, httpMember{
			Name:     m.Name,
			Addr:     net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))),
			Port:     m.Port,
			Tags:     tags,
			Status:   m.Status.String(),
			Protocol: httpProtocol{Max: m.DelegateMax, Min: m.DelegateMin, Version: m.DelegateCur},
		})
	}
	slices.SortFunc(out, func(a, b httpMember) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// getMembers is `serf members`: ?status=, ?name= and repeatable
// ?tag=key=regexp, each anchored at both ends as the RPC filter does.
func (s *HTTPServer) getMembers(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, "status", "name", "tag"); err != nil {
		return err
	}
	q := r.URL.Query()
	tags := make(map[string]string)
	for _, arg := range q["tag"] {
		key, expr, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return badRequest("Invalid tag: '%s' (want tag=key=regexp)", arg)
		}
		tags[key] = expr
	}
	members, err := filterMembers(s.agent.Serf().Members(), tags, q.Get("status"), q.Get("name"))
	if err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusOK, httpMembersReply{Members: toHTTPMembers(members)})
	return nil
}

// getInfo is `serf info`: the stats sections.
func (s *HTTPServer) getInfo(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, agentStats(s.agent, s.eventHandlers))
	return nil
}

type httpTagsRequest struct {
	Tags   map[string]string `json:"tags"`
	Delete []string          `json:"delete"`
}

type httpTagsReply struct {
	Tags map[string]string `json:"tags"`
}

// putTags is `serf tags -set ... -delete ...`. A tag both set and deleted
// ends up set, as with the RPC command.
func (s *HTTPServer) putTags(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	var req httpTagsRequest
	if err := decodeJSON(w, r, s.conf.MaxBodyBytes, &req, true); err != nil {
		return err
	}
	if len(req.Tags) == 0 && len(req.Delete) == 0 {
		return badRequest(`nothing to change: give "tags" to set and/or "delete" to remove`)
	}
	for k := range req.Tags {
		if k == "" {
			return badRequest("tag names must not be empty")
		}
	}
	return s.updateTags(w, req.Tags, req.Delete)
}

// deleteTag is `serf tags -delete key`.
func (s *HTTPServer) deleteTag(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	return s.updateTags(w, nil, []string{r.PathValue("key")})
}

func (s *HTTPServer) updateTags(w http.ResponseWriter, set map[string]string, del []string) error {
	if err := s.requireAlive(); err != nil {
		return err
	}
	var keep []string
	for _, k := range del {
		if _, setting := set[k]; !setting {
			keep = append(keep, k)
		}
	}
	if err := s.agent.UpdateTags(set, keep); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, httpTagsReply{Tags: s.agent.Serf().LocalTags()})
	return nil
}

// httpCoordinate is a Vivaldi coordinate; distances are in seconds.
type httpCoordinate struct {
	Vec        []float64 `json:"vec"`
	Error      float64   `json:"error"`
	Adjustment float64   `json:"adjustment"`
	Height     float64   `json:"height"`
}

func toHTTPCoordinate(c *coordinate.Coordinate) *httpCoordinate {
	vec := c.Vec
	if vec == nil {
		vec = []float64{}
	}
	return &httpCoordinate{Vec: vec, Error: c.Error, Adjustment: c.Adjustment, Height: c.Height}
}

type httpNodeCoordinate struct {
	Node  string          `json:"node"`
	Coord *httpCoordinate `json:"coord"`
}

// getCoordinate is the RPC get-coordinate: the last coordinate heard from
// a node, or 404.
func (s *HTTPServer) getCoordinate(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	node := r.PathValue("node")
	c, err := s.cachedCoordinate(node)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, httpNodeCoordinate{Node: node, Coord: toHTTPCoordinate(c)})
	return nil
}

func (s *HTTPServer) cachedCoordinate(node string) (*coordinate.Coordinate, error) {
	c, ok := s.agent.Serf().GetCachedCoordinate(node)
	if !ok || c == nil {
		return nil, notFound("Could not find a coordinate for node %q", node)
	}
	return c, nil
}

type httpCoordinatesReply struct {
	Self        string               `json:"self"`
	Coordinates []httpNodeCoordinate `json:"coordinates"`
}

// getCoordinates lists the coordinate of every member that has one, for
// the page's map. This node's own is its live one when it has not yet
// cached any.
func (s *HTTPServer) getCoordinates(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	sf := s.agent.Serf()
	self := sf.LocalMember().Name
	reply := httpCoordinatesReply{Self: self, Coordinates: []httpNodeCoordinate{}}
	for _, m := range toHTTPMembers(sf.Members()) {
		c, ok := sf.GetCachedCoordinate(m.Name)
		if (!ok || c == nil) && m.Name == self {
			c, _ = sf.GetCoordinate()
		}
		if c != nil {
			reply.Coordinates = append(reply.Coordinates, httpNodeCoordinate{Node: m.Name, Coord: toHTTPCoordinate(c)})
		}
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

type httpRTTReply struct {
	A  string  `json:"a"`
	B  string  `json:"b"`
	MS float64 `json:"rtt_ms"`
	// RTT is the estimate as a Go duration string ("1.234ms").
	RTT string `json:"rtt"`
}

// getRTT is `serf rtt a [b]`: b defaults to this node.
func (s *HTTPServer) getRTT(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, "a", "b"); err != nil {
		return err
	}
	a, b := r.URL.Query().Get("a"), r.URL.Query().Get("b")
	if a == "" {
		return badRequest(`query parameter "a" is required: the node to estimate the round trip time from`)
	}
	if b == "" {
		b = s.agent.Serf().LocalMember().Name
	}
	ca, err := s.cachedCoordinate(a)
	if err != nil {
		return err
	}
	cb, err := s.cachedCoordinate(b)
	if err != nil {
		return err
	}
	rtt, err := ca.CheckedDistanceTo(cb)
	if err != nil {
		return badRequest("Error computing the round trip time: %v", err)
	}
	writeJSON(w, http.StatusOK, httpRTTReply{
		A: a, B: b,
		MS:  float64(rtt.Nanoseconds()) / float64(time.Millisecond),
		RTT: rtt.String(),
	})
	return nil
}

type httpHealthReply struct {
	Status string `json:"status"`
	State  string `json:"state"`
	Ready  bool   `json:"ready"`
	Error  string `json:"error,omitempty"`
}

// getHealth is 200 once the agent is alive and ready (joined, or nothing
// to join) and 503 otherwise: starting, leaving, left or shut down.
func (s *HTTPServer) getHealth(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	state := s.agent.Serf().State()
	ready := s.conf.Ready()
	reply := httpHealthReply{Status: "ok", State: state.String(), Ready: ready}
	status := http.StatusOK
	switch {
	case state != serf.SerfAlive:
		status = http.StatusServiceUnavailable
		reply.Status, reply.Error = "unavailable", "agent is "+state.String()
	case !ready:
		status = http.StatusServiceUnavailable
		reply.Status, reply.Error = "starting", "agent has not joined its cluster yet"
	}
	writeJSON(w, status, reply)
	return nil
}

// requireAlive refuses cluster changes once the agent is leaving or gone.
func (s *HTTPServer) requireAlive() error {
	if st := s.agent.Serf().State(); st != serf.SerfAlive {
		return &httpError{status: http.StatusServiceUnavailable, msg: "agent is " + st.String()}
	}
	return nil
}
