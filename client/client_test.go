package client

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Addr != "127.0.0.1:7373" || c.Timeout != 10*time.Second || c.AuthKey != "" {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
}

func TestDialErrorIsReportedVerbatim(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	_, err = NewRPCClient(addr)
	want := "dial tcp " + addr + ": connect: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if _, err := ClientFromConfig(&Config{}); err == nil || err.Error() != "dial tcp: missing address" {
		t.Fatalf("empty address: %v", err)
	}
}

// The byte examples of the protocol sheet, encoded by this client.
func TestRequestEncodingMatchesSpecExamples(t *testing.T) {
	tests := []struct {
		name string
		v    interface{}
		hex  string
	}{
		{"handshake header", &RequestHeader{Command: "handshake", Seq: 1}, "82a7436f6d6d616e64a968616e647368616b65a353657101"},
		{"handshake body", &HandshakeRequest{Version: 1}, "81a756657273696f6e01"},
		{"query", &QueryRequest{
			FilterNodes: []string{"n1"}, FilterTags: map[string]string{"a": "b"}, Name: "qn",
			RelayFactor: 2, RequestAck: true, Timeout: 2 * time.Second,
		}, "87ab46696c7465724e6f64657391a26e31aa46696c7465725461677381a161a162a44e616d65a2716e" +
			"a75061796c6f6164c0ab52656c6179466163746f7202aa5265717565737441636bc3a754696d656f7574d277359400"},
		{"44-byte key uses str8", &KeyRequest{Key: key1}, "81a34b6579d92c" + hex.EncodeToString([]byte(key1))},
		{"stop with a uint16 seq", &StopRequest{Stop: 12345}, "81a453746f70cd3039"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(encode(t, tt.v)); got != tt.hex {
				t.Errorf("got  %s\nwant %s", got, tt.hex)
			}
		})
	}
}

// The agent answers one request at a time, but the client must not rely
// on it: replies are matched by Seq, whatever their order.
func TestRepliesAreMatchedBySeq(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		seqs := map[string]uint64{}
		for i := 0; i < 3; i++ {
			var body interface{}
			var coord CoordinateRequest
			h := a.request(nil)
			if h.Command == GetCoordinateCommand {
				body = &coord
				if err := a.dec.Decode(body); err != nil {
					t.Errorf("agent: %v", err)
				}
			}
			seqs[h.Command] = h.Seq
		}
		a.reply(seqs[GetCoordinateCommand], "", &CoordinateResponse{Coord: Coordinate{Vec: []float64{1}, Height: 2}, Ok: true})
		a.reply(seqs[StatsCommand], "", map[string]map[string]string{"agent": {"name": "n1"}})
		a.reply(seqs[MembersCommand], "", &MembersResponse{Members: []Member{{Name: "m1"}}})
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		m, err := c.Members()
		if err != nil || len(m) != 1 || m[0].Name != "m1" {
			t.Errorf("Members = %v, %v", m, err)
		}
	}()
	go func() {
		defer wg.Done()
		s, err := c.Stats()
		if err != nil || s["agent"]["name"] != "n1" {
			t.Errorf("Stats = %v, %v", s, err)
		}
	}()
	go func() {
		defer wg.Done()
		coord, err := c.GetCoordinate("n1")
		if err != nil || coord == nil || coord.Height != 2 {
			t.Errorf("GetCoordinate = %v, %v", coord, err)
		}
	}()
	wg.Wait()
}

// A header for a Seq nobody waits for is skipped without reading a body;
// the body is then read as a header with Seq 0 and skipped as well.
func TestUnknownSeqIsSkipped(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		h := a.request(nil)
		a.reply(999, "", &LogRecord{Log: "stray record"})
		a.reply(h.Seq, "", &JoinResponse{Num: 3})
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var resp JoinResponse
	if err := c.call(JoinCommand, nil, &resp); err != nil || resp.Num != 3 {
		t.Fatalf("call = %+v, %v", resp, err)
	}
}

// Close ends every kind of pending work and closes every caller channel.
func TestCloseReleasesEverything(t *testing.T) {
	requested := make(chan struct{})
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var sr StreamRequest
		h := a.request(&sr)
		a.reply(h.Seq, "", nil)
		var qr QueryRequest
		h = a.request(&qr)
		a.reply(h.Seq, "", nil)
		var mr MonitorRequest
		h = a.request(&mr)
		a.reply(h.Seq, "", nil)
		// Nobody reads the monitor channel: this record waits in the
		// stream's queue until Close.
		a.reply(h.Seq, "", &LogRecord{Log: "first"})
		a.request(nil) // members: never answered
		close(requested)
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan map[string]interface{})
	logs := make(chan string) // not read until after Close
	acks := make(chan string)
	resps := make(chan NodeResponse)
	done := make(chan error, 1)
	if _, err := c.Stream("*", events); err != nil {
		t.Fatal(err)
	}
	if err := c.Query(&QueryParam{Name: "q", AckCh: acks, RespCh: resps, DoneCh: done}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Monitor("debug", logs); err != nil {
		t.Fatal(err)
	}
	membersErr := make(chan error, 1)
	go func() {
		_, err := c.Members()
		membersErr <- err
	}()
	select {
	case <-requested:
	case <-timeout():
		t.Fatal("members request never sent")
	}

	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-timeout():
		t.Fatal("Close blocked")
	}
	if err, _ := receive(t, membersErr); !errors.Is(err, ErrClientClosed) {
		t.Errorf("pending Members: %v, want %v", err, ErrClientClosed)
	}
	// The monitor record that was waiting for a reader may or may not have
	// been taken; after it, the channel must be closed.
	for {
		if _, ok := receive(t, logs); !ok {
			break
		}
	}
	if _, ok := receive(t, events); ok {
		t.Error("stream channel still open")
	}
	if _, ok := receive(t, acks); ok {
		t.Error("ack channel still open")
	}
	if _, ok := receive(t, resps); ok {
		t.Error("response channel still open")
	}
	if err, _ := receive(t, done); !errors.Is(err, ErrClientClosed) {
		t.Errorf("DoneCh = %v, want %v", err, ErrClientClosed)
	}
	if !c.IsClosed() {
		t.Error("IsClosed() = false after Close")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.UserEvent("e", nil, true); !errors.Is(err, ErrClientClosed) {
		t.Errorf("request after Close: %v", err)
	}
	if _, err := c.Monitor("info", make(chan string)); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Monitor after Close: %v", err)
	}
}

// A consumer that stops reading must not keep Stop from working.
func TestStopReleasesBlockedDelivery(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var sr StreamRequest
		h := a.request(&sr)
		a.reply(h.Seq, "", nil)
		for i := 0; i < 3; i++ {
			a.reply(h.Seq, "", map[string]interface{}{"Event": "user", "Name": "e"})
		}
		var stop StopRequest
		sh := a.request(&stop)
		if stop.Stop != h.Seq {
			t.Errorf("stop %d, want %d", stop.Stop, h.Seq)
		}
		a.reply(sh.Seq, "", nil)
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := make(chan map[string]interface{})
	h, err := c.Stream("user", events)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := receive(t, events); !ok {
		t.Fatal("no first record")
	}
	// Two more records are pending; nobody reads them.
	if err := c.Stop(h); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for {
		if _, ok := receive(t, events); !ok {
			break
		}
	}
}

func TestAgentHangingUpFailsPendingWork(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var sr StreamRequest
		h := a.request(&sr)
		a.reply(h.Seq, "", nil)
		var req MembersFilteredRequest
		a.request(&req) // like a bad regex: the agent closes without a reply
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := make(chan map[string]interface{})
	if _, err := c.Stream("*", events); err != nil {
		t.Fatal(err)
	}
	_, err = c.MembersFiltered(map[string]string{}, "(", "")
	if err == nil || err.Error() != "client closed" {
		t.Fatalf("error = %v, want client closed", err)
	}
	if _, ok := receive(t, events); ok {
		t.Error("stream channel open after the agent hung up")
	}
}

func TestStreamEndsBeforeItsReply(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var mr MonitorRequest
		a.request(&mr)
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	logs := make(chan string)
	if _, err := c.Monitor("info", logs); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("Monitor = %v, want %v", err, ErrStreamClosed)
	}
	if _, ok := receive(t, logs); ok {
		t.Error("channel not closed")
	}
}

// An ack or response without a sender ends the query like "done" does.
func TestQueryRecordWithoutSenderEndsQuery(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var qr QueryRequest
		h := a.request(&qr)
		a.reply(h.Seq, "", nil)
		a.reply(h.Seq, "", &QueryRecord{Type: "ack", From: "n1"})
		a.reply(h.Seq, "", &QueryRecord{Type: "mystery", From: "n1"})
		a.reply(h.Seq, "", &QueryRecord{Type: "response", From: "n2", Payload: []byte("hi")})
		a.reply(h.Seq, "", &QueryRecord{Type: "ack"})
		a.reply(h.Seq, "", &QueryRecord{Type: "done"})
		h = a.request(nil)
		a.reply(h.Seq, "", &MembersResponse{})
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acks := make(chan string, 10)
	resps := make(chan NodeResponse, 10)
	done := make(chan error, 1)
	if err := c.Query(&QueryParam{Name: "q", AckCh: acks, RespCh: resps, DoneCh: done}); err != nil {
		t.Fatal(err)
	}
	if err, _ := receive(t, done); err != nil {
		t.Fatalf("DoneCh = %v", err)
	}
	var got []string
	for a := range acks {
		got = append(got, "ack "+a)
	}
	for r := range resps {
		got = append(got, "response "+r.From+" "+string(r.Payload))
	}
	if strings.Join(got, ",") != "ack n1,response n2 hi" {
		t.Errorf("results = %v", got)
	}
	// The late "done" record must not disturb the next request.
	if _, err := c.Members(); err != nil {
		t.Errorf("Members after the query: %v", err)
	}
}

func TestRefusedQueryClosesChannels(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var qr QueryRequest
		h := a.request(&qr)
		a.reply(h.Seq, "Queries cannot contain the '_serf_' prefix", nil)
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acks := make(chan string)
	done := make(chan error, 1)
	err = c.Query(&QueryParam{Name: "_serf_x", AckCh: acks, DoneCh: done})
	wantRemoteError(t, err, "Queries cannot contain the '_serf_' prefix")
	if _, ok := receive(t, acks); ok {
		t.Error("ack channel open")
	}
	if got, _ := receive(t, done); got == nil || got.Error() != err.Error() {
		t.Errorf("DoneCh = %v", got)
	}
}

// Whatever the agent sends, the client returns errors; it neither panics
// nor hangs.
func TestGarbageFromAgent(t *testing.T) {
	okHeader := encode(t, &ResponseHeader{Seq: 2})
	tests := []struct {
		name  string
		reply []byte
	}{
		{"reserved type byte", []byte{0xc1}},
		{"truncated header", okHeader[:5]},
		{"header that is a string", []byte{0xa3, 'a', 'b', 'c'}},
		{"body that is a string", append(append([]byte{}, okHeader...), 0xa3, 'a', 'b', 'c')},
		{"body with a wrong field type", append(append([]byte{}, okHeader...), encode(t, map[string]interface{}{"Members": "x"})...)},
		{"port overflow", append(append([]byte{}, okHeader...), encode(t, map[string]interface{}{
			"Members": []interface{}{map[string]interface{}{"Port": uint64(1 << 40)}},
		})...)},
		{"huge declared map", append(append([]byte{}, okHeader...), 0xdf, 0xff, 0xff, 0xff, 0xff)},
		{"huge declared string", append(append([]byte{}, okHeader...), 0x81, 0xa7, 'M', 'e', 'm', 'b', 'e', 'r', 's', 0xdb, 0xff, 0xff, 0xff, 0xff)},
		{"deep nesting", append(append([]byte{}, okHeader...), bytes.Repeat([]byte{0x91}, 100000)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startScripted(t, func(a *scriptedConn) {
				a.handshake()
				a.request(nil)
				a.conn.Write(tt.reply)
			})
			c, err := NewRPCClient(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			errCh := make(chan error, 1)
			go func() {
				_, err := c.Members()
				errCh <- err
			}()
			if err, _ := receive(t, errCh); err == nil {
				t.Fatal("Members succeeded on garbage")
			}
		})
	}
}

// A stream nobody reads must hold up neither other requests nor the Stop
// of another stream.
func TestUnreadStreamDoesNotBlockOtherRequests(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var sr StreamRequest
		unread := a.request(&sr)
		a.reply(unread.Seq, "", nil)
		other := a.request(&sr)
		a.reply(other.Seq, "", nil)
		for i := 0; i < 3; i++ {
			a.reply(unread.Seq, "", map[string]interface{}{"Event": "user", "Name": "e"})
		}
		var stop StopRequest
		h := a.request(&stop)
		a.reply(h.Seq, "", nil)
		h = a.request(nil)
		a.reply(h.Seq, "", &MembersResponse{Members: []Member{{Name: "m1"}}})
		a.waitClosed()
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Stream("user", make(chan map[string]interface{})); err != nil {
		t.Fatal(err)
	}
	other := make(chan map[string]interface{})
	otherHandle, err := c.Stream("member-join", other)
	if err != nil {
		t.Fatal(err)
	}
	errCh := make(chan error, 1)
	go func() {
		if err := c.Stop(otherHandle); err != nil {
			errCh <- err
			return
		}
		_, err := c.Members()
		errCh <- err
	}()
	if err, _ := receive(t, errCh); err != nil {
		t.Fatal(err)
	}
	if _, ok := receive(t, other); ok {
		t.Error("stopped stream's channel still open")
	}
}

// When the agent hangs up, records it sent before are still delivered,
// then the channel closes.
func TestRecordsBeforeHangUpAreDelivered(t *testing.T) {
	addr := startScripted(t, func(a *scriptedConn) {
		a.handshake()
		var mr MonitorRequest
		h := a.request(&mr)
		a.reply(h.Seq, "", nil)
		for _, l := range []string{"one", "two", "three"} {
			a.reply(h.Seq, "", &LogRecord{Log: l})
		}
	})
	c, err := NewRPCClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	logs := make(chan string)
	if _, err := c.Monitor("info", logs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		l, ok := receive(t, logs)
		if !ok {
			break
		}
		got = append(got, l)
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("logs = %v", got)
	}
}
