package client

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/serfclone/serf/client/clienttest"
)

// scenario drives the client through one recorded conversation and checks
// what it decoded. It returns the client to close, if any is left open.
type scenario struct {
	opts clienttest.Options
	run  func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient
}

// connect is the ClientFromConfig every CLI recording starts with.
func connect(t *testing.T, addr, authKey string) *RPCClient {
	t.Helper()
	c, err := ClientFromConfig(&Config{Addr: addr, AuthKey: authKey, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c
}

func wantRemoteError(t *testing.T, err error, msg string) {
	t.Helper()
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != msg {
		t.Fatalf("error = %v (%T), want agent error %q", err, err, msg)
	}
	if err.Error() != msg {
		t.Fatalf("error text = %q, want %q", err.Error(), msg)
	}
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// membersFiltered replays a `serf members` recording: the CLI always sends
// members-filtered with the given filters.
func membersFiltered(tags map[string]string, status, name string) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		members, err := c.MembersFiltered(tags, status, name)
		noError(t, err)
		assertRoundTrip(t, &MembersResponse{Members: members}, agentBodies(tr)[0])
		return c
	}}
}

func userEvent(name string, payload []byte, coalesce bool) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		noError(t, c.UserEvent(name, payload, coalesce))
		return c
	}}
}

func forceLeave(node string, prune bool) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		if prune {
			noError(t, c.ForceLeavePrune(node))
		} else {
			noError(t, c.ForceLeave(node))
		}
		return c
	}}
}

func join(addrs []string, replay bool, wantNum int, wantErr string) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		n, err := c.Join(addrs, replay)
		if wantErr == "" {
			noError(t, err)
		} else {
			wantRemoteError(t, err, wantErr)
		}
		if n != wantNum {
			t.Errorf("Join = %d nodes, want %d", n, wantNum)
		}
		return c
	}}
}

func stats() scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		s, err := c.Stats()
		noError(t, err)
		if s["agent"]["name"] != "node-a" {
			t.Errorf("agent name = %q", s["agent"]["name"])
		}
		assertRoundTrip(t, s, agentBodies(tr)[0])
		return c
	}}
}

// rtt replays `serf rtt`: stats when only one node is named, then one
// get-coordinate per node.
func rtt(withStats bool, nodes ...string) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		bodies := agentBodies(tr)
		if withStats {
			s, err := c.Stats()
			noError(t, err)
			assertRoundTrip(t, s, bodies[0])
			bodies = bodies[1:]
		}
		for i, node := range nodes {
			coord, err := c.GetCoordinate(node)
			noError(t, err)
			if coord == nil {
				// The body must then say Ok=false with a zero coordinate.
				assertRoundTrip(t, &CoordinateResponse{}, bodies[i])
				continue
			}
			assertRoundTrip(t, &CoordinateResponse{Coord: *coord, Ok: true}, bodies[i])
			if len(coord.Vec) != 8 {
				t.Errorf("coordinate of %s has %d components", node, len(coord.Vec))
			}
		}
		return c
	}}
}

// query replays `serf query` and checks that acks and responses reach the
// caller in exactly the recorded order.
func query(p QueryParam) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		assertQuery(t, c, tr, agentBodies(tr), p)
		return c
	}}
}

// assertQuery runs the query p and compares what arrives with the records
// in bodies.
func assertQuery(t *testing.T, c *RPCClient, tr *clienttest.Transcript, bodies []clienttest.Frame, p QueryParam) {
	t.Helper()
	ackCh := make(chan string)
	respCh := make(chan NodeResponse)
	doneCh := make(chan error, 1)
	p.AckCh, p.RespCh, p.DoneCh = ackCh, respCh, doneCh
	noError(t, c.Query(&p))

	var got []string
	for ackCh != nil || respCh != nil {
		select {
		case a, ok := <-ackCh:
			if !ok {
				ackCh = nil
				continue
			}
			got = append(got, "ack "+a)
		case r, ok := <-respCh:
			if !ok {
				respCh = nil
				continue
			}
			got = append(got, fmt.Sprintf("response %s %q", r.From, r.Payload))
		case <-timeout():
			t.Fatal("query did not end")
		}
	}
	if err, _ := receive(t, doneCh); err != nil {
		t.Fatalf("DoneCh = %v, want nil", err)
	}

	var want []string
	for _, b := range bodies {
		typ := recordedString(t, decodedField(t, b, "Type"))
		from := recordedString(t, decodedField(t, b, "From"))
		switch typ {
		case QueryRecordAck:
			want = append(want, "ack "+from)
		case QueryRecordResponse:
			want = append(want, fmt.Sprintf("response %s %q", from, recordedBin(t, decodedField(t, b, "Payload"))))
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("query results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func tags(set map[string]string, remove []string) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		noError(t, c.UpdateTags(set, remove))
		return c
	}}
}

// keyOp replays one `serf keys` action and checks the always-present body.
func keyOp(op func(c *RPCClient) (KeyResponse, error), wantErr string) scenario {
	return scenario{run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		resp, err := op(c)
		if wantErr == "" {
			noError(t, err)
		} else {
			wantRemoteError(t, err, wantErr)
		}
		assertRoundTrip(t, &resp, agentBodies(tr)[0])
		return c
	}}
}

const (
	key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	key2 = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
)

// scenarios covers every recording; TestEveryTranscriptHasAScenario keeps
// it that way.
var scenarios = map[string]scenario{
	"handshake": {run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		return connect(t, addr, "")
	}},
	"auth-ok": {run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "secret-token")
		members, err := c.MembersFiltered(map[string]string{}, "", "")
		noError(t, err)
		if len(members) != 1 || members[0].Name != "node-auth" || members[0].Addr.String() != "127.0.0.1" || members[0].Port != 19106 {
			t.Errorf("members = %+v", members)
		}
		assertRoundTrip(t, &MembersResponse{Members: members}, agentBodies(tr)[0])
		return c
	}},
	"auth-bad-token": {run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c, err := ClientFromConfig(&Config{Addr: addr, AuthKey: "wrong-token", Timeout: testTimeout})
		if c != nil {
			t.Error("ClientFromConfig returned a client along with an error")
		}
		wantRemoteError(t, err, "Invalid authentication token")
		return nil
	}},
	"auth-missing": {run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		// The agent answers twice (it reads the body as a second header);
		// the client must take the first reply without waiting for a body
		// and skip the second.
		_, err := c.MembersFiltered(map[string]string{}, "", "")
		wantRemoteError(t, err, "Authentication required")
		return c
	}},

	"members":                      membersFiltered(map[string]string{}, "", ""),
	"members-detailed":             membersFiltered(map[string]string{}, "", ""),
	"members-json":                 membersFiltered(map[string]string{}, "", ""),
	"members-with-failed-and-left": membersFiltered(map[string]string{}, "", ""),
	"members-status":               membersFiltered(map[string]string{}, "alive", ""),
	"members-status-left":          membersFiltered(map[string]string{}, "left", ""),
	"members-name":                 membersFiltered(map[string]string{}, "", "node-[ab]"),
	"members-tag":                  membersFiltered(map[string]string{"role": "web"}, "", ""),
	"members-filters-combined":     membersFiltered(map[string]string{"role": "web", "dc": "east"}, "alive", "node-.*"),

	"event-coalesce":    userEvent("deploy", []byte("v1.2.3"), true),
	"event-no-coalesce": userEvent("restart", []byte("now"), false),
	"event-no-payload":  userEvent("ping-all", nil, true),

	"force-leave":         forceLeave("node-e", false),
	"force-leave-prune":   forceLeave("node-d", true),
	"force-leave-unknown": forceLeave("node-zz", false),

	"join":        join([]string{"127.0.0.1:19104"}, false, 1, ""),
	"join-replay": join([]string{"127.0.0.1:19104"}, true, 1, ""),
	"join-fail": join([]string{"127.0.0.1:19999"}, false, 0,
		"1 error occurred:\n\t* failed to join 127.0.0.1:19999: dial tcp 127.0.0.1:19999: connect: connection refused\n\n"),

	"leave": {
		opts: clienttest.Options{CloseAtEnd: true},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := connect(t, addr, "")
			noError(t, c.Leave())
			return c
		},
	},

	"info":      stats(),
	"info-json": stats(),

	"rtt-two-nodes":    rtt(false, "node-a", "node-b"),
	"rtt-one-node":     rtt(true, "node-b", "node-a"),
	"rtt-unknown-node": rtt(false, "node-zz"),

	"query-ack":    query(QueryParam{FilterTags: map[string]string{}, RequestAck: true, Name: "status-check", Payload: []byte("hello")}),
	"query-json":   query(QueryParam{FilterTags: map[string]string{}, RequestAck: true, Timeout: 2e9, Name: "status-check", Payload: []byte("json-out")}),
	"query-no-ack": query(QueryParam{FilterTags: map[string]string{}, Timeout: 2e9, Name: "status-check", Payload: []byte("hello")}),
	"query-node-filter": query(QueryParam{FilterNodes: []string{"node-b"}, FilterTags: map[string]string{}, RequestAck: true, Timeout: 2e9,
		Name: "status-check", Payload: []byte("only-b")}),
	"query-relay-factor": query(QueryParam{FilterTags: map[string]string{}, RequestAck: true, RelayFactor: 2, Timeout: 2e9,
		Name: "status-check", Payload: []byte("relayed")}),
	"query-tag-filter": query(QueryParam{FilterTags: map[string]string{"role": "web"}, RequestAck: true, Timeout: 2e9,
		Name: "status-check", Payload: []byte("web-only")}),

	"reachability": {run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
		c := connect(t, addr, "")
		members, err := c.Members()
		noError(t, err)
		bodies := agentBodies(tr)
		assertRoundTrip(t, &MembersResponse{Members: members}, bodies[0])
		assertQuery(t, c, tr, bodies[1:], QueryParam{RequestAck: true, Name: "_serf_ping"})
		return c
	}},

	"tags-set":    tags(map[string]string{"env": "prod", "rack": "r1"}, nil),
	"tags-delete": tags(map[string]string{}, []string{"rack"}),

	"keys-list":            keyOp((*RPCClient).ListKeys, ""),
	"keys-list-two-keys":   keyOp((*RPCClient).ListKeys, ""),
	"keys-install":         keyOp(func(c *RPCClient) (KeyResponse, error) { return c.InstallKey(key2) }, ""),
	"keys-install-invalid": keyOp(func(c *RPCClient) (KeyResponse, error) { return c.InstallKey("not-a-key") }, "illegal base64 data at input byte 3"),
	"keys-use":             keyOp(func(c *RPCClient) (KeyResponse, error) { return c.UseKey(key2) }, ""),
	"keys-remove":          keyOp(func(c *RPCClient) (KeyResponse, error) { return c.RemoveKey(key1) }, ""),
	"keys-remove-primary-fails": keyOp(func(c *RPCClient) (KeyResponse, error) { return c.RemoveKey(key2) },
		"2/2 nodes reported failure"),

	"monitor":           {run: runMonitor},
	"monitor-bad-level": {run: runMonitorBadLevel},
	"stream":            {run: runStream},

	// Recorded with a hand-built client: only the agent's bytes are ground
	// truth, so the client's are read but not required to match.
	"respond-unknown-query-id": {
		opts: clienttest.Options{Mode: clienttest.ReadOnly},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := connect(t, addr, "")
			wantRemoteError(t, c.Respond(99, []byte("x")), "No pending queries matching ID")
			return c
		},
	},
	"stop-unknown-seq": {
		opts: clienttest.Options{Mode: clienttest.ReadOnly},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := connect(t, addr, "")
			noError(t, c.Stop(12345))
			return c
		},
	},
	"error-duplicate-handshake": {
		opts: clienttest.Options{Mode: clienttest.ReadOnly},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := connect(t, addr, "")
			wantRemoteError(t, c.handshake(IPCVersion), "Handshake already performed")
			return c
		},
	},
	"error-unsupported-ipc-version": {
		opts: clienttest.Options{Mode: clienttest.ReadOnly},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := dialRaw(t, addr)
			wantRemoteError(t, c.handshake(2), "Unsupported IPC version")
			return c
		},
	},
	"error-handshake-required": {
		opts: clienttest.Options{Mode: clienttest.ReadOnly, CloseAtEnd: true},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := dialRaw(t, addr)
			_, err := c.Members()
			wantRemoteError(t, err, "Handshake required")
			// The agent hangs up after this error.
			if _, err := c.Members(); !errors.Is(err, ErrClientClosed) {
				t.Errorf("request after the agent hung up: %v, want %v", err, ErrClientClosed)
			}
			return c
		},
	},
	"error-unsupported-command": {
		opts: clienttest.Options{Mode: clienttest.ReadOnly, CloseAtEnd: true},
		run: func(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
			c := connect(t, addr, "")
			wantRemoteError(t, c.call("bogus", nil, nil), "Unsupported command")
			return c
		},
	},
}

// runMonitor replays `serf monitor`: an event stream, then a monitor,
// records of both interleaved, then stop for the monitor and the stream.
func runMonitor(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
	c := connect(t, addr, "")
	events := make(chan map[string]interface{})
	logs := make(chan string)
	streamHandle, err := c.Stream("*", events)
	noError(t, err)
	monitorHandle, err := c.Monitor("INFO", logs)
	noError(t, err)
	if streamHandle != 2 || monitorHandle != 3 {
		t.Errorf("handles = %d, %d; want 2, 3", streamHandle, monitorHandle)
	}

	// Collect records in arrival order, as "seq:frame index".
	var wantLogs []string
	var wantEvents []clienttest.Frame
	for _, b := range agentBodies(tr) {
		if raw := decodedField(t, b, "Log"); raw != nil {
			wantLogs = append(wantLogs, recordedString(t, raw))
		} else {
			wantEvents = append(wantEvents, b)
		}
	}
	var gotLogs []string
	var gotEvents []map[string]interface{}
	for len(gotLogs) < len(wantLogs) || len(gotEvents) < len(wantEvents) {
		select {
		case l := <-logs:
			gotLogs = append(gotLogs, l)
		case e := <-events:
			gotEvents = append(gotEvents, e)
		case <-timeout():
			t.Fatalf("got %d of %d logs, %d of %d events", len(gotLogs), len(wantLogs), len(gotEvents), len(wantEvents))
		}
	}
	if strings.Join(gotLogs, "\n") != strings.Join(wantLogs, "\n") {
		t.Errorf("logs differ:\n%s\nwant\n%s", strings.Join(gotLogs, "\n"), strings.Join(wantLogs, "\n"))
	}
	for i, e := range gotEvents {
		assertRoundTrip(t, e, wantEvents[i])
	}
	// The CLI stops the monitor first, then the stream.
	noError(t, c.Stop(monitorHandle))
	noError(t, c.Stop(streamHandle))
	for _, ch := range []<-chan string{logs} {
		if _, ok := receive(t, ch); ok {
			t.Error("monitor channel still open after Stop")
		}
	}
	if _, ok := receive(t, events); ok {
		t.Error("stream channel still open after Stop")
	}
	return c
}

func runMonitorBadLevel(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
	c := connect(t, addr, "")
	events := make(chan map[string]interface{})
	logs := make(chan string)
	h, err := c.Stream("*", events)
	noError(t, err)
	_, err = c.Monitor("bogus", logs)
	wantRemoteError(t, err, "Unknown log level: BOGUS")
	if _, ok := receive(t, logs); ok {
		t.Error("monitor channel open after a refused monitor")
	}
	noError(t, c.Stop(h))
	return c
}

// runStream replays the Go library recording: a query record answered
// with Respond, then user and member events, then stop.
func runStream(t *testing.T, tr *clienttest.Transcript, addr string) *RPCClient {
	c := connect(t, addr, "")
	events := make(chan map[string]interface{})
	h, err := c.Stream("*", events)
	noError(t, err)
	bodies := agentBodies(tr)
	// The recording program printed each record with fmt.Println.
	printed := strings.Split(strings.TrimSuffix(tr.CLIResult.Stdout, "\n"), "\n")
	if len(printed) != len(bodies) {
		t.Fatalf("recording has %d bodies and %d printed lines", len(bodies), len(printed))
	}
	for i, b := range bodies {
		rec, ok := receive(t, events)
		if !ok {
			t.Fatalf("stream closed after %d records", i)
		}
		assertRoundTrip(t, rec, b)
		if got := fmt.Sprint(rec); got != printed[i] {
			t.Errorf("record %d prints as\n%s\nwant\n%s", i, got, printed[i])
		}
		if i == 0 {
			id, ok := rec["ID"].(int64)
			if rec["Event"] != "query" || !ok || id != 1 {
				t.Fatalf("first record = %v, want the query with ID 1", rec)
			}
			noError(t, c.Respond(uint64(id), []byte("stream-response-from-node-c")))
		}
	}
	noError(t, c.Stop(h))
	return c
}

func TestTranscripts(t *testing.T) {
	exact, mapOrder, frames := 0, 0, 0
	for _, name := range clienttest.Names() {
		sc, ok := scenarios[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			tr := loadTranscript(t, name)
			opts := sc.opts
			if !tr.ClientBytesAreGroundTruth() {
				opts.Mode = clienttest.ReadOnly
			}
			a := startAgent(t, tr, opts)
			c := sc.run(t, tr, a.Addr())
			finishReplay(t, c, a)
			for _, check := range a.Checks() {
				if !check.Exact {
					t.Logf("frame %d differs from the recording only in map order: %v", check.Index, check.SameData)
				}
				if tr.ClientBytesAreGroundTruth() {
					frames++
					if check.Exact {
						exact++
					} else if check.SameData {
						mapOrder++
					}
				}
			}
		})
	}
	t.Logf("client frames of CLI/library recordings: %d byte-identical, %d identical up to map order, of %d", exact, mapOrder, frames)
}

func TestEveryTranscriptHasAScenario(t *testing.T) {
	for _, name := range clienttest.Names() {
		if _, ok := scenarios[name]; !ok {
			t.Errorf("transcript %s is not replayed by TestTranscripts", name)
		}
	}
}
