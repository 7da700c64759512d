package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/testutil"
)

// These tests state what the agent's RPC listener must do against
// clients that misbehave: drop a connection that never says hello, refuse
// connections past a cap with a clear error, and not buffer without
// bound for a client that stops reading its stream.

// rpcHandshake is a complete handshake request: header, then body.
func rpcHandshake(seq int64) []byte {
	return rlCat(rlMpMap(2), rlMpStr("Command"), rlMpStr("handshake"), rlMpStr("Seq"), rlMpInt(seq),
		rlMpMap(1), rlMpStr("Version"), rlMpInt(1))
}

// rpcRequest is a request header and a body of string fields.
func rpcRequest(command string, seq int64, body map[string]string) []byte {
	b := rlCat(rlMpMap(2), rlMpStr("Command"), rlMpStr(command), rlMpStr("Seq"), rlMpInt(seq), rlMpMap(len(body)))
	for k, v := range body {
		b = rlCat(b, rlMpStr(k), rlMpStr(v))
	}
	return b
}

// readRPCHeader reads one response header from r.
func readRPCHeader(r io.Reader) (seq uint64, errText string, err error) {
	var h struct {
		Seq   uint64
		Error string
	}
	err = codec.NewDecoder(r, &codec.MsgpackHandle{}).Decode(&h)
	return h.Seq, h.Error, err
}

// agentRSS is VmRSS of a process in bytes.
func agentRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIntegrationRPCHandshakeTimeout: a connection that sends nothing is
// closed by the agent within a few seconds, and one that sends half a
// header and stalls is too.
func TestIntegrationRPCHandshakeTimeout(t *testing.T) {
	a := startAgent(t, "rpc-idle")
	for _, sent := range [][]byte{nil, rpcHandshake(0)[:5]} {
		conn, err := net.Dial("tcp", a.rpc)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(sent); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.Copy(io.Discard, conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("after sending %x the agent kept the connection open for 30s", sent)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("after sending %x the agent closed the connection after %v", sent, took)
		}
	}
	// A client that does say hello in time still works.
	c, err := client.NewRPCClient(a.rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Members(); err != nil {
		t.Fatalf("members after idle connections: %v", err)
	}
}

// TestIntegrationRPCConnectionCap: past a cap, a new connection is told
// why and closed, while the ones already open keep working.
func TestIntegrationRPCConnectionCap(t *testing.T) {
	a := startAgent(t, "rpc-cap")
	const most = 2000 // far past any sensible cap
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	refused := ""
	for i := 0; i < most && refused == ""; i++ {
		conn, err := net.DialTimeout("tcp", a.rpc, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: dial: %v (a refusal must be an answer, not a dead listener)", i, err)
		}
		conns = append(conns, conn)
		if _, err := conn.Write(rpcHandshake(0)); err != nil {
			refused = "write failed: " + err.Error()
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, errText, err := readRPCHeader(bufio.NewReader(conn))
		switch {
		case err != nil:
			t.Fatalf("connection %d: no answer to the handshake: %v", i, err)
		case errText != "":
			refused = errText
		}
	}
	if refused == "" {
		t.Fatalf("the agent accepted %d RPC connections; want a cap", most)
	}
	t.Logf("refused after %d connections: %q", len(conns)-1, refused)
	if !strings.Contains(strings.ToLower(refused), "connection") {
		t.Errorf("refusal %q does not say it is about connections", refused)
	}
	// The first connection still answers.
	first := conns[0]
	if _, err := first.Write(rpcRequest("members", 1, nil)); err != nil {
		t.Fatal(err)
	}
	_ = first.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, errText, err := readRPCHeader(bufio.NewReader(first)); err != nil || errText != "" {
		t.Errorf("members on the first connection: %q, %v", errText, err)
	}
}

// TestIntegrationRPCStalledStreamReader: a client that opens a monitor
// and an event stream and never reads them does not make the agent
// buffer without bound, other clients are still served, and the agent
// lets go of the stalled connection.
func TestIntegrationRPCStalledStreamReader(t *testing.T) {
	t.Setenv("GOGC", "25") // measure what is kept, not GC pacing (see newHostileTarget)
	a := startAgent(t, "rpc-stall")
	conn, err := net.Dial("tcp", a.rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	req := rlCat(rpcHandshake(0), rpcRequest("monitor", 1, map[string]string{"LogLevel": "DEBUG"}),
		rpcRequest("stream", 2, map[string]string{"Type": "*"}))
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}

	c, err := client.NewRPCClient(a.rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid := a.proc.Cmd.Process.Pid
	base := agentRSS(t, pid)
	payload := []byte(strings.Repeat("x", 400))
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		if err := c.UserEvent("flood", payload, false); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		_, err := c.Members()
		return err
	})
	if grew := agentRSS(t, pid) - base; grew > 50<<20 {
		t.Errorf("with a stalled stream reader the agent's RSS grew by %d MiB", grew>>20)
	}
	// Once a write to it has made no progress for a while, the agent
	// closes the connection, which frees what it held for it.
	if err := testutil.Poll(60*time.Second, 200*time.Millisecond, func() error {
		if !strings.Contains(a.proc.Stdout(), "i/o timeout") {
			return errors.New("the agent still holds the connection of the client that stopped reading")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestIdleRPCConnectionsFigures prints the resident memory and open
// descriptors of an agent (the binary as shipped, no race detector) while
// 3,000 connections that never send a handshake are open, over the
// handshake deadline. A figure, not a check; it runs only with
// SERF_MEASURE_RSS=1:
//
//	SERF_MEASURE_RSS=1 go test -run '^TestIdleRPCConnectionsFigures$' -count=1 -v ./cmd/serf
//
// Without the limits every connection stayed open (3,000 descriptors,
// about +17 MiB); with the defaults at most 512 (+16 being refused) are
// held, and none after 5 s.
func TestIdleRPCConnectionsFigures(t *testing.T) {
	if os.Getenv("SERF_MEASURE_RSS") != "1" {
		t.Skip("set SERF_MEASURE_RSS=1 to measure idle RPC connections")
	}
	const idle = 3000
	bin := buildShippedBinary(t)
	ports, err := testutil.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	rpc := "127.0.0.1:" + strconv.Itoa(ports[1])
	p, err := testutil.StartProcess(bin, t.TempDir(), nil, "agent", "-node=idle-rpc",
		"-bind=127.0.0.1:"+strconv.Itoa(ports[0]), "-rpc-addr="+rpc, "-profile=local")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	if err := p.WaitOutput("Log data will now stream in as it occurs", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	pid := p.Cmd.Process.Pid
	report := func(when string, open int64) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		t.Logf("%-26s VmRSS %6.1f MiB, %4d descriptors, %4d connections open", when,
			float64(agentRSS(t, pid))/(1<<20), len(fds), open)
	}
	report("before:", 0)

	var open atomic.Int64
	var readers sync.WaitGroup
	t.Cleanup(readers.Wait) // cleanups run last first: after the connections close
	start := time.Now()
	for i := 0; i < idle; i++ {
		conn, err := net.DialTimeout("tcp", rpc, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open.Add(1)
		readers.Add(1)
		go func() {
			defer readers.Done()
			_, _ = io.Copy(io.Discard, conn) // until the agent closes it
			open.Add(-1)
		}()
		t.Cleanup(func() { conn.Close() })
	}
	for _, at := range []time.Duration{time.Second, 3 * time.Second, 8 * time.Second, 15 * time.Second} {
		time.Sleep(time.Until(start.Add(at))) // figures at fixed times, not a wait for a condition
		report(fmt.Sprintf("%d connections, +%v:", idle, at), open.Load())
	}
}

// The msgpack helpers write the old-spec forms Serf uses (prefixed: the
// hostile-input tests have their own).
func rlMpMap(n int) []byte { return []byte{0x80 | byte(n)} }

func rlMpStr(s string) []byte {
	if len(s) < 32 {
		return append([]byte{0xa0 | byte(len(s))}, s...)
	}
	b := []byte{0xda, byte(len(s) >> 8), byte(len(s))}
	return append(b, s...)
}

func rlMpInt(v int64) []byte {
	switch {
	case v >= 0 && v < 128:
		return []byte{byte(v)}
	case v >= -1<<31 && v < 1<<31:
		b := make([]byte, 5)
		b[0] = 0xd2
		binary.BigEndian.PutUint32(b[1:], uint32(v))
		return b
	}
	b := make([]byte, 9)
	b[0] = 0xd3
	binary.BigEndian.PutUint64(b[1:], uint64(v))
	return b
}

func rlCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
