package client

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/serfclone/serf/client/clienttest"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

func loadTranscript(t *testing.T, name string) *clienttest.Transcript {
	t.Helper()
	tr, err := clienttest.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// startAgent replays tr and checks, when the test ends, that the replay
// went as recorded.
func startAgent(t *testing.T, tr *clienttest.Transcript, opts clienttest.Options) *clienttest.Agent {
	t.Helper()
	a, err := clienttest.NewAgent(tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// finishReplay closes c and waits for the fake agent to see the whole
// conversation.
func finishReplay(t *testing.T, c *RPCClient, a *clienttest.Agent) {
	t.Helper()
	if c != nil {
		c.Close()
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// dialRaw connects without the handshake, to reproduce the error cases
// that only a hand-built client can cause.
func dialRaw(t *testing.T, addr string) *RPCClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(conn, testTimeout)
	t.Cleanup(func() { c.Close() })
	return c
}

// encode returns the RPC msgpack encoding of v.
func encode(t testing.TB, v interface{}) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := codec.NewEncoder(&buf, newRPCHandle()).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// agentBodies returns the bodies the agent sent, in order.
func agentBodies(tr *clienttest.Transcript) []clienttest.Frame {
	var out []clienttest.Frame
	for _, f := range tr.Frames {
		if f.Dir == clienttest.AgentToClient && f.Role == "body" {
			out = append(out, f)
		}
	}
	return out
}

// assertRoundTrip checks that re-encoding what the client decoded gives
// the recorded body back (up to map order): then no field was lost or
// mistyped on the way in.
func assertRoundTrip(t *testing.T, decoded interface{}, body clienttest.Frame) {
	t.Helper()
	want, err := clienttest.Canonical(body.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := clienttest.Canonical(encode(t, decoded))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("decoded body does not round-trip:\n got %x\nwant %x\n(%s)", got, want, body.Decoded)
	}
}

// decodedField extracts one key of a frame's JSON form.
func decodedField(t *testing.T, f clienttest.Frame, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(f.Decoded, &m); err != nil {
		t.Fatalf("decoded form of frame: %v", err)
	}
	return m[key]
}

// recordedBin turns the JSON form of a msgpack bin or nil value into bytes.
func recordedBin(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	if string(raw) == "null" || len(raw) == 0 {
		return nil
	}
	var v struct {
		B64 []byte `json:"$bin_b64"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bin value %s: %v", raw, err)
	}
	if v.B64 == nil {
		return []byte{}
	}
	return v.B64
}

func recordedString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("string value %s: %v", raw, err)
	}
	return s
}

// receive reads one value from ch within testTimeout.
func receive[T any](t *testing.T, ch <-chan T) (T, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(testTimeout):
		t.Fatal("timed out waiting for a value")
		var zero T
		return zero, false
	}
}

// timeout returns a channel that fires after testTimeout.
func timeout() <-chan time.Time { return time.After(testTimeout) }

// scriptedConn is the agent side of a connection in tests that need
// behaviour no recording shows (reordered replies, garbage, hang-ups).
type scriptedConn struct {
	t    *testing.T
	conn net.Conn
	dec  *codec.Decoder
	enc  *codec.Encoder
}

// startScripted runs script as the agent for one connection and returns
// the address to dial. The test waits for script to return.
func startScripted(t *testing.T, script func(a *scriptedConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
		conn, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(testTimeout))
		h := newRPCHandle()
		script(&scriptedConn{t: t, conn: conn, dec: codec.NewDecoder(conn, h), enc: codec.NewEncoder(conn, h)})
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// request reads a request header and, if body is not nil, its body.
func (a *scriptedConn) request(body interface{}) RequestHeader {
	a.t.Helper()
	var h RequestHeader
	if err := a.dec.Decode(&h); err != nil {
		a.t.Errorf("agent: read request header: %v", err)
		return h
	}
	if body != nil {
		if err := a.dec.Decode(body); err != nil {
			a.t.Errorf("agent: read %s body: %v", h.Command, err)
		}
	}
	return h
}

// reply writes a response header and, if body is not nil, a body.
func (a *scriptedConn) reply(seq uint64, errText string, body interface{}) {
	a.t.Helper()
	if err := a.enc.Encode(&ResponseHeader{Seq: seq, Error: errText}); err != nil {
		a.t.Errorf("agent: write header: %v", err)
	}
	if body != nil {
		if err := a.enc.Encode(body); err != nil {
			a.t.Errorf("agent: write body: %v", err)
		}
	}
}

// handshake accepts the client's handshake.
func (a *scriptedConn) handshake() {
	a.t.Helper()
	var req HandshakeRequest
	h := a.request(&req)
	if h.Command != HandshakeCommand || req.Version != IPCVersion {
		a.t.Errorf("agent: got %+v %+v, want a handshake", h, req)
	}
	a.reply(h.Seq, "", nil)
}

// waitClosed blocks until the client hangs up.
func (a *scriptedConn) waitClosed() {
	var b [1]byte
	for {
		if _, err := a.conn.Read(b[:]); err != nil {
			return
		}
	}
}
