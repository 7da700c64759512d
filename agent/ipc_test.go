package agent

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/logutils"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

// ---------------------------------------------------------------------------
// Replaying the recorded transcripts

// testKey1 is K1 of the recordings (bytes 0x00..0x1f); the key vectors
// install K2 themselves.
var testKey1 = mustBase64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// vectorCluster is the cluster the RPC transcripts in testdata/vectors/rpc
// were recorded on (testdata/vectors/README.md describes it), rebuilt
// on free loopback ports: node-a (role=web, dc=east) and node-b (role=db,
// dc=east) answer every query with "pong from <name>", node-c (role=web,
// dc=west) does not; node-auth, here a second RPC server of node-a,
// requires the token "secret-token"; node-ka and node-kb share key K1;
// node-d (role=worker) is joined with `serf join 127.0.0.1:19104` and
// leaves with `serf leave`.
type vectorCluster struct {
	a, b, c   *testNode
	aAuthAddr string // node-a's second RPC server, with "secret-token"
	ka, kb    *testNode
	d         *testNode // nil when port 19104 was not free
}

const nodeDPort = 19104 // the recordings join "127.0.0.1:19104" literally

func startVectorCluster(t *testing.T) *vectorCluster {
	t.Helper()
	cl := &vectorCluster{
		a: startTestNode(t, testAgentOptions{name: "node-a", tags: map[string]string{"role": "web", "dc": "east"},
			pong: true, eventHandlers: []string{"query=./qresp.sh"}}),
		b:  startTestNode(t, testAgentOptions{name: "node-b", tags: map[string]string{"role": "db", "dc": "east"}, pong: true}),
		c:  startTestNode(t, testAgentOptions{name: "node-c", tags: map[string]string{"role": "web", "dc": "west"}}),
		ka: startTestNode(t, testAgentOptions{name: "node-ka", keyring: [][]byte{testKey1}}),
		kb: startTestNode(t, testAgentOptions{name: "node-kb", keyring: [][]byte{testKey1}}),
	}
	authIPC, authAddr := startTestIPC(t, cl.a.agent, "secret-token", cl.a.logs)
	t.Cleanup(authIPC.Shutdown)
	cl.aAuthAddr = authAddr

	if portFree(nodeDPort) {
		cl.d = startTestNode(t, testAgentOptions{name: "node-d", port: nodeDPort, tags: map[string]string{"role": "worker"}})
	}
	joinAll(t, cl.a, cl.b, cl.c)
	joinAll(t, cl.ka, cl.kb)
	return cl
}

// vectorCase says how one transcript is replayed and compared.
type vectorCase struct {
	file string
	// server picks the RPC server: "a" (default), "a-auth", "c", "ka", "d".
	server string
	// rules relax the body comparison where the rebuilt cluster differs
	// from the recorded one (ports, member sets, runtime values...).
	rules *cmpRules
	// exact also requires every body byte-for-byte.
	exact bool
	// closes: the agent must close the connection after the last reply.
	closes bool
	before func(t *testing.T, cl *vectorCluster)
	after  func(t *testing.T, cl *vectorCluster)
	// run replaces the plain replay for interactive transcripts.
	run func(t *testing.T, cl *vectorCluster, v *rpcVector, conn *rpcTestConn)
}

var (
	// The rebuilt cluster has the recorded members, on other ports.
	membersRules = &cmpRules{unordered: []string{"/Members"}, loose: []string{"/Members/#/Port"}}
	// Recordings of members the rebuilt cluster lacks: shapes only.
	membersShapeRules = &cmpRules{shape: []string{"/Members"}, anything: []string{"/Members/#/Tags"}}
	statsRules        = &cmpRules{loose: []string{"/runtime/*", "/serf/*"}, extra: []string{"/serf/address_book"}}
	coordRules        = &cmpRules{loose: []string{"/Coord/Adjustment", "/Coord/Error", "/Coord/Height", "/Coord/Vec/#"}}
	rttRules          = &cmpRules{loose: append(append([]string{}, statsRules.loose...), coordRules.loose...), extra: statsRules.extra}
	keysRules         = &cmpRules{}
)

func vectorCases() []vectorCase {
	restoreTagsA := func(t *testing.T, cl *vectorCluster) {
		if err := cl.a.agent.SetTags(map[string]string{"role": "web", "dc": "east"}); err != nil {
			t.Fatalf("restore tags: %v", err)
		}
	}
	needD := func(t *testing.T, cl *vectorCluster) {
		if cl.d == nil {
			t.Skipf("port %d is taken; the recording joins it literally", nodeDPort)
		}
	}
	return []vectorCase{
		{file: "handshake.json", exact: true},
		{file: "error-duplicate-handshake.json", exact: true},
		{file: "error-handshake-required.json", exact: true, closes: true},
		{file: "error-unsupported-command.json", exact: true, closes: true},
		{file: "error-unsupported-ipc-version.json", exact: true},
		{file: "respond-unknown-query-id.json", exact: true},
		{file: "stop-unknown-seq.json", exact: true},

		{file: "members.json", rules: membersRules},
		{file: "members-json.json", rules: membersRules},
		{file: "members-detailed.json", rules: membersRules},
		{file: "members-name.json", rules: membersRules},
		{file: "members-status.json", rules: membersRules},
		{file: "members-tag.json", rules: membersRules},
		{file: "members-filters-combined.json", rules: membersRules},
		{file: "members-status-left.json", rules: membersShapeRules},
		{file: "members-with-failed-and-left.json", rules: membersShapeRules},
		{file: "reachability.json", rules: membersRules},

		{file: "info.json", rules: statsRules},
		{file: "info-json.json", rules: statsRules},
		{file: "rtt-two-nodes.json", rules: coordRules, before: waitCoordinateOfB},
		{file: "rtt-one-node.json", rules: rttRules, before: waitCoordinateOfB},
		{file: "rtt-unknown-node.json", exact: true},

		{file: "event-coalesce.json", exact: true},
		{file: "event-no-coalesce.json", exact: true},
		{file: "event-no-payload.json", exact: true},

		{file: "query-ack.json"},
		{file: "query-json.json"},
		{file: "query-no-ack.json"},
		{file: "query-node-filter.json"},
		{file: "query-relay-factor.json"},
		{file: "query-tag-filter.json"},

		{file: "auth-ok.json", server: "a-auth", rules: membersShapeRules},
		{file: "auth-bad-token.json", server: "a-auth", exact: true},
		{file: "auth-missing.json", server: "a-auth", exact: true},

		{file: "monitor-bad-level.json", exact: true},
		{file: "monitor.json", run: runMonitorVector},
		{file: "stream.json", server: "c", run: runStreamVector},

		{file: "tags-set.json", exact: true},
		{file: "tags-delete.json", exact: true, after: restoreTagsA},

		{file: "force-leave.json", exact: true},
		{file: "force-leave-prune.json", exact: true},
		{file: "force-leave-unknown.json", exact: true},

		// In the order they were recorded: the keyring changes.
		{file: "keys-list.json", server: "ka", exact: true},
		{file: "keys-install.json", server: "ka", exact: true},
		{file: "keys-list-two-keys.json", server: "ka", rules: keysRules},
		{file: "keys-use.json", server: "ka", exact: true},
		{file: "keys-remove-primary-fails.json", server: "ka", rules: keysRules},
		{file: "keys-remove.json", server: "ka", exact: true},
		{file: "keys-install-invalid.json", server: "ka", exact: true},

		{file: "join-fail.json", exact: true, before: needNothingOn19999},
		{file: "join.json", exact: true, before: needD},
		{file: "join-replay.json", exact: true, before: needD},
		{file: "leave.json", server: "d", exact: true, closes: true, before: needD,
			after: func(t *testing.T, cl *vectorCluster) {
				select {
				case <-cl.d.agent.ShutdownCh():
				case <-time.After(10 * time.Second):
					t.Fatal("agent still running after leave")
				}
			}},
	}
}

func waitCoordinateOfB(t *testing.T, cl *vectorCluster) {
	testutil.WaitFor(t, 20*time.Second, func() error {
		if _, ok := cl.a.agent.Serf().GetCachedCoordinate("node-b"); !ok {
			return errors.New("node-a has no coordinate for node-b yet")
		}
		return nil
	})
}

func needNothingOn19999(t *testing.T, _ *vectorCluster) {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:19999", time.Second); err == nil {
		_ = c.Close()
		t.Skip("something listens on 127.0.0.1:19999; the recording expects connection refused")
	}
}

func TestIPCVectors(t *testing.T) {
	dir := rpcVectorsDir(t)
	cases := vectorCases()

	// Every recording must be covered.
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range cases {
		listed[c.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("recording %s has no test case", filepath.Base(f))
		}
	}

	cl := startVectorCluster(t)
	for _, vc := range cases {
		t.Run(strings.TrimSuffix(vc.file, ".json"), func(t *testing.T) {
			if vc.before != nil {
				vc.before(t, cl)
			}
			v := loadRPCVector(t, dir, vc.file)
			var addr string
			switch vc.server {
			case "", "a":
				addr = cl.a.rpcAddr
			case "a-auth":
				addr = cl.aAuthAddr
			case "c":
				addr = cl.c.rpcAddr
			case "ka":
				addr = cl.ka.rpcAddr
			case "d":
				addr = cl.d.rpcAddr
			}
			conn := dialRPC(t, addr)
			if vc.run != nil {
				vc.run(t, cl, v, conn)
			} else {
				replayVector(t, v, conn, vc.rules, vc.exact, vc.closes)
			}
			if vc.after != nil {
				vc.after(t, cl)
			}
		})
	}
}

// replayVector sends every recorded request at once (pipelining is
// allowed), reads until every recorded reply and every query's "done"
// record has its counterpart, and compares: replies in order, query
// records as a multiset with "done" last, and stream records only for
// well-formedness.
func replayVector(t *testing.T, v *rpcVector, conn *rpcTestConn, rules *cmpRules, exact, closes bool) {
	t.Helper()
	want := v.agentFrames(t)
	commands := map[uint64]string{}
	for _, r := range v.requests {
		commands[r.seq] = r.command
	}

	wantReplies := map[uint64]int{}
	var wantOrder []*rpcFrame
	wantRecords := map[uint64][]*rpcFrame{}
	for _, f := range want {
		if f.record {
			wantRecords[f.seq] = append(wantRecords[f.seq], f)
			continue
		}
		wantReplies[f.seq]++
		wantOrder = append(wantOrder, f)
	}

	for _, r := range v.requests {
		conn.sendRequest(r)
	}

	gotReplies := map[uint64]int{}
	var gotOrder []*rpcFrame
	gotRecords := map[uint64][]*rpcFrame{}
	done := func() bool {
		for seq, n := range wantReplies {
			if gotReplies[seq] < n {
				return false
			}
		}
		for seq := range wantRecords {
			if commands[seq] != queryCommand {
				continue
			}
			recs := gotRecords[seq]
			if len(recs) == 0 || recs[len(recs)-1].body.get("Type").text != queryRecordDone {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(testReplyTimeout)
	for !done() {
		f, err := conn.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("reading replies: %v\ngot so far: %v", err, gotOrder)
		}
		if f.record {
			gotRecords[f.seq] = append(gotRecords[f.seq], f)
			continue
		}
		gotReplies[f.seq]++
		gotOrder = append(gotOrder, f)
	}

	if len(gotOrder) != len(wantOrder) {
		t.Fatalf("got %d replies, want %d: %v", len(gotOrder), len(wantOrder), gotOrder)
	}
	for i := range wantOrder {
		if err := compareFrame(wantOrder[i], gotOrder[i], rules, exact); err != nil {
			t.Errorf("reply %d (seq %d): %v", i, wantOrder[i].seq, err)
		}
	}
	for seq, recs := range gotRecords {
		switch commands[seq] {
		case queryCommand:
			compareQueryRecords(t, wantRecords[seq], recs)
		default:
			for _, r := range recs {
				if err := checkStructKeyOrder(r.body); err != nil {
					t.Errorf("record %v: %v", r, err)
				}
			}
		}
	}
	if closes {
		conn.expectClosed(5 * time.Second)
	}
}

// compareQueryRecords compares query records: every header exactly, the
// bodies as a multiset (arrival order varies), and "done" last.
func compareQueryRecords(t *testing.T, want, got []*rpcFrame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d query records, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	var wantBodies, gotBodies []*mpNode
	for i := range want {
		if !bytes.Equal(want[i].header.raw, got[i].header.raw) {
			t.Errorf("record header %v, want %v", got[i].header, want[i].header)
		}
		if err := checkStructKeyOrder(got[i].body); err != nil {
			t.Error(err)
		}
		wantBodies = append(wantBodies, want[i].body)
		gotBodies = append(gotBodies, got[i].body)
	}
	last := len(want) - 1
	if !bytes.Equal(want[last].body.raw, got[last].body.raw) {
		t.Errorf("last record %v, want %v", got[last].body, want[last].body)
	}
	if err := mpCompareUnordered(wantBodies[:last], gotBodies[:last], "", nil); err != nil {
		t.Errorf("query records: %v\ngot  %v\nwant %v", err, got, want)
	}
}

// firstRecord returns the first recorded record of seq matching pred.
func firstRecord(t *testing.T, frames []*rpcFrame, seq uint64, pred func(*mpNode) bool) *rpcFrame {
	t.Helper()
	for _, f := range frames {
		if f.record && f.seq == seq && pred(f.body) {
			return f
		}
	}
	t.Fatalf("recording has no such record for seq %d", seq)
	return nil
}

// replyFrame returns the recorded reply to seq.
func replyFrame(t *testing.T, frames []*rpcFrame, seq uint64) *rpcFrame {
	t.Helper()
	for _, f := range frames {
		if !f.record && f.seq == seq {
			return f
		}
	}
	t.Fatalf("recording has no reply for seq %d", seq)
	return nil
}

func eventIs(name string) func(*mpNode) bool {
	return func(n *mpNode) bool { return n.get("Event") != nil && n.get("Event").text == name }
}

// replayRequest sends one recorded request and compares its reply.
func replayRequest(t *testing.T, v *rpcVector, want []*rpcFrame, conn *rpcTestConn, seq uint64) {
	t.Helper()
	conn.sendRequest(v.request(t, seq))
	if err := compareFrame(replyFrame(t, want, seq), conn.reply(seq), nil, true); err != nil {
		t.Fatalf("seq %d: %v", seq, err)
	}
}

// runMonitorVector replays `serf monitor`: stream "*" (seq 2), monitor INFO
// (seq 3), a user event fired elsewhere, then stop for both.
func runMonitorVector(t *testing.T, cl *vectorCluster, v *rpcVector, conn *rpcTestConn) {
	want := v.agentFrames(t)
	for _, seq := range []uint64{1, 2, 3} {
		replayRequest(t, v, want, conn, seq)
	}
	logShape := firstRecord(t, want, 3, func(*mpNode) bool { return true })

	// The ring is replayed first; every line must pass the INFO filter.
	checkLog := func(f *rpcFrame) string {
		t.Helper()
		if err := compareFrame(logShape, f, &cmpRules{loose: []string{"/Log"}}, false); err != nil {
			t.Fatalf("log record: %v", err)
		}
		line := f.body.get("Log").text
		if strings.Contains(line, "[DEBUG]") || strings.Contains(line, "[TRACE]") {
			t.Fatalf("monitor at INFO sent %q", line)
		}
		return line
	}
	checkLog(conn.record(3, 10*time.Second))

	if err := cl.b.agent.UserEvent("monitor-test", []byte("hi"), true); err != nil {
		t.Fatal(err)
	}
	wantUser := firstRecord(t, want, 2, eventIs("user"))
	userRec := conn.until(10*time.Second, "user event record", func(f *rpcFrame) bool {
		return f.record && f.seq == 2 && eventIs("user")(f.body) && f.body.get("Name").text == "monitor-test"
	})
	if err := compareFrame(wantUser, userRec, &cmpRules{loose: []string{"/LTime"}}, false); err != nil {
		t.Fatalf("user event record: %v", err)
	}
	conn.until(10*time.Second, "monitor line of the event", func(f *rpcFrame) bool {
		return f.record && f.seq == 3 &&
			strings.Contains(checkLog(f), "[INFO] agent: Received event: user-event: monitor-test")
	})

	for _, seq := range []uint64{4, 5} {
		replayRequest(t, v, want, conn, seq)
	}
	// Whatever was stashed must be well-formed records of the two streams.
	for _, f := range conn.stash {
		if !f.record || (f.seq != 2 && f.seq != 3) {
			t.Errorf("unexpected frame %v", f)
		}
	}
}

// runStreamVector replays the Go client's Stream("*") against node-c: a
// query from node-a answered with respond, a user event, member events of
// a joining and leaving node-s and a tag change of node-b, then stop.
func runStreamVector(t *testing.T, cl *vectorCluster, v *rpcVector, conn *rpcTestConn) {
	want := v.agentFrames(t)
	replayRequest(t, v, want, conn, 1)
	replayRequest(t, v, want, conn, 2)

	recordOf := func(what string, match func(*mpNode) bool) *rpcFrame {
		t.Helper()
		return conn.until(15*time.Second, what, func(f *rpcFrame) bool { return f.record && f.seq == 2 && match(f.body) })
	}
	ltimeRules := &cmpRules{loose: []string{"/LTime"}}

	// The query: the first query on this connection gets ID 1, which the
	// recorded respond request uses.
	qresp, err := cl.a.agent.Query("stream-query", []byte("q-payload"), &serf.QueryParam{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q := recordOf("query record", eventIs("query"))
	if err := compareFrame(firstRecord(t, want, 2, eventIs("query")), q, ltimeRules, false); err != nil {
		t.Fatalf("query record: %v", err)
	}
	replayRequest(t, v, want, conn, 3)
	responses := map[string]string{}
	for r := range qresp.ResponseCh() {
		responses[r.From] = string(r.Payload)
	}
	if responses["node-c"] != "stream-response-from-node-c" {
		t.Errorf("node-a got responses %q, want node-c's respond payload", responses)
	}

	if err := cl.a.agent.UserEvent("stream-event", []byte("payload-1"), true); err != nil {
		t.Fatal(err)
	}
	// Earlier subtests' coalesced events may still be flushing into this
	// stream: wait for ours by name.
	u := recordOf("user event record", func(n *mpNode) bool {
		return eventIs("user")(n) && n.get("Name").text == "stream-event"
	})
	// The event may reach node-c through a push-pull before the gossip
	// copy does; the user events in a push-pull do not carry the coalesce
	// flag, so that copy arrives with Coalesce=false.
	userRules := &cmpRules{loose: []string{"/LTime", "/Coalesce"}}
	if err := compareFrame(firstRecord(t, want, 2, eventIs("user")), u, userRules, false); err != nil {
		t.Fatalf("user event record: %v", err)
	}

	// node-s joins and leaves: member-join and member-leave records that
	// match the recording except for the port.
	s := startTestNode(t, testAgentOptions{name: "node-s", tags: map[string]string{"role": "temp"}})
	if _, err := s.agent.Join([]string{cl.a.gossipAddr}, false); err != nil {
		t.Fatal(err)
	}
	join := recordOf("member-join of node-s", func(n *mpNode) bool {
		return eventIs("member-join")(n) && strings.Contains(n.String(), `"node-s"`)
	})
	if err := compareFrame(firstRecord(t, want, 2, eventIs("member-join")), join, membersRules, false); err != nil {
		t.Fatalf("member-join record: %v", err)
	}
	if err := s.agent.Leave(); err != nil {
		t.Fatal(err)
	}
	_ = s.agent.Shutdown()
	leave := recordOf("member-leave of node-s", func(n *mpNode) bool {
		return eventIs("member-leave")(n) && strings.Contains(n.String(), `"node-s"`)
	})
	if err := compareFrame(firstRecord(t, want, 2, eventIs("member-leave")), leave, membersRules, false); err != nil {
		t.Fatalf("member-leave record: %v", err)
	}

	// node-b changes its tags: a member-update (the recorded one is about
	// other members, so only its shape is compared).
	if err := cl.b.agent.SetTags(map[string]string{"role": "db", "dc": "east", "version": "2"}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cl.b.agent.SetTags(map[string]string{"role": "db", "dc": "east"}); err != nil {
			t.Errorf("restore tags of node-b: %v", err)
		}
	}()
	upd := recordOf("member-update of node-b", func(n *mpNode) bool {
		return eventIs("member-update")(n) && strings.Contains(n.String(), `"version": "2"`)
	})
	if err := compareFrame(firstRecord(t, want, 2, eventIs("member-update")), upd, membersShapeRules, false); err != nil {
		t.Fatalf("member-update record: %v", err)
	}

	replayRequest(t, v, want, conn, 4)
}

// ---------------------------------------------------------------------------
// Hand-written scenarios

func TestIPCHandshakeGates(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-g"})

	t.Run("command before handshake closes", func(t *testing.T) {
		c := dialRPC(t, n.rpcAddr)
		c.send(statsCommand, 7, nil)
		f := c.reply(7)
		if f.err != errHandshakeRequiredText || f.body != nil {
			t.Fatalf("got %v", f)
		}
		c.expectClosed(5 * time.Second)
	})

	t.Run("auth before handshake closes", func(t *testing.T) {
		c := dialRPC(t, n.rpcAddr)
		c.send(authCommand, 1, &ipcAuthRequest{})
		if f := c.reply(1); f.err != errHandshakeRequiredText {
			t.Fatalf("got %v", f)
		}
		c.expectClosed(5 * time.Second)
	})

	t.Run("bad version, retry, duplicate", func(t *testing.T) {
		c := dialRPC(t, n.rpcAddr)
		c.call(handshakeCommand, 1, &ipcHandshakeRequest{Version: 2}, errUnsupportedIPCVersion)
		c.call(handshakeCommand, 2, &ipcHandshakeRequest{Version: 0}, errUnsupportedIPCVersion)
		c.call(handshakeCommand, 3, &ipcHandshakeRequest{Version: 1}, "")
		c.call(handshakeCommand, 4, &ipcHandshakeRequest{Version: 1}, errDuplicateHandshake)
		c.call(statsCommand, 5, nil, "")
	})

	t.Run("unknown commands close", func(t *testing.T) {
		for _, cmd := range []string{"bogus", "Members", "", "STATS"} {
			c := dialRPC(t, n.rpcAddr)
			c.handshake(1)
			c.send(cmd, 2, nil)
			if f := c.reply(2); f.err != errUnsupportedCommandText || f.body != nil {
				t.Fatalf("%q: got %v", cmd, f)
			}
			c.expectClosed(5 * time.Second)
		}
	})

	t.Run("header without keys keeps the previous values", func(t *testing.T) {
		c := dialRPC(t, n.rpcAddr)
		c.handshake(1)
		c.fr.expect(statsCommand, 9)
		c.writeRaw(rawMap(t, map[string]interface{}{"Command": statsCommand, "Seq": 9}))
		c.writeRaw(rawMap(t, map[string]interface{}{"Other": 1}))
		c.writeRaw(rawMap(t, map[string]interface{}{"Seq": 9}))
		for i := 0; i < 3; i++ {
			if f := c.reply(9); f.err != "" || f.body.get("agent") == nil {
				t.Fatalf("reply %d: %v", i, f)
			}
		}
	})

	t.Run("pipelined requests are answered in order", func(t *testing.T) {
		c := dialRPC(t, n.rpcAddr)
		var raw []byte
		for i, r := range []struct {
			cmd  string
			body interface{}
		}{
			{handshakeCommand, &ipcHandshakeRequest{Version: 1}},
			{statsCommand, nil},
			{membersCommand, nil},
			{getCoordinateCommand, &ipcCoordinateRequest{Node: "node-g"}},
			{eventCommand, &ipcEventRequest{Name: "pipelined"}},
			{membersFilteredCommand, &ipcMembersFilteredRequest{Name: "node-.*"}},
		} {
			seq := uint64(10 + i)
			c.fr.expect(r.cmd, seq)
			raw = append(raw, rawMap(t, map[string]interface{}{"Command": r.cmd, "Seq": seq})...)
			if r.body != nil {
				var buf bytes.Buffer
				if err := codec.NewEncoder(&buf, newIPCHandle()).Encode(r.body); err != nil {
					t.Fatal(err)
				}
				raw = append(raw, buf.Bytes()...)
			}
		}
		c.writeRaw(raw)
		for seq := uint64(10); seq < 16; seq++ {
			f, err := c.next(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if f.seq != seq || f.err != "" {
				t.Fatalf("reply %v, want seq %d", f, seq)
			}
		}
	})
}

func TestIPCAuth(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-auth", authKey: "secret-token"})

	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	// Before auth: header only, the connection stays open.
	c.call(statsCommand, 2, nil, errAuthRequiredText)
	c.call(membersCommand, 3, nil, errAuthRequiredText)
	c.call(authCommand, 4, &ipcAuthRequest{AuthKey: "wrong"}, errInvalidAuthToken)
	c.call(authCommand, 5, &ipcAuthRequest{}, errInvalidAuthToken)
	c.call(authCommand, 6, &ipcAuthRequest{AuthKey: "secret-token"}, "")
	f := c.call(membersCommand, 7, nil, "")
	var members ipcMembersResponse
	decodeNode(t, f.body, &members)
	if len(members.Members) != 1 || members.Members[0].Name != "node-auth" {
		t.Fatalf("members %+v", members)
	}
	// A wrong token later does not revoke the earlier success.
	c.call(authCommand, 8, &ipcAuthRequest{AuthKey: "nope"}, errInvalidAuthToken)
	c.call(statsCommand, 9, nil, "")
	if !strings.Contains(strings.Join(n.logs.Lines(), "\n"), "[WARN] agent.ipc: Client sending commands before auth") {
		t.Error("no warning about commands before auth")
	}

	// An agent without a key accepts only the empty token.
	plain := startTestNode(t, testAgentOptions{name: "node-plain"})
	p := dialRPC(t, plain.rpcAddr)
	p.handshake(1)
	p.call(authCommand, 2, &ipcAuthRequest{AuthKey: "secret-token"}, errInvalidAuthToken)
	p.call(authCommand, 3, &ipcAuthRequest{}, "")
	p.call(statsCommand, 4, nil, "")
}

func TestIPCMembersFiltered(t *testing.T) {
	a, _, _ := startTrio(t)
	c := dialRPC(t, a.rpcAddr)
	c.handshake(1)
	seq := uint64(1)
	names := func(f *rpcFrame) string {
		var resp ipcMembersResponse
		decodeNode(t, f.body, &resp)
		var out []string
		for _, m := range resp.Members {
			out = append(out, m.Name)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}

	seq++
	f := c.call(membersCommand, seq, nil, "")
	if got := names(f); got != "node-a,node-b,node-c" {
		t.Fatalf("members = %s", got)
	}
	if err := checkStructKeyOrder(f.body); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, status, node string
		tags               map[string]string
		want               string
	}{
		{want: "node-a,node-b,node-c"},
		{tags: map[string]string{}, want: "node-a,node-b,node-c"},
		{node: "node-a|zz", want: "node-a"}, // ^node-a|zz$: no group
		{node: "zz|c", want: "node-c"},      // ends with c
		{node: "ode-a", want: ""},           // anchored
		{node: "node-.", want: "node-a,node-b,node-c"},
		{tags: map[string]string{"role": "web"}, want: "node-a,node-c"},
		{tags: map[string]string{"role": "we"}, want: ""},
		{tags: map[string]string{"role": "web", "dc": "east"}, want: "node-a"},
		{tags: map[string]string{"missing": ".*"}, want: "node-a,node-b,node-c"},
		{tags: map[string]string{"missing": ""}, want: "node-a,node-b,node-c"},
		{tags: map[string]string{"missing": "x"}, want: ""},
		{status: "alive", want: "node-a,node-b,node-c"},
		{status: "ali", want: ""},
		{status: "left|failed", want: ""},
		{status: "alive", node: "node-[bc]", tags: map[string]string{"dc": "e.*"}, want: "node-b"},
	} {
		seq++
		f := c.call(membersFilteredCommand, seq, &ipcMembersFilteredRequest{Tags: tc.tags, Status: tc.status, Name: tc.node}, "")
		if f.body.get("Members").kind != mpArray {
			t.Fatalf("Members is %v, want an array", f.body.get("Members"))
		}
		if got := names(f); got != tc.want {
			t.Errorf("filter tags=%v status=%q name=%q: got %q, want %q", tc.tags, tc.status, tc.node, got, tc.want)
		}
	}

	// A bad pattern closes the connection without a reply.
	for _, req := range []*ipcMembersFilteredRequest{
		{Name: "("},
		{Status: "[a"},
		{Tags: map[string]string{"role": "a**"}},
	} {
		b := dialRPC(t, a.rpcAddr)
		b.handshake(1)
		b.send(membersFilteredCommand, 2, req)
		b.expectClosed(5 * time.Second)
	}
	if !strings.Contains(strings.Join(a.logs.Lines(), "\n"), "[ERR] agent.ipc: Failed to evaluate request: Failed to compile regex: ") {
		t.Error("bad regex not logged")
	}
}

func TestIPCEventAndTags(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-e", tags: map[string]string{"keep": "1", "drop": "1"}})
	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	c.call(streamCommand, 2, &ipcStreamRequest{Type: "user"}, "")

	// Limits are checked on name + payload before encoding.
	c.call(eventCommand, 3, &ipcEventRequest{Name: "big", Payload: bytes.Repeat([]byte("x"), 600)}, "user event exceeds configured limit of 512 bytes before encoding")

	// A request without Coalesce means false; no payload stays nil.
	c.fr.expect(eventCommand, 4)
	c.writeRaw(rawMap(t, map[string]interface{}{"Command": eventCommand, "Seq": 4}))
	c.writeRaw(rawMap(t, map[string]interface{}{"Name": "no-coalesce"}))
	if f := c.reply(4); f.err != "" {
		t.Fatal(f)
	}
	rec := c.record(2, 10*time.Second)
	if got := rec.body.get("Coalesce"); got == nil || got.raw[0] != 0xc2 {
		t.Errorf("Coalesce = %v, want false", got)
	}
	if got := rec.body.get("Payload"); got == nil || got.kind != mpNil {
		t.Errorf("Payload = %v, want nil", got)
	}
	if got := rec.body.keys(); strings.Join(got, ",") != "Coalesce,Event,LTime,Name,Payload" {
		t.Errorf("user record keys %v", got)
	}

	// Tags: deletes first, then sets, so a tag both deleted and set stays.
	c.call(tagsCommand, 5, &ipcTagsRequest{Tags: map[string]string{"new": "2", "drop": "again"}, DeleteTags: []string{"drop", "keep", "absent"}}, "")
	got := n.agent.Serf().LocalTags()
	if len(got) != 2 || got["new"] != "2" || got["drop"] != "again" {
		t.Fatalf("tags = %v", got)
	}
	c.call(tagsCommand, 6, &ipcTagsRequest{Tags: map[string]string{"huge": strings.Repeat("v", 600)}}, "Encoded length of tags exceeds limit of 512 bytes")
	c.call(tagsCommand, 7, &ipcTagsRequest{}, "")
}

func TestIPCStreams(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-s"})
	base := handlerCount(n.agent)
	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)

	c.call(streamCommand, 2, &ipcStreamRequest{Type: "bogus"}, errInvalidFilter)
	c.call(streamCommand, 3, &ipcStreamRequest{Type: "user, member-join"}, errInvalidFilter) // no trimming
	c.call(streamCommand, 4, &ipcStreamRequest{Type: "user:deploy,member-join"}, "")
	c.call(streamCommand, 4, &ipcStreamRequest{Type: "*"}, errStreamExists)
	c.call(streamCommand, 5, &ipcStreamRequest{Type: "user"}, "")
	c.call(streamCommand, 6, &ipcStreamRequest{}, "") // empty = "*"
	// Registration follows the success reply.
	testutil.WaitFor(t, 10*time.Second, func() error {
		if got := handlerCount(n.agent); got != base+3 {
			return fmt.Errorf("%d handlers, want %d", got, base+3)
		}
		return nil
	})

	fire := func(name string) {
		t.Helper()
		if err := n.agent.UserEvent(name, []byte("p-"+name), false); err != nil {
			t.Fatal(err)
		}
	}
	fire("other")
	fire("deploy")
	nameOf := func(f *rpcFrame) string { return f.body.get("Name").text }
	// The node's own member-join may reach the handlers after the
	// streams registered, on a loaded machine; only user records count.
	userRecord := func(seq uint64) *rpcFrame {
		t.Helper()
		for {
			r := c.record(seq, 10*time.Second)
			if ev := r.body.get("Event"); ev != nil && ev.text == "user" {
				return r
			}
		}
	}
	if r := userRecord(4); nameOf(r) != "deploy" {
		t.Fatalf("user:deploy stream got %v", r)
	}
	for _, seq := range []uint64{5, 6} {
		if a, b := nameOf(userRecord(seq)), nameOf(userRecord(seq)); a != "other" || b != "deploy" {
			t.Fatalf("stream %d got %s, %s", seq, a, b)
		}
	}

	// After stop, the stream gets nothing more and is deregistered.
	c.call(stopCommand, 7, &ipcStopRequest{Stop: 4}, "")
	c.call(stopCommand, 8, &ipcStopRequest{Stop: 4}, "")
	if got := handlerCount(n.agent); got != base+2 {
		t.Fatalf("%d handlers after stop, want %d", got, base+2)
	}
	fire("deploy")
	c.record(5, 10*time.Second)
	c.record(6, 10*time.Second)
	c.expectQuiet(200 * time.Millisecond)
	for _, f := range c.stash {
		t.Errorf("unexpected frame %v", f)
	}
	// The seq of a stopped stream can be used again.
	delete(c.fr.open, 4)
	c.call(streamCommand, 4, &ipcStreamRequest{Type: "member-leave"}, "")

	// A disconnect ends the connection's streams.
	_ = c.conn.Close()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if got := handlerCount(n.agent); got != base {
			return fmt.Errorf("%d handlers, want %d", got, base)
		}
		return nil
	})
}

func TestIPCMonitor(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-m"})
	logger := log.New(n.logs, "", log.LstdFlags)
	logger.Printf("[DEBUG] test: hidden-1")
	logger.Printf("[INFO] test: shown-1")
	logger.Printf("no level: shown-2")
	logger.Printf("[CRIT] test: shown-3")
	logger.Printf("[WARN] test: multi\nline shown-4")

	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	c.call(monitorCommand, 2, &ipcMonitorRequest{LogLevel: "bogus"}, "Unknown log level: BOGUS")
	c.call(monitorCommand, 3, &ipcMonitorRequest{}, "Unknown log level: ")
	c.call(monitorCommand, 4, &ipcMonitorRequest{LogLevel: "info"}, "")
	c.call(monitorCommand, 5, &ipcMonitorRequest{LogLevel: "DEBUG"}, errMonitorExists)

	// The ring is replayed oldest first, filtered by level.
	var shown []string
	for len(shown) < 4 {
		line := c.record(4, 10*time.Second).body.get("Log").text
		if strings.Contains(line, "hidden-1") {
			t.Fatalf("DEBUG line passed an INFO monitor: %q", line)
		}
		if strings.Contains(line, "shown-") {
			shown = append(shown, line[strings.Index(line, "shown-"):])
		}
	}
	if got := strings.Join(shown, " "); got != "shown-1 shown-2 shown-3 shown-4" {
		t.Fatalf("replayed %q", got)
	}
	logger.Printf("[INFO] test: live-1")
	c.until(10*time.Second, "live line", func(f *rpcFrame) bool {
		return f.record && f.seq == 4 && strings.HasSuffix(f.body.get("Log").text, "[INFO] test: live-1")
	})

	c.call(stopCommand, 6, &ipcStopRequest{Stop: 4}, "")
	if got := logHandlerCount(n.logs); got != 0 {
		t.Fatalf("%d log handlers after stop", got)
	}
	// A new monitor is allowed after stop; a debug one shows debug lines.
	c.call(monitorCommand, 7, &ipcMonitorRequest{LogLevel: "debug"}, "")
	c.until(10*time.Second, "debug line", func(f *rpcFrame) bool {
		return f.record && f.seq == 7 && strings.Contains(f.body.get("Log").text, "hidden-1")
	})
	_ = c.conn.Close()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if got := logHandlerCount(n.logs); got != 0 {
			return fmt.Errorf("%d log handlers after disconnect", got)
		}
		return nil
	})
}

func TestIPCQueryAndRespond(t *testing.T) {
	a, _, cNode := startTrio(t)

	// A responder on node-c with two streams: each record of the same
	// query gets its own ID.
	r := dialRPC(t, cNode.rpcAddr)
	r.handshake(1)
	r.call(streamCommand, 2, &ipcStreamRequest{Type: "query"}, "")
	r.call(streamCommand, 3, &ipcStreamRequest{Type: "query:status"}, "")

	q := dialRPC(t, a.rpcAddr)
	q.handshake(1)
	q.call(queryCommand, 2, &ipcQueryRequest{
		FilterNodes: []string{"node-c"},
		RequestAck:  true,
		Timeout:     3 * time.Second,
		Name:        "status",
		Payload:     []byte("ping"),
	}, "")

	ids := map[uint64]uint64{}
	for _, seq := range []uint64{2, 3} {
		rec := r.record(seq, 10*time.Second)
		var ev ipcQueryEventRecord
		decodeNode(t, rec.body, &ev)
		if ev.Event != "query" || ev.Name != "status" || string(ev.Payload) != "ping" {
			t.Fatalf("query record %+v", ev)
		}
		if err := checkStructKeyOrder(rec.body); err != nil {
			t.Fatal(err)
		}
		ids[seq] = ev.ID
	}
	if ids[2] == ids[3] || ids[2] < 1 || ids[2] > 2 || ids[3] < 1 || ids[3] > 2 {
		t.Fatalf("query IDs %v, want 1 and 2", ids)
	}
	r.call(respondCommand, 4, &ipcRespondRequest{ID: 99, Payload: []byte("x")}, errUnknownQueryID)
	r.call(respondCommand, 5, &ipcRespondRequest{ID: ids[2], Payload: []byte("pong")}, "")
	r.call(respondCommand, 6, &ipcRespondRequest{ID: ids[3], Payload: []byte("again")}, "failed to respond to key query: response already sent")

	var records []ipcQueryRecord
	for {
		var rec ipcQueryRecord
		decodeNode(t, q.record(2, 10*time.Second).body, &rec)
		records = append(records, rec)
		if rec.Type == queryRecordDone {
			break
		}
	}
	sort.Slice(records, func(i, j int) bool { return records[i].Type < records[j].Type })
	want := []ipcQueryRecord{
		{Type: queryRecordAck, From: "node-c"},
		{Type: queryRecordDone},
		{Type: queryRecordResponse, From: "node-c", Payload: []byte("pong")},
	}
	if fmt.Sprintf("%+v", records) != fmt.Sprintf("%+v", want) {
		t.Fatalf("records %+v, want %+v", records, want)
	}
	// IDs are forgotten at the responder's own deadline, a moment after
	// the querier's.
	seq := uint64(7)
	testutil.WaitFor(t, 10*time.Second, func() error {
		seq++
		r.send(respondCommand, seq, &ipcRespondRequest{ID: ids[2], Payload: []byte("late")})
		if f := r.reply(seq); f.err != errUnknownQueryID {
			return fmt.Errorf("respond after the deadline: %q", f.err)
		}
		return nil
	})

	// Query errors come without records.
	q.call(queryCommand, 3, &ipcQueryRequest{Name: "_serf_x"}, "Queries cannot contain the '_serf_' prefix")
	q.call(queryCommand, 4, &ipcQueryRequest{Name: "_serf_ping", Payload: []byte{}}, "Queries cannot contain the '_serf_' prefix")
	q.call(queryCommand, 5, &ipcQueryRequest{Name: "big", Payload: bytes.Repeat([]byte("x"), 2000)}, "query exceeds limit of 1024 bytes")

	// _serf_ping with a nil payload is allowed; tag filters are not
	// anchored ("we" matches "web"). Internal queries never reach streams.
	q.call(queryCommand, 6, &ipcQueryRequest{Name: "_serf_ping", RequestAck: true, Timeout: time.Second, FilterTags: map[string]string{"role": "we"}}, "")
	acks := map[string]bool{}
	for {
		var rec ipcQueryRecord
		decodeNode(t, q.record(6, 10*time.Second).body, &rec)
		if rec.Type == queryRecordDone {
			break
		}
		acks[rec.From] = true
	}
	if len(acks) != 2 || !acks["node-a"] || !acks["node-c"] {
		t.Fatalf("acks %v, want node-a and node-c", acks)
	}
	r.expectQuiet(200 * time.Millisecond)
	for _, f := range r.stash {
		t.Errorf("responder got %v", f)
	}
	for _, seq := range []uint64{3, 4, 5} {
		for _, f := range q.stash {
			if f.seq == seq {
				t.Errorf("record after a query error: %v", f)
			}
		}
	}
}

func TestIPCKeysWithoutEncryption(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-k"})
	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	key := base64.StdEncoding.EncodeToString(testKey1)

	for i, tc := range []struct {
		cmd      string
		body     interface{}
		err, msg string
	}{
		{listKeysCommand, nil, "1/1 nodes reported failure", "Keyring is empty (encryption not enabled)"},
		{installKeyCommand, &ipcKeyRequest{Key: key}, "1/1 nodes reported failure", "No keyring to modify (encryption not enabled)"},
		{useKeyCommand, &ipcKeyRequest{Key: key}, "1/1 nodes reported failure", "No keyring to modify (encryption not enabled)"},
		{removeKeyCommand, &ipcKeyRequest{Key: key}, "1/1 nodes reported failure", "No keyring to modify (encryption not enabled)"},
	} {
		f := c.call(tc.cmd, uint64(2+i), tc.body, tc.err)
		var resp ipcKeyResponse
		decodeNode(t, f.body, &resp)
		if resp.NumNodes != 1 || resp.NumResp != 1 || resp.NumErr != 1 || resp.Messages["node-k"] != tc.msg {
			t.Errorf("%s: %+v", tc.cmd, resp)
		}
		if keys := f.body.get("Keys"); (tc.cmd == listKeysCommand) != (keys.kind == mpMap) {
			t.Errorf("%s: Keys = %v", tc.cmd, keys)
		}
	}
	// A bad key: the decoder's message and an empty tally, always a body.
	f := c.call(installKeyCommand, 10, &ipcKeyRequest{Key: "not-a-key"}, "illegal base64 data at input byte 3")
	if got := fmt.Sprintf("%x", f.body.raw); got != "85a44b657973c0a84d6573736167657380a64e756d45727200a84e756d4e6f64657300a74e756d5265737000" {
		t.Errorf("body %v", f.body)
	}
}

func TestIPCStatsAndCoordinates(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-x", tags: map[string]string{"role": "web"},
		eventHandlers: []string{"member-join,user:deploy=a.sh", "b.sh", "query:load=c.sh", "user:deploy=d.sh"}})
	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)

	var stats map[string]map[string]string
	decodeNode(t, c.call(statsCommand, 2, nil, "").body, &stats)
	wantKeys := map[string]string{
		"agent":   "name",
		"runtime": "arch,cpu_count,goroutines,max_procs,os,version",
		// Serf 0.10's keys plus address_book (the heal loop's lost peers).
		"serf": "address_book,coordinate_resets,encrypted,event_queue,event_time,failed,health_score,intent_queue,left,member_time,members,query_queue,query_time",
	}
	for section, keys := range wantKeys {
		var got []string
		for k := range stats[section] {
			got = append(got, k)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != keys {
			t.Errorf("%s keys %v, want %s", section, got, keys)
		}
	}
	if stats["agent"]["name"] != "node-x" || stats["serf"]["encrypted"] != "false" || stats["serf"]["members"] != "1" {
		t.Errorf("stats %v", stats)
	}
	if fmt.Sprint(stats["tags"]) != "map[role:web]" {
		t.Errorf("tags %v", stats["tags"])
	}
	if got := fmt.Sprint(stats["event_handlers"]); got != "map[*::b.sh member-join::a.sh query:load:c.sh user:deploy:d.sh]" {
		t.Errorf("event_handlers %s", got)
	}

	var coord ipcCoordinateResponse
	decodeNode(t, c.call(getCoordinateCommand, 3, &ipcCoordinateRequest{Node: "node-x"}, "").body, &coord)
	if !coord.Ok || len(coord.Coord.Vec) != 8 {
		t.Errorf("own coordinate %+v", coord)
	}
	f := c.call(getCoordinateCommand, 4, &ipcCoordinateRequest{Node: "nobody"}, "")
	if got := fmt.Sprintf("%x", f.body.raw); got != "82a5436f6f726484aa41646a7573746d656e74cb0000000000000000a54572726f72cb0000000000000000a6486569676874cb0000000000000000a3566563c0a24f6bc2" {
		t.Errorf("unknown node body %v", f.body)
	}
}

func TestIPCJoin(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "node-j1"})
	b := startTestNode(t, testAgentOptions{name: "node-j2"})
	c := dialRPC(t, a.rpcAddr)
	c.handshake(1)
	var resp ipcJoinResponse
	decodeNode(t, c.call(joinCommand, 2, &ipcJoinRequest{}, "").body, &resp)
	if resp.Num != 0 {
		t.Fatalf("empty join: %+v", resp)
	}
	decodeNode(t, c.call(joinCommand, 3, &ipcJoinRequest{Existing: []string{b.gossipAddr}}, "").body, &resp)
	if resp.Num != 1 {
		t.Fatalf("join: %+v", resp)
	}
	waitAlive(t, 2, a, b)
	c.call(forceLeaveCommand, 4, &ipcForceLeaveRequest{Node: "nobody", Prune: true}, "")
}

func TestIPCLeaveShutsDownAgent(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-l"})
	other := dialRPC(t, n.rpcAddr)
	other.handshake(1)
	other.call(streamCommand, 2, &ipcStreamRequest{Type: "*"}, "")
	other.call(monitorCommand, 3, &ipcMonitorRequest{LogLevel: "INFO"}, "")

	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	f := c.call(leaveCommand, 2, nil, "")
	if f.body != nil {
		t.Fatalf("leave reply has a body: %v", f)
	}
	c.expectClosed(10 * time.Second)
	select {
	case <-n.agent.ShutdownCh():
	case <-time.After(10 * time.Second):
		t.Fatal("agent still running")
	}
	// Every other connection is closed too (after any pending records).
	_ = other.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, other.r); err != nil {
		t.Fatalf("other client: %v", err)
	}
	// The listener was closed before the connections.
	if conn, err := net.DialTimeout("tcp", n.rpcAddr, time.Second); err == nil {
		_ = conn.Close()
		t.Error("the RPC listener still accepts after leave")
	}
	done := make(chan struct{})
	go func() { n.ipc.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hangs after leave")
	}
	if !strings.Contains(strings.Join(n.logs.Lines(), "\n"), "[INFO] agent.ipc: Graceful leave triggered") {
		t.Error("leave not logged")
	}
}

func TestIPCShutdownClosesClients(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-sd"})
	var conns []*rpcTestConn
	for i := 0; i < 3; i++ {
		c := dialRPC(t, n.rpcAddr)
		c.handshake(1)
		c.call(streamCommand, 2, &ipcStreamRequest{}, "")
		c.call(monitorCommand, 3, &ipcMonitorRequest{LogLevel: "TRACE"}, "")
		c.call(queryCommand, 4, &ipcQueryRequest{Name: "long", Timeout: time.Hour}, "")
		conns = append(conns, c)
	}
	idle := dialRPC(t, n.rpcAddr) // never even handshakes

	done := make(chan struct{})
	go func() { n.ipc.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hangs")
	}
	for _, c := range append(conns, idle) {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		// A reset is a close too: the server may close with bytes of ours
		// still unread.
		if _, err := io.Copy(io.Discard, c.r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("client not closed: %v", err)
		}
	}
	if got := handlerCount(n.agent); got != 0 {
		t.Errorf("%d event handlers left", got)
	}
	if got := logHandlerCount(n.logs); got != 0 {
		t.Errorf("%d log handlers left", got)
	}
	n.ipc.Shutdown() // idempotent
}

func TestIPCGarbageAndAbruptDisconnects(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-gb"})
	base := handlerCount(n.agent)

	rawConn := func(t *testing.T) net.Conn {
		conn, err := net.DialTimeout("tcp", n.rpcAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	handshake := rawMap(t, map[string]interface{}{"Command": handshakeCommand, "Seq": 1})
	handshake = append(handshake, rawMap(t, map[string]interface{}{"Version": 1})...)
	handshakeReply := "82a54572726f72a0a353657101"

	for _, tc := range []struct {
		name           string
		data           []byte
		afterHandshake bool
	}{
		{"invalid byte", []byte{0xc1}, false},
		{"header is an array", []byte{0x92, 0x01, 0x02}, false},
		{"header is a string", []byte{0xa3, 'a', 'b', 'c'}, true},
		{"handshake body is a string", append(rawMap(t, map[string]interface{}{"Command": handshakeCommand, "Seq": 1}), 0xa3, 'a', 'b', 'c'), false},
		{"huge map header", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, true},
		{"huge string", []byte{0x81, 0xa7, 'C', 'o', 'm', 'm', 'a', 'n', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}, true},
		{"seq overflow", rawMap(t, map[string]interface{}{"Command": statsCommand, "Seq": -1}), true},
		{"relay factor overflow", append(rawMap(t, map[string]interface{}{"Command": queryCommand, "Seq": 2}),
			rawMap(t, map[string]interface{}{"Name": "q", "RelayFactor": 300})...), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t)
			var want string
			data := tc.data
			if tc.afterHandshake {
				data = append(append([]byte{}, handshake...), data...)
				want = handshakeReply
			}
			if _, err := conn.Write(data); err != nil {
				t.Fatal(err)
			}
			// Incomplete objects wait for more bytes (the server has
			// no timeouts); the end of the stream must end them.
			_ = conn.(*net.TCPConn).CloseWrite()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("connection not closed: %v", err)
			}
			if fmt.Sprintf("%x", got) != want {
				t.Fatalf("agent sent %x, want %s", got, want)
			}
		})
	}

	t.Run("abrupt disconnects", func(t *testing.T) {
		// Connect and go.
		_ = rawConn(t).Close()
		// Half a header.
		conn := rawConn(t)
		_, _ = conn.Write(handshake[:5])
		_ = conn.Close()
		// A header without its body.
		conn = rawConn(t)
		_, _ = conn.Write(handshake[:len(handshake)-3])
		_ = conn.Close()
		// Streams, a monitor and a query, then gone.
		c := dialRPC(t, n.rpcAddr)
		c.handshake(1)
		c.call(streamCommand, 2, &ipcStreamRequest{}, "")
		c.call(monitorCommand, 3, &ipcMonitorRequest{LogLevel: "DEBUG"}, "")
		c.call(queryCommand, 4, &ipcQueryRequest{Name: "q", Timeout: time.Minute}, "")
		_ = c.conn.Close()
		testutil.WaitFor(t, 10*time.Second, func() error {
			if got := handlerCount(n.agent); got != base {
				return fmt.Errorf("%d handlers, want %d", got, base)
			}
			if got := logHandlerCount(n.logs); got != 0 {
				return fmt.Errorf("%d log handlers", got)
			}
			return nil
		})
	})

	// The server keeps serving.
	c := dialRPC(t, n.rpcAddr)
	c.handshake(1)
	c.call(membersCommand, 2, nil, "")
	logs := strings.Join(n.logs.Lines(), "\n")
	for _, want := range []string{"[INFO] agent.ipc: Accepted client: 127.0.0.1:", "[ERR] agent.ipc: failed to decode request header: "} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestIPCConcurrentClients(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-cc"})
	t.Run("group", func(t *testing.T) {
		for i := 0; i < 16; i++ {
			t.Run(fmt.Sprintf("client-%d", i), func(t *testing.T) {
				t.Parallel()
				c := dialRPC(t, n.rpcAddr)
				c.handshake(1)
				c.call(streamCommand, 2, &ipcStreamRequest{Type: "user:" + t.Name()}, "")
				c.call(monitorCommand, 3, &ipcMonitorRequest{LogLevel: "INFO"}, "")
				for j := uint64(0); j < 5; j++ {
					c.call(statsCommand, 10+4*j, nil, "")
					c.call(membersCommand, 11+4*j, nil, "")
					c.call(getCoordinateCommand, 12+4*j, &ipcCoordinateRequest{Node: "node-cc"}, "")
					c.call(eventCommand, 13+4*j, &ipcEventRequest{Name: t.Name(), Payload: []byte{byte(j)}}, "")
				}
				for j := 0; j < 5; j++ {
					if r := c.record(2, 20*time.Second); r.body.get("Name").text != t.Name() {
						t.Fatalf("foreign event %v", r)
					}
				}
				c.call(stopCommand, 40, &ipcStopRequest{Stop: 3}, "")
				c.call(stopCommand, 41, &ipcStopRequest{Stop: 2}, "")
			})
		}
	})
	if got := handlerCount(n.agent); got != 0 {
		t.Errorf("%d handlers left", got)
	}
}

// slowListener shrinks the socket buffers of accepted connections so a
// client that does not read blocks the server's writes quickly.
type slowListener struct{ net.Listener }

func (l slowListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return conn, err
}

func TestIPCSlowClientDoesNotBlockAgent(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "node-slow"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ipc := NewAgentIPC(n.agent, "", slowListener{l}, n.logs, n.logs)
	t.Cleanup(ipc.Shutdown)

	slow := dialRPC(t, l.Addr().String())
	if tc, ok := slow.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	slow.handshake(1)
	slow.call(streamCommand, 2, &ipcStreamRequest{Type: "user"}, "")
	slow.call(monitorCommand, 3, &ipcMonitorRequest{LogLevel: "DEBUG"}, "")
	// From now on the slow client reads nothing.

	fast := dialRPC(t, n.rpcAddr)
	fast.handshake(1)
	fast.call(streamCommand, 2, &ipcStreamRequest{Type: "user:marker"}, "")

	payload := bytes.Repeat([]byte("p"), 200)
	for i := 0; i < 1500; i++ {
		if err := n.agent.UserEvent(fmt.Sprintf("flood-%d", i), payload, false); err != nil {
			t.Fatal(err)
		}
	}
	// The agent's event loop must still be delivering.
	if err := n.agent.UserEvent("marker", nil, false); err != nil {
		t.Fatal(err)
	}
	fast.record(2, 20*time.Second)
	testutil.WaitFor(t, 10*time.Second, func() error {
		logs := strings.Join(n.logs.Lines(), "\n")
		for _, want := range []string{"[WARN] agent.ipc: Dropping event to ipc.client: 127.0.0.1:", "[WARN] agent.ipc: Dropping logs to ipc.client: 127.0.0.1:"} {
			if !strings.Contains(logs, want) {
				return fmt.Errorf("log lacks %q", want)
			}
		}
		return nil
	})
	// Shutdown must not hang on the blocked writer.
	done := make(chan struct{})
	go func() { ipc.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hangs on a client that does not read")
	}
}

// TestIPCStreamDropsWithoutBlocking drives an event stream and a monitor
// whose client never reads (a net.Pipe blocks the first write): enqueuing
// must never block, and drops are logged.
func TestIPCStreamDropsWithoutBlocking(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var out testutil.SyncBuffer
	i := &AgentIPC{agent: &Agent{}, logger: log.New(&out, "", 0)}
	c := newRPCConn(server, newIPCHandle(), 0)

	s := newIPCEventStream(i, c, 2, ParseEventFilter("*"))
	m := newIPCLogStream(i, c, 3, NewLevelFilter("INFO", nil))
	c.wg.Add(3)
	go s.run()
	go m.run()
	go m.warnDrops()

	start := time.Now()
	for j := 0; j < 3*ipcStreamBuffer; j++ {
		s.HandleEvent(serf.UserEvent{Name: "e"})
		m.HandleLog("[INFO] test: line")
		m.HandleLog("[DEBUG] test: filtered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("enqueuing took %v", d)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		if !strings.Contains(out.String(), "[WARN] agent.ipc: Dropping event to ipc.client: pipe") ||
			!strings.Contains(out.String(), "[WARN] agent.ipc: Dropping logs to ipc.client: pipe") {
			return fmt.Errorf("log is %q", out.String())
		}
		return nil
	})
	if got, limit := strings.Count(out.String(), "Dropping logs"), 1+int(time.Since(start)/ipcDropWarnInterval); got > limit {
		t.Errorf("%d log drop warnings, want at most one per %v", got, ipcDropWarnInterval)
	}
	c.close()
	c.wg.Wait()
}

func TestIPCObjectReader(t *testing.T) {
	obj := func(v interface{}) []byte { return rawMap(t, map[string]interface{}{"v": v}) }
	nested := bytes.Repeat([]byte{0x91}, 10000)
	nested = append(nested, 0x01)

	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want []string // hex of each object
		err  error    // after the objects
	}{
		{name: "empty", in: nil, want: nil, err: io.EOF},
		{name: "sequence", in: append(append(obj("a"), obj([]byte{1, 2})...), obj(map[string]interface{}{"x": []interface{}{1.5, nil, true, -3, uint64(1 << 40)}})...),
			want: []string{fmt.Sprintf("%x", obj("a")), fmt.Sprintf("%x", obj([]byte{1, 2})),
				fmt.Sprintf("%x", obj(map[string]interface{}{"x": []interface{}{1.5, nil, true, -3, uint64(1 << 40)}}))},
			err: io.EOF},
		{name: "deep nesting", in: nested, want: []string{fmt.Sprintf("%x", nested)}, err: io.EOF},
		{name: "truncated", in: obj("abc")[:4], err: io.ErrUnexpectedEOF},
		{name: "invalid byte", in: []byte{0xc1}, err: errors.New("invalid msgpack format byte 0xc1")},
		{name: "huge string, little data", in: []byte{0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'}, err: errIPCObjectTooLarge},
		{name: "string over the limit", in: append([]byte{0xda, 0x01, 0x00}, make([]byte, 256)...), max: 100, err: errIPCObjectTooLarge},
		{name: "string under the limit, truncated", in: []byte{0xda, 0x00, 0x50, 'x'}, max: 100, err: io.ErrUnexpectedEOF},
		{name: "huge map", in: []byte{0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01}, err: errIPCObjectTooLarge},
		{name: "many small values", in: append([]byte{0xdc, 0x00, 0xff}, make([]byte, 255)...), max: 100, err: errIPCObjectTooLarge},
		{name: "huge ext", in: []byte{0xc9, 0x78, 0x41, 0x68, 0xff, 0xff, 0x05}, err: errIPCObjectTooLarge},
		{name: "ext", in: []byte{0xc7, 0x02, 0x05, 0xaa, 0xbb, 0xd4, 0x01, 0x02}, want: []string{"c70205aabb", "d40102"}, err: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = maxIPCObjectSize
			}
			r := newIPCObjectReader(bytes.NewReader(tc.in), max)
			for _, want := range tc.want {
				got, err := r.next()
				if err != nil {
					t.Fatalf("next: %v", err)
				}
				if fmt.Sprintf("%x", got) != want {
					t.Fatalf("object %x, want %s", got, want)
				}
			}
			_, err := r.next()
			if err == nil || (!errors.Is(err, tc.err) && err.Error() != tc.err.Error()) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Fuzzing

func FuzzIPCRequest(f *testing.F) {
	enc := func(vs ...interface{}) []byte {
		var buf bytes.Buffer
		e := codec.NewEncoder(&buf, newIPCHandle())
		for _, v := range vs {
			if err := e.Encode(v); err != nil {
				f.Fatal(err)
			}
		}
		return buf.Bytes()
	}
	hdr := func(cmd string, seq uint64) *ipcRequestHeader { return &ipcRequestHeader{Command: cmd, Seq: seq} }
	for _, seed := range [][]byte{
		nil,
		{0xc1},
		{0xdf, 0xff, 0xff, 0xff, 0xff},
		enc(hdr(statsCommand, 2), hdr(membersCommand, 3)),
		enc(hdr(membersFilteredCommand, 2), &ipcMembersFilteredRequest{Name: "(", Tags: map[string]string{"a": "b"}}),
		enc(hdr(streamCommand, 2), &ipcStreamRequest{Type: "*"}, hdr(stopCommand, 3), &ipcStopRequest{Stop: 2}),
		enc(hdr(monitorCommand, 2), &ipcMonitorRequest{LogLevel: "debug"}),
		enc(hdr(queryCommand, 2), &ipcQueryRequest{Name: "q", Timeout: time.Millisecond}),
		enc(hdr(respondCommand, 2), &ipcRespondRequest{ID: 1}),
		enc(hdr(eventCommand, 2), &ipcEventRequest{Name: "e", Payload: []byte("p")}),
		enc(hdr(tagsCommand, 2), &ipcTagsRequest{Tags: map[string]string{"t": "v"}}),
		enc(hdr(getCoordinateCommand, 2), &ipcCoordinateRequest{Node: "x"}),
		enc(hdr(installKeyCommand, 2), &ipcKeyRequest{Key: "x"}),
		enc(hdr(handshakeCommand, 2), &ipcHandshakeRequest{Version: 1}, hdr(authCommand, 3), &ipcAuthRequest{AuthKey: "k"}),
		enc(hdr("bogus", 2)),
		// A time extension claiming 2 GB: the codec would allocate it all.
		{0x82, 0xa3, '0', '0', '(', 0xc9, 0x78, 0x41, 0x68, 0xff, 0xff, 0x05},
	} {
		f.Add(seed)
	}

	n := startTestNode(f, testAgentOptions{name: "node-fuzz"})
	handshake := enc(hdr(handshakeCommand, 1), &ipcHandshakeRequest{Version: 1})

	f.Fuzz(func(t *testing.T, data []byte) {
		// These would make the shared agent leave or dial out.
		if bytes.Contains(data, []byte("leave")) || bytes.Contains(data, []byte("join")) {
			t.Skip()
		}
		conn, err := net.DialTimeout("tcp", n.rpcAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		deadline := time.Now().Add(15 * time.Second)
		_ = conn.SetDeadline(deadline)

		if _, err := conn.Write(handshake); err != nil {
			t.Fatalf("write handshake: %v", err)
		}
		reply, err := readMP(conn)
		if err != nil || fmt.Sprintf("%x", reply.raw) != "82a54572726f72a0a353657101" {
			t.Fatalf("handshake reply %v, %v", reply, err)
		}

		drained := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, conn)
			drained <- err
		}()
		if _, err := conn.Write(data); err != nil && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
			t.Fatalf("write: %v", err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		// The agent must close its side once it has read everything.
		if err := <-drained; err != nil && !isConnReset(err) {
			t.Fatalf("agent did not close the connection: %v", err)
		}
	})
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// ---------------------------------------------------------------------------
// Log writer

func TestLogWriterRing(t *testing.T) {
	w := NewLogWriter(3)
	if got := w.Lines(); len(got) != 0 {
		t.Fatalf("new writer has %q", got)
	}
	for _, l := range []string{"one\n", "two\n", "three", "", "multi\nline\n", "five\n"} {
		n, err := w.Write([]byte(l))
		if err != nil || n != len(l) {
			t.Fatalf("Write(%q) = %d, %v", l, n, err)
		}
	}
	if got := strings.Join(w.Lines(), "|"); got != "three|multi\nline|five" {
		t.Fatalf("lines %q", got)
	}

	none := NewLogWriter(0)
	_, _ = none.Write([]byte("x\n"))
	if got := none.Lines(); len(got) != 0 {
		t.Fatalf("zero-size ring kept %q", got)
	}
}

type collectLogs struct {
	mu    sync.Mutex
	lines []string
}

func (c *collectLogs) HandleLog(l string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, l)
}

func (c *collectLogs) joined() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "|")
}

func TestLogWriterHandlers(t *testing.T) {
	w := NewLogWriter(2)
	for _, l := range []string{"a\n", "b\n", "c\n"} {
		_, _ = w.Write([]byte(l))
	}
	h := &collectLogs{}
	w.RegisterHandler(h)
	if got := h.joined(); got != "b|c" {
		t.Fatalf("replay %q", got)
	}
	_, _ = w.Write([]byte("d\n"))
	h2 := &collectLogs{}
	w.RegisterHandler(h2)
	w.DeregisterHandler(h)
	w.DeregisterHandler(&collectLogs{}) // unknown: ignored
	_, _ = w.Write([]byte("e\n"))
	if got := h.joined(); got != "b|c|d" {
		t.Fatalf("first handler %q", got)
	}
	if got := h2.joined(); got != "c|d|e" {
		t.Fatalf("second handler %q", got)
	}

	// Concurrent writers and (de)registrations are safe.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				_, _ = w.Write([]byte("line\n"))
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				h := &collectLogs{}
				w.RegisterHandler(h)
				w.DeregisterHandler(h)
			}
		}()
	}
	wg.Wait()
}

func TestLogWriterGatedWriter(t *testing.T) {
	var out testutil.SyncBuffer
	g := NewGatedWriter(&out)
	_, _ = g.Write([]byte("one\n"))
	buf := []byte("two\n")
	_, _ = g.Write(buf)
	buf[0] = 'X' // the gate keeps its own copy
	if out.String() != "" {
		t.Fatalf("gate leaked %q", out.String())
	}
	g.Flush()
	_, _ = g.Write([]byte("three\n"))
	g.Flush()
	if got := out.String(); got != "one\ntwo\nthree\n" {
		t.Fatalf("output %q", got)
	}
}

func TestLogWriterLevelFilter(t *testing.T) {
	var out testutil.SyncBuffer
	f := NewLevelFilter("WARN", &out)
	for _, l := range []string{
		"2026/01/01 00:00:00 [TRACE] x: no\n",
		"2026/01/01 00:00:00 [DEBUG] x: no\n",
		"2026/01/01 00:00:00 [INFO] x: no\n",
		"2026/01/01 00:00:00 [WARN] x: yes-1\n",
		"2026/01/01 00:00:00 [ERR] x: yes-2\n",
		"2026/01/01 00:00:00 [CRIT] x: yes-3\n",
		"plain yes-4\n",
		"[info] lower-case is unknown: yes-5\n",
		"[WARN] [DEBUG] only the first bracket counts: yes-6\n",
	} {
		_, _ = f.Write([]byte(l))
	}
	if got := strings.Count(out.String(), "yes-"); got != 6 || strings.Contains(out.String(), "no\n") {
		t.Fatalf("filtered output %q", out.String())
	}
	for _, l := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERR"} {
		if !ValidateLevelFilter(logutils.LogLevel(l), f) {
			t.Errorf("%s rejected", l)
		}
	}
	for _, l := range []string{"", "info", "CRIT", "WARNING"} {
		if ValidateLevelFilter(logutils.LogLevel(l), f) {
			t.Errorf("%q accepted", l)
		}
	}
}
