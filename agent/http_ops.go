package agent

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/serfclone/serf/serf"
)

// This file holds the endpoints that act on the cluster: event, query,
// join, leave, force-leave and keys.

// httpOK is the body of a success with nothing to report.
type httpOK struct{}

type httpEventRequest struct {
	Name    string `json:"name"`
	Payload string `json:"payload"`
	// Coalesce defaults to true, as for `serf event`.
	Coalesce *bool `json:"coalesce"`
}

// postEvent is `serf event`.
func (s *HTTPServer) postEvent(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	var req httpEventRequest
	if err := decodeJSON(w, r, s.conf.MaxBodyBytes, &req, true); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest(`field "name" is required: the user event's name`)
	}
	coalesce := req.Coalesce == nil || *req.Coalesce
	if err := s.requireAlive(); err != nil {
		return err
	}
	var payload []byte
	if req.Payload != "" {
		payload = []byte(req.Payload)
	}
	if err := s.agent.UserEvent(req.Name, payload, coalesce); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, httpOK{})
	return nil
}

type httpQueryRequest struct {
	Name    string            `json:"name"`
	Payload string            `json:"payload"`
	Nodes   []string          `json:"nodes"`
	Tags    map[string]string `json:"tags"`
	// Timeout is a Go duration ("5s"); empty means Serf's default.
	Timeout     string `json:"timeout"`
	Ack         bool   `json:"ack"`
	RelayFactor uint8  `json:"relay_factor"`
}

// httpQueryRecord is one line of a query's result stream.
type httpQueryRecord struct {
	Type    string `json:"type"`
	From    string `json:"from,omitempty"`
	Payload string `json:"payload,omitempty"`
	// The summary line ("done") counts what arrived.
	Acks      *int `json:"acks,omitempty"`
	Responses *int `json:"responses,omitempty"`
}

// postQuery is `serf query`: the acks and responses stream back as one
// JSON object per line as they arrive, then a "done" line with the counts
// once the query's deadline passes.
func (s *HTTPServer) postQuery(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	var req httpQueryRequest
	if err := decodeJSON(w, r, s.conf.MaxBodyBytes, &req, true); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest(`field "name" is required: the query's name`)
	}
	var timeout time.Duration
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil {
			return badRequest(`field "timeout": %v`, err)
		}
		if d < 0 {
			return badRequest(`field "timeout" must not be negative`)
		}
		timeout = d
	}
	if err := s.requireAlive(); err != nil {
		return err
	}
	var payload []byte
	if req.Payload != "" {
		payload = []byte(req.Payload)
	}
	params := &serf.QueryParam{
		FilterNodes: req.Nodes,
		FilterTags:  req.Tags,
		RequestAck:  req.Ack,
		RelayFactor: req.RelayFactor,
		Timeout:     timeout,
	}
	resp, err := s.agent.Query(req.Name, payload, params)
	if err != nil {
		return err
	}
	defer resp.Close()

	// The stream lasts as long as the query: lift the server's write
	// timeout up to the query's deadline, with the usual margin after it.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(resp.Deadline().Add(s.conf.WriteTimeout))
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	enc := json.NewEncoder(w)
	send := func(rec httpQueryRecord) error {
		if err := enc.Encode(rec); err != nil {
			return err
		}
		return rc.Flush()
	}
	acks, responses := 0, 0
	ackCh, respCh := resp.AckCh(), resp.ResponseCh()
	for ackCh != nil || respCh != nil {
		var rec httpQueryRecord
		select {
		case from, ok := <-ackCh:
			if !ok {
				ackCh = nil
				continue
			}
			acks++
			rec = httpQueryRecord{Type: queryRecordAck, From: from}
		case nr, ok := <-respCh:
			if !ok {
				respCh = nil
				continue
			}
			responses++
			rec = httpQueryRecord{Type: queryRecordResponse, From: nr.From, Payload: string(nr.Payload)}
		case <-r.Context().Done():
			return nil
		case <-s.stopCh:
			return nil
		case <-s.agent.ShutdownCh():
			return nil
		}
		if err := send(rec); err != nil {
			// The client went away; the deferred Close ends the query.
			return nil
		}
	}
	_ = send(httpQueryRecord{Type: queryRecordDone, Acks: &acks, Responses: &responses})
	return nil
}

type httpJoinRequest struct {
	Addrs  []string `json:"addrs"`
	Replay bool     `json:"replay"`
}

type httpJoinReply struct {
	Num int `json:"num"`
}

// postJoin is `serf join`.
func (s *HTTPServer) postJoin(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	var req httpJoinRequest
	if err := decodeJSON(w, r, s.conf.MaxBodyBytes, &req, true); err != nil {
		return err
	}
	if len(req.Addrs) == 0 {
		return badRequest(`field "addrs" is required: at least one address to join must be specified`)
	}
	if err := s.requireAlive(); err != nil {
		return err
	}
	n, err := s.agent.Join(req.Addrs, req.Replay)
	if err != nil {
		return &httpError{status: http.StatusBadRequest, msg: err.Error(),
			body: struct {
				Error string `json:"error"`
				Num   int    `json:"num"`
			}{err.Error(), n}}
	}
	writeJSON(w, http.StatusOK, httpJoinReply{Num: n})
	return nil
}

// postLeave is `serf leave`: the agent leaves gracefully and then shuts
// down, whatever the leave's outcome, as with the RPC command.
func (s *HTTPServer) postLeave(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	s.logger.Printf("[INFO] agent.http: Graceful leave triggered")
	leaveErr := s.agent.Leave()
	if leaveErr != nil {
		s.logger.Printf("[ERR] agent.http: leave failed: %v", leaveErr)
	}
	// The connection will not outlive the agent.
	w.Header().Set("Connection", "close")
	if leaveErr != nil {
		writeError(w, http.StatusBadRequest, leaveErr.Error())
	} else {
		writeJSON(w, http.StatusOK, httpOK{})
	}
	_ = http.NewResponseController(w).Flush()
	if err := s.agent.Shutdown(); err != nil {
		s.logger.Printf("[ERR] agent.http: failed to shut down the agent: %v", err)
	}
	return nil
}

// postForceLeave is `serf force-leave [-prune] node`.
func (s *HTTPServer) postForceLeave(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, "prune"); err != nil {
		return err
	}
	prune := false
	if v := r.URL.Query().Get("prune"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest(`query parameter "prune" must be true or false, not %q`, v)
		}
		prune = b
	}
	if err := s.requireAlive(); err != nil {
		return err
	}
	if err := s.agent.ForceLeave(r.PathValue("node"), prune); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, httpOK{})
	return nil
}

// httpKeyReply is the tally of a key command; Keys only for a listing.
type httpKeyReply struct {
	Error    string            `json:"error,omitempty"`
	Keys     map[string]int    `json:"keys,omitempty"`
	NumNodes int               `json:"num_nodes"`
	NumErr   int               `json:"num_err"`
	NumResp  int               `json:"num_resp"`
	Messages map[string]string `json:"messages"`
}

func toHTTPKeyReply(r *serf.KeyResponse, withKeys bool) httpKeyReply {
	ipc := toIPCKeyResponse(r, withKeys)
	return httpKeyReply{
		Keys:     ipc.Keys,
		NumNodes: ipc.NumNodes,
		NumErr:   ipc.NumErr,
		NumResp:  ipc.NumResp,
		Messages: ipc.Messages,
	}
}

// keyReply writes a key command's result. A failure on some members is a
// 409 that carries the tally, so the caller sees which ones and why.
func keyReply(w http.ResponseWriter, resp *serf.KeyResponse, err error, withKeys bool) error {
	reply := toHTTPKeyReply(resp, withKeys)
	if withKeys && reply.Keys == nil {
		reply.Keys = map[string]int{}
	}
	if err != nil {
		reply.Error = err.Error()
		return &httpError{status: http.StatusConflict, msg: err.Error(), body: reply}
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// getKeys is `serf keys -list`.
func (s *HTTPServer) getKeys(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	if err := s.requireAlive(); err != nil {
		return err
	}
	resp, err := s.agent.ListKeys()
	return keyReply(w, resp, err, true)
}

type httpKeyRequest struct {
	Key string `json:"key"`
}

// postKey is `serf keys -install|-use|-remove key`.
func (s *HTTPServer) postKey(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r); err != nil {
		return err
	}
	var op func(string) (*serf.KeyResponse, error)
	switch r.PathValue("op") {
	case "install":
		op = s.agent.InstallKey
	case "use":
		op = s.agent.UseKey
	case "remove":
		op = s.agent.RemoveKey
	default:
		return notFound("unknown key operation %q: use install, use or remove", r.PathValue("op"))
	}
	var req httpKeyRequest
	if err := decodeJSON(w, r, s.conf.MaxBodyBytes, &req, true); err != nil {
		return err
	}
	if req.Key == "" {
		return badRequest(`field "key" is required: a base64-encoded key`)
	}
	if err := s.requireAlive(); err != nil {
		return err
	}
	resp, err := changeKey(op, req.Key)
	if resp == nil && err != nil {
		// Not base64: the key was never sent.
		return badRequest("%v", err)
	}
	return keyReply(w, resp, err, false)
}
