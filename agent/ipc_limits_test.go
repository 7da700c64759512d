package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/testutil"
)

// startLimitedIPC starts a second RPC server for n with the given limits,
// stopped when the test ends.
func startLimitedIPC(t *testing.T, n *testNode, authKey string, limits ipcLimits) (*AgentIPC, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if limits.HandshakeTimeout == 0 {
		limits.HandshakeTimeout = DefaultRPCHandshakeTimeout
	}
	if limits.MaxConns == 0 {
		limits.MaxConns = DefaultRPCMaxConns
	}
	ipc := newAgentIPC(n.agent, authKey, l, n.logs, n.logs, limits)
	t.Cleanup(ipc.Shutdown)
	return ipc, l.Addr().String()
}

// clientCount is how many connections the server is serving.
func clientCount(i *AgentIPC) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.clients)
}

// countLines counts the agent's log lines containing s.
func countLines(n *testNode, s string) int {
	count := 0
	for _, l := range n.logs.Lines() {
		if strings.Contains(l, s) {
			count++
		}
	}
	return count
}

// TestIPCHandshakeTimeout: a connection that has not finished its
// handshake (and auth, with a key) by the deadline is closed, whatever it
// sent so far; one that finished may then stay idle as long as it likes.
func TestIPCHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	n := startTestNode(t, testAgentOptions{name: "node-hs"})
	_, plainAddr := startLimitedIPC(t, n, "", ipcLimits{HandshakeTimeout: timeout})
	_, authAddr := startLimitedIPC(t, n, "sekrit", ipcLimits{HandshakeTimeout: timeout})

	handshake := rawMap(t, map[string]interface{}{"Command": handshakeCommand, "Seq": 1})
	cases := []struct {
		name string
		addr string
		// send is what the client sends before going quiet.
		send func(c *rpcTestConn)
	}{
		{"nothing", plainAddr, func(*rpcTestConn) {}},
		{"half a header", plainAddr, func(c *rpcTestConn) { c.writeRaw(handshake[:5]) }},
		{"header without body", plainAddr, func(c *rpcTestConn) { c.writeRaw(handshake) }},
		{"handshake but no auth", authAddr, func(c *rpcTestConn) { c.handshake(1) }},
		{"handshake and a wrong token", authAddr, func(c *rpcTestConn) {
			c.handshake(1)
			c.call(authCommand, 2, &ipcAuthRequest{AuthKey: "wrong"}, errInvalidAuthToken)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRPC(t, tc.addr)
			start := time.Now()
			tc.send(c)
			c.expectClosed(20 * time.Second)
			if took := time.Since(start); took < timeout/2 {
				t.Errorf("closed after %v, before the %v deadline", took, timeout)
			}
		})
	}

	// Admitted connections outlive the deadline.
	plain := dialRPC(t, plainAddr)
	plain.handshake(1)
	authed := dialRPC(t, authAddr)
	authed.handshake(1)
	authed.call(authCommand, 2, &ipcAuthRequest{AuthKey: "sekrit"}, "")
	plain.expectQuiet(3 * timeout)
	authed.expectQuiet(time.Millisecond)
	plain.call(membersCommand, 2, nil, "")
	authed.call(membersCommand, 3, nil, "")

	// The closes were logged, but not one line each: the warning is
	// rate-limited.
	if got := countLines(n, "[WARN] agent.ipc: Closing client 127.0.0.1:"); got == 0 || got >= len(cases) {
		t.Errorf("%d warnings about closed connections for %d closes, want 1 or a few", got, len(cases))
	}
	if got := countLines(n, "no handshake within 300ms"); got == 0 {
		t.Errorf("no warning names the missing handshake and the deadline:\n%s", strings.Join(n.logs.Lines(), "\n"))
	}
}

// TestIPCConnectionCap: past the cap a connection is answered with an
// error under its handshake's Seq and closed; the open ones keep working,
// and once one goes, a new connection is served again.
func TestIPCConnectionCap(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-cap"})
	ipc, addr := startLimitedIPC(t, n, "", ipcLimits{MaxConns: 2})

	first := dialRPC(t, addr)
	first.handshake(1)
	second := dialRPC(t, addr)
	second.handshake(7)

	over := dialRPC(t, addr)
	over.send(handshakeCommand, 42, &ipcHandshakeRequest{Version: 1})
	if f := over.reply(42); f.err != "too many RPC connections (limit 2)" {
		t.Errorf("refusal = %q", f.err)
	}
	over.expectClosed(10 * time.Second)

	// Our client reports the refusal as the connection's error, which the
	// CLI prints after "Error connecting to Serf agent: ".
	if _, err := client.NewRPCClient(addr); err == nil || err.Error() != "too many RPC connections (limit 2)" {
		t.Errorf("client error = %v", err)
	}

	first.call(membersCommand, 2, nil, "")
	second.call(membersCommand, 8, nil, "")
	if got := countLines(n, "[WARN] agent.ipc: Refusing client 127.0.0.1:"); got == 0 {
		t.Error("no warning about the refused connection")
	}

	_ = first.conn.Close()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if c := clientCount(ipc); c != 1 {
			return fmt.Errorf("%d clients", c)
		}
		return nil
	})
	c, err := client.NewRPCClient(addr)
	if err != nil {
		t.Fatalf("after a connection closed: %v", err)
	}
	defer c.Close()
	if _, err := c.Members(); err != nil {
		t.Fatal(err)
	}
}

// TestIPCRefusalsAreBounded: a flood of connections over the cap holds
// at most ipcMaxRefusing of them open (each until its short deadline),
// and the server keeps accepting.
func TestIPCRefusalsAreBounded(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-flood"})
	ipc, addr := startLimitedIPC(t, n, "", ipcLimits{MaxConns: 1})
	held := dialRPC(t, addr)
	held.handshake(1)

	const flood = 3 * ipcMaxRefusing
	for j := 0; j < flood; j++ {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", j, err)
		}
		defer conn.Close()
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		if got := countLines(n, "[WARN] agent.ipc: Refusing client"); got == 0 {
			return fmt.Errorf("no refusal logged")
		}
		return nil
	})
	ipc.mu.Lock()
	refusing := len(ipc.refusing)
	ipc.mu.Unlock()
	if refusing > ipcMaxRefusing {
		t.Errorf("%d refusals in progress, want at most %d", refusing, ipcMaxRefusing)
	}
	// One line for the whole flood, or a few: the warning is rate-limited.
	if got := countLines(n, "[WARN] agent.ipc: Refusing client"); got > 3 {
		t.Errorf("%d refusal warnings for %d refusals", got, flood)
	}
	held.call(membersCommand, 2, nil, "")
}

// TestIPCObjectBoundBeforeHandshake: before the handshake an object over
// ipcPreHandshakeObjectSize closes the connection without reading it;
// after it, the same object is read as usual.
func TestIPCObjectBoundBeforeHandshake(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-bound"})
	pad := strings.Repeat("p", ipcPreHandshakeObjectSize)

	early := dialRPC(t, n.rpcAddr)
	early.writeRaw(rawMap(t, map[string]interface{}{"Command": handshakeCommand, "Seq": 1, "Pad": pad}))
	early.expectClosed(10 * time.Second)

	late := dialRPC(t, n.rpcAddr)
	late.handshake(1)
	late.fr.expect(membersCommand, 2)
	late.writeRaw(rawMap(t, map[string]interface{}{"Command": membersCommand, "Seq": 2, "Pad": pad}))
	if f := late.reply(2); f.err != "" {
		t.Fatalf("members with a padded header: %q", f.err)
	}
}

// TestIPCWriteTimeoutEndsStalledClient: a client that opens a monitor and
// a stream and then never reads is disconnected once a write has made no
// progress for the write timeout, and the agent keeps serving others.
// (That records are dropped meanwhile, with a warning, is
// TestIPCSlowClientDoesNotBlockAgent.)
func TestIPCWriteTimeoutEndsStalledClient(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-stall"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ipc := newAgentIPC(n.agent, "", slowListener{l}, n.logs, n.logs, ipcLimits{
		HandshakeTimeout: DefaultRPCHandshakeTimeout,
		MaxConns:         DefaultRPCMaxConns,
		WriteTimeout:     500 * time.Millisecond,
	})
	t.Cleanup(ipc.Shutdown)

	stalled := dialRPC(t, l.Addr().String())
	if tc, ok := stalled.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	stalled.handshake(1)
	stalled.call(streamCommand, 2, &ipcStreamRequest{Type: "user"}, "")
	stalled.call(monitorCommand, 3, &ipcMonitorRequest{LogLevel: "DEBUG"}, "")
	// From now on it reads nothing.

	payload := bytes.Repeat([]byte("p"), 200)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for j := 0; clientCount(ipc) > 0; j++ {
		if ctx.Err() != nil {
			t.Fatalf("a client that reads nothing is still connected after %d events", j)
		}
		if err := n.agent.UserEvent(fmt.Sprintf("flood-%d", j), payload, false); err != nil {
			t.Fatal(err)
		}
		if j%100 == 99 {
			time.Sleep(10 * time.Millisecond) // let the event loop breathe
		}
	}
	if got := countLines(n, "i/o timeout"); got == 0 {
		t.Errorf("no log line says why the client was closed:\n%s", strings.Join(n.logs.Lines(), "\n"))
	}
	other := dialRPC(t, l.Addr().String())
	other.handshake(1)
	other.call(membersCommand, 2, nil, "")
}

// TestIPCReaderLetsLargeBuffersGo: after a large object the reader does
// not keep a buffer of its size for the rest of the connection.
func TestIPCReaderLetsLargeBuffersGo(t *testing.T) {
	big := append([]byte{0xdb, 0, 4, 0, 0}, bytes.Repeat([]byte("x"), 4<<16)...) // str32 of 256 KiB
	r := newIPCObjectReader(bytes.NewReader(append(big, 0x01)), maxIPCObjectSize)
	obj, err := r.next()
	if err != nil || len(obj) != len(big) {
		t.Fatalf("big object: %d bytes, %v", len(obj), err)
	}
	if obj, err := r.next(); err != nil || !bytes.Equal(obj, []byte{0x01}) {
		t.Fatalf("small object: %x, %v", obj, err)
	}
	if c := cap(r.buf); c > ipcKeepBuffer {
		t.Errorf("reader keeps %d bytes of buffer after a small object", c)
	}
}

// TestWarnLimiter: the first warning passes, those within the interval
// are held back and counted, and the next one after it reports the count.
func TestWarnLimiter(t *testing.T) {
	w := warnLimiter{interval: time.Second}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at          time.Duration
		wantAllow   bool
		wantSkipped int
	}{
		{0, true, 0},
		{100 * time.Millisecond, false, 0},
		{900 * time.Millisecond, false, 0},
		{time.Second, true, 2},
		{1500 * time.Millisecond, false, 0},
		{5 * time.Second, true, 1},
		{7 * time.Second, true, 0},
	}
	for _, s := range steps {
		ok, skipped := w.allow(t0.Add(s.at))
		if ok != s.wantAllow || skipped != s.wantSkipped {
			t.Errorf("at %v: allow = %v, %d; want %v, %d", s.at, ok, skipped, s.wantAllow, s.wantSkipped)
		}
	}
	if got := skippedNote(3); got != " (3 more since the last such message)" {
		t.Errorf("skippedNote(3) = %q", got)
	}
}

// TestHTTPConnectionCap: the HTTP listener serves at most MaxConns
// connections at once; another waits until one closes, then is served.
func TestHTTPConnectionCap(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-httpcap"})
	h := startTestHTTP(t, n, HTTPConfig{MaxConns: 2})
	addr := strings.TrimPrefix(h.base, "http://")

	var idle []net.Conn
	for j := 0; j < 2; j++ {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		idle = append(idle, conn)
	}
	get := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/v1/health", nil)
		if err != nil {
			return err
		}
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	if err := get(500 * time.Millisecond); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	_ = idle[0].Close()
	if err := get(20 * time.Second); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
}

// TestHTTPMaxConnsFromAgentConfig: left at zero, the HTTP bound is the
// agent's rpc_max_conns; negative means none.
func TestHTTPMaxConnsFromAgentConfig(t *testing.T) {
	a := &Agent{agentConf: &Config{RPCMaxConns: 7}} // only read, never started
	for _, tc := range []struct {
		set, want int
	}{{0, 7}, {3, 3}, {-1, -1}} {
		s, err := NewHTTPServer(a, HTTPConfig{MaxConns: tc.set, Logger: log.New(io.Discard, "", 0)})
		if err != nil {
			t.Fatal(err)
		}
		if s.conf.MaxConns != tc.want {
			t.Errorf("MaxConns %d: got %d, want %d", tc.set, s.conf.MaxConns, tc.want)
		}
	}
}
