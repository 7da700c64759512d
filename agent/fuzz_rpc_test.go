package agent

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzRPCSequence writes arbitrary bytes, mostly sequences of RPC
// requests, to a real agent's RPC listener on 127.0.0.1, then closes its
// sending side. The agent must close the connection soon after (a client
// that has gone must not pin a handler), and must then still answer a
// handshake and members on a fresh connection.
//
// Inputs naming join or leave are skipped: a mutated join could aim at an
// address off this machine, and a leave would end the agent under test.
func FuzzRPCSequence(f *testing.F) {
	n := startTestNode(f, testAgentOptions{name: "fuzz-rpc"})
	hs := rawMap(f, map[string]interface{}{"Command": "handshake", "Seq": 0})
	hsBody := rawMap(f, map[string]interface{}{"Version": 1})
	req := func(cmd string, seq int, body map[string]interface{}) []byte {
		b := rawMap(f, map[string]interface{}{"Command": cmd, "Seq": seq})
		if body != nil {
			b = append(b, rawMap(f, body)...)
		}
		return b
	}
	start := append(append([]byte{}, hs...), hsBody...)
	seeds := [][]byte{
		nil,
		start,
		append(start, req("members", 1, nil)...),
		append(start, req("members-filtered", 1, map[string]interface{}{"Tags": map[string]string{"role": "(a+)+$"}, "Status": "alive", "Name": ".*"})...),
		append(start, append(req("monitor", 1, map[string]interface{}{"LogLevel": "DEBUG"}), req("stop", 2, map[string]interface{}{"Stop": 1})...)...),
		append(start, append(req("stream", 1, map[string]interface{}{"Type": "*"}), req("event", 2, map[string]interface{}{"Name": "e", "Payload": []byte("p"), "Coalesce": false})...)...),
		append(start, req("query", 1, map[string]interface{}{"Name": "q", "Timeout": int64(time.Millisecond * 50), "RequestAck": true})...),
		append(start, req("tags", 1, map[string]interface{}{"Tags": map[string]string{"k": "v"}, "DeleteTags": []string{"k"}})...),
		append(start, req("respond", 1, map[string]interface{}{"ID": 1, "Payload": []byte("x")})...),
		append(start, req("install-key", 1, map[string]interface{}{"Key": "AAAA"})...),
		append(start, append(req("stats", 1, nil), req("get-coordinate", 2, map[string]interface{}{"Node": "fuzz-rpc"})...)...),
		append(start, req("auth", 1, map[string]interface{}{"AuthKey": "x"})...),
		append(start, []byte{0x82, 0xa7, 'C', 'o', 'm', 'm', 'a', 'n', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}...),
		append(start, 0xdf, 0xff, 0xff, 0xff, 0xff),
		hs,
		req("members", 0, nil),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("join")) || bytes.Contains(data, []byte("leave")) {
			t.Skip("join and leave are not fuzzed")
		}
		conn, err := net.DialTimeout("tcp", n.rpcAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(data); err != nil {
			// The agent may hang up mid-write on bad input: fine.
			return
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		_, err = io.Copy(io.Discard, conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the agent kept the connection open 10s after the client's EOF (input %x)", data)
		}

		c := dialRPC(t, n.rpcAddr)
		c.handshake(0)
		c.call(membersCommand, 1, nil, "")
	})
}
