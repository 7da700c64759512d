package command

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/client/clienttest"
	"github.com/serfclone/serf/testutil"
)

// handshakeOnly is an agent that accepts the connection and nothing more.
func handshakeOnly(t *testing.T) *clienttest.Transcript { return script(t) }

// sent decodes the client frame at index i of a finished replay.
func sent(t *testing.T, a *clienttest.Agent, i int, v interface{}) {
	t.Helper()
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	checks := a.Checks()
	if i >= len(checks) {
		t.Fatalf("client sent %d frames, want more than %d", len(checks), i)
	}
	h := &codec.MsgpackHandle{WriteExt: true}
	if err := codec.NewDecoder(bytes.NewReader(checks[i].Got), h).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func assertOutput(t *testing.T, got result, wantCode int, wantStdout string) {
	t.Helper()
	if got.code != wantCode {
		t.Errorf("exit code %d, want %d (stdout %q)", got.code, wantCode, got.stdout)
	}
	if got.stdout != wantStdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", got.stdout, wantStdout)
	}
}

// Argument errors are found before connecting, so no agent is needed.
func TestArgumentErrors(t *testing.T) {
	addr := "-rpc-addr=" + closedAddr(t)
	tests := []struct {
		args       []string
		wantStdout string
		wantStderr string
	}{
		{[]string{"members", addr, "-tag", "=web"}, "Error: Invalid tag: '=web'\n", ""},
		{[]string{"members", addr, "-tag", "role"}, "Error: Invalid tag: 'role'\n", ""},
		{[]string{"query", addr, "-tag", "nokey", "q"}, "Error: Invalid tag: 'nokey'\n", ""},
		{[]string{"query", addr, "-relay-factor=256", "q"}, "Relay factor must be between 0 and 255\n", ""},
		{[]string{"query", addr, "-relay-factor=-1", "q"}, "Relay factor must be between 0 and 255\n", ""},
		{[]string{"query", addr, "a", "b", "c"},
			"Too many command line arguments. Only a name and payload must be specified.\n\n" + (&QueryCommand{}).Help() + "\n", ""},
		{[]string{"event", addr, "a", "b", "c"},
			"Too many command line arguments. Only a name and payload must be specified.\n\n" + (&EventCommand{}).Help() + "\n", ""},
		{[]string{"force-leave", addr, "a", "b"}, "A node name must be specified to force leave.\n\n" + (&ForceLeaveCommand{}).Help() + "\n", ""},
		{[]string{"keys", addr, "-list", "-install=x"}, "Only one of -install, -use, -remove, or -list allowed\n", ""},
		{[]string{"event", "-coalesce=maybe", "e"}, (&EventCommand{}).Help() + "\n",
			"invalid boolean value \"maybe\" for -coalesce: parse error\n"},
		{[]string{"query", "-timeout=abc", "q"}, (&QueryCommand{}).Help() + "\n",
			"invalid value \"abc\" for flag -timeout: parse error\n"},
		{[]string{"info", "-format"}, (&InfoCommand{}).Help() + "\n", "flag needs an argument: -format\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := runCommand(t, tt.args...)
			assertOutput(t, got, 1, tt.wantStdout)
			if got.stderr != tt.wantStderr {
				t.Errorf("stderr %q, want %q", got.stderr, tt.wantStderr)
			}
		})
	}
}

// Connection errors win over checks made after connecting.
func TestConnectionErrors(t *testing.T) {
	addr := closedAddr(t)
	refused := "Error connecting to Serf agent: dial tcp " + addr + ": connect: connection refused\n"
	for _, args := range [][]string{
		{"rtt"}, {"rtt", "a", "b", "c"}, {"tags", "-set", "bad"}, {"query", "-format=xml", "q"},
		{"members", "-format=xml"}, {"info"}, {"leave"}, {"monitor"}, {"reachability"}, {"join", "x"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assertOutput(t, runCommand(t, flagFirst(args, "-rpc-addr="+addr)...), 1, refused)
		})
	}
	assertOutput(t, runCommand(t, "members", "-rpc-addr="), 1, "Error connecting to Serf agent: dial tcp: missing address\n")
}

// The checks Serf makes only once connected.
func TestChecksAfterConnecting(t *testing.T) {
	tests := []struct {
		args       []string
		wantStdout string
	}{
		{[]string{"tags", "-set", "novalue"}, "Error: Invalid tag: 'novalue'\n"},
		{[]string{"query", "-format=xml", "q"}, "Invalid format: xml\n"},
		{[]string{"rtt"}, "One or two node names must be specified\n\n" + (&RTTCommand{}).Help() + "\n"},
		{[]string{"rtt", "a", "b", "c"}, "One or two node names must be specified\n\n" + (&RTTCommand{}).Help() + "\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a := startAgent(t, handshakeOnly(t), clienttest.Options{Mode: clienttest.ReadOnly})
			assertOutput(t, runCommand(t, flagFirst(tt.args, "-rpc-addr="+a.Addr())...), 1, tt.wantStdout)
		})
	}
}

func TestMembersRoleIsATagFilter(t *testing.T) {
	tr := script(t, fromClient(2), reply(t, 2, "", &client.MembersResponse{Members: []client.Member{
		member("n1", 7946, "alive", map[string]string{"role": "web"}),
	}}))
	a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly})
	got := runCommand(t, "members", "-tag", "role=db", "-tag", "dc=", "-role=web", "-rpc-addr="+a.Addr())
	assertOutput(t, got, 0, "Deprecation warning: 'Role' has been replaced with 'Tags'\nn1  127.0.0.1:7946  alive  role=web\n")
	var req client.MembersFilteredRequest
	sent(t, a, 3, &req)
	if len(req.Tags) != 2 || req.Tags["role"] != "web" || req.Tags["dc"] != "" {
		t.Errorf("tags sent: %v", req.Tags)
	}
}

func TestMembersOutputShapes(t *testing.T) {
	members := []client.Member{
		member("a|b", 1, "alive", nil),
		member("v6", 7946, "failed", map[string]string{"x": "1"}),
	}
	members[1].Addr = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	tests := []struct {
		args []string
		body *client.MembersResponse
		want string
	}{
		// A "|" in a name is a column separator too, as in Serf.
		{[]string{"members"}, &client.MembersResponse{Members: members},
			"a   b                   127.0.0.1:1  alive  \nv6  [2001:db8::1]:7946  failed       x=1\n"},
		{[]string{"members", "-format=json"}, &client.MembersResponse{Members: []client.Member{}}, "{\n  \"members\": null\n}\n"},
		{[]string{"members"}, &client.MembersResponse{}, "\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a := startAgent(t, script(t, fromClient(2), reply(t, 2, "", tt.body)), clienttest.Options{Mode: clienttest.ReadOnly})
			assertOutput(t, runCommand(t, flagFirst(tt.args, "-rpc-addr="+a.Addr())...), 0, tt.want)
		})
	}
}

func TestRPCFlagsFromEnvironment(t *testing.T) {
	t.Run("address and token from the environment", func(t *testing.T) {
		tr := script(t, fromClient(2), reply(t, 2, "", nil), fromClient(2), reply(t, 3, "", nil))
		a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly})
		t.Setenv(envRPCAddr, a.Addr())
		t.Setenv(envRPCAuth, "secret-token")
		assertOutput(t, runCommand(t, "force-leave", "n1"), 0, "")
		var auth client.AuthRequest
		sent(t, a, 3, &auth)
		if auth.AuthKey != "secret-token" {
			t.Errorf("auth key sent: %q", auth.AuthKey)
		}
	})
	t.Run("flags win over the environment", func(t *testing.T) {
		tr := script(t, fromClient(2), reply(t, 2, "", nil))
		a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly})
		t.Setenv(envRPCAddr, closedAddr(t))
		t.Setenv(envRPCAuth, "secret-token")
		// An explicitly empty -rpc-auth sends no auth at all.
		assertOutput(t, runCommand(t, "force-leave", "-rpc-addr="+a.Addr(), "-rpc-auth=", "n1"), 0, "")
		var h client.RequestHeader
		sent(t, a, 2, &h)
		if h.Command != client.ForceLeaveCommand || h.Seq != 2 {
			t.Errorf("second request: %+v, want force-leave with Seq 2", h)
		}
	})
}

// Flags after the first positional argument are not flags.
func TestEventPayloadThatLooksLikeAFlag(t *testing.T) {
	a := startAgent(t, script(t, fromClient(2), reply(t, 2, "", nil)), clienttest.Options{Mode: clienttest.ReadOnly})
	t.Setenv(envRPCAddr, a.Addr())
	got := runCommand(t, "event", "deploy", "-rpc-addr=10.0.0.1:7373")
	assertOutput(t, got, 0, "Event 'deploy' dispatched! Coalescing enabled: true\n")
	var ev client.EventRequest
	sent(t, a, 3, &ev)
	if string(ev.Payload) != "-rpc-addr=10.0.0.1:7373" {
		t.Errorf("payload sent: %q", ev.Payload)
	}
}

func TestRemoteErrors(t *testing.T) {
	tests := []struct {
		args   []string
		frames [][]clienttest.Frame
		want   string
	}{
		{[]string{"event", "e"}, [][]clienttest.Frame{fromClient(2), reply(t, 2, "user event exceeds configured limit of 512 bytes before encoding", nil)},
			"Error sending event: user event exceeds configured limit of 512 bytes before encoding\n"},
		{[]string{"query", "_serf_x"}, [][]clienttest.Frame{fromClient(2), reply(t, 2, "Queries cannot contain the '_serf_' prefix", nil)},
			"Error sending query: Queries cannot contain the '_serf_' prefix\n"},
		{[]string{"tags", "-set", "a=b"}, [][]clienttest.Frame{fromClient(2), reply(t, 2, "Encoded length of tags exceeds limit of 512 bytes", nil)},
			"Error setting tags: Encoded length of tags exceeds limit of 512 bytes\n"},
		{[]string{"leave"}, [][]clienttest.Frame{fromClient(1), reply(t, 2, "Leave already in progress", nil)},
			"Error leaving: Leave already in progress\n"},
		{[]string{"force-leave", "n"}, [][]clienttest.Frame{fromClient(2), reply(t, 2, "timed out broadcasting node removal", nil)},
			"Error force leaving: timed out broadcasting node removal\n"},
		{[]string{"info"}, [][]clienttest.Frame{fromClient(1), reply(t, 2, "Authentication required", nil)},
			"Error querying agent: Authentication required\n"},
		{[]string{"monitor"}, [][]clienttest.Frame{fromClient(2), reply(t, 2, "Invalid event filter", nil)},
			"Error starting stream: Invalid event filter\n"},
		{[]string{"reachability"}, [][]clienttest.Frame{fromClient(1), reply(t, 2, "Authentication required", nil)},
			"Error getting members: Authentication required\n"},
		{[]string{"rtt", "a"}, [][]clienttest.Frame{fromClient(1), reply(t, 2, "Authentication required", nil)},
			"Error querying agent: Authentication required\n"},
		{[]string{"rtt", "a", "b"}, [][]clienttest.Frame{fromClient(2), reply(t, 2, "Authentication required", nil)},
			"Error getting coordinates: Authentication required\n"},
		{[]string{"keys", "-list"}, [][]clienttest.Frame{fromClient(1), reply(t, 2, "1/2 nodes reported failure", &client.KeyResponse{
			Messages: map[string]string{"b": "Keyring is empty (encryption not enabled)", "a": "x"}, NumNodes: 2, NumResp: 2, NumErr: 1,
		})}, "==> Asking all members for installed keys...\n" +
			"failed:  a  x\nfailed:  b  Keyring is empty (encryption not enabled)\n\n" +
			"Failed to gather member keys: 1/2 nodes reported failure\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a := startAgent(t, script(t, tt.frames...), clienttest.Options{Mode: clienttest.ReadOnly})
			assertOutput(t, runCommand(t, flagFirst(tt.args, "-rpc-addr="+a.Addr())...), 1, tt.want)
		})
	}
}

func TestMonitorReportsRemoteEnd(t *testing.T) {
	tr := script(t, fromClient(2), reply(t, 2, "", nil), fromClient(2), reply(t, 3, "", nil),
		reply(t, 3, "", &client.LogRecord{Log: "2026/11/27 00:00:00 [INFO] agent: bye"}))
	a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly, CloseAtEnd: true})
	got := runCommand(t, "monitor", "-log-level=debug", "-rpc-addr="+a.Addr())
	assertOutput(t, got, 1, "2026/11/27 00:00:00 [INFO] agent: bye\n\n"+
		"Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.\n")
	var req client.MonitorRequest
	sent(t, a, 5, &req)
	if req.LogLevel != "debug" {
		t.Errorf("level sent %q; the CLI sends it as typed", req.LogLevel)
	}
}

// An interrupted query exits 1 at once, without totals.
func TestQueryInterrupted(t *testing.T) {
	tr := script(t, fromClient(2), reply(t, 2, "", nil), reply(t, 2, "", &client.QueryRecord{Type: "ack", From: "n1"}))
	inv := newInvocation()
	tr.Frames = append(tr.Frames, fromClient(1)...) // never sent: the agent waits until the client hangs up
	opts := clienttest.Options{Mode: clienttest.ReadOnly, BeforeClientFrame: func(i int) {
		if i == len(tr.Frames)-1 {
			waitForOutput(t, inv, "Ack from 'n1'\n")
			inv.interrupt()
		}
	}}
	a, err := clienttest.NewAgent(tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got := inv.run(t, []string{"query", "-rpc-addr=" + a.Addr(), "q"})
	assertOutput(t, got, 1, "Query 'q' dispatched\nAck from 'n1'\n")
}

// waitForOutput waits until the command printed want. It may run off the
// test goroutine, so it reports with Errorf.
func waitForOutput(t *testing.T, inv *invocation, want string) {
	err := testutil.Poll(testTimeout, 5*time.Millisecond, func() error {
		if !strings.Contains(inv.stdout.String(), want) {
			return fmt.Errorf("output %q lacks %q", inv.stdout.String(), want)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestReachabilityOutcomes(t *testing.T) {
	members := &client.MembersResponse{Members: []client.Member{
		member("a", 1, "alive", nil), member("b", 2, "alive", nil), member("c", 3, "failed", nil),
	}}
	acks := func(names ...string) []clienttest.Frame {
		frames := reply(t, 3, "", nil)
		for _, n := range names {
			frames = append(frames, reply(t, 3, "", &client.QueryRecord{Type: "ack", From: n})...)
		}
		return append(frames, reply(t, 3, "", &client.QueryRecord{Type: "done"})...)
	}
	const start = "Total members: 3, live members: 2\nStarting reachability test...\n"
	tests := []struct {
		name     string
		acks     []string
		wantCode int
		want     string
	}{
		{"all", []string{"b", "a"}, 0, start + "Successfully contacted all live nodes\n"},
		{"missing", []string{"b"}, 1, start + "Received less acks than live nodes! Missing acks from:\n\ta\n" +
			tooFewAcks + "\n" + troubleshooting + "\n"},
		{"extra", []string{"a", "c", "b"}, 1, start + "Received more acks than live nodes! Acks from non-live nodes:\n\tc\n" +
			tooManyAcks + "\n" + troubleshooting + "\n"},
		{"duplicate", []string{"a", "a", "b"}, 1, start + "Duplicate response from 'a'\n" + duplicates + "\n" +
			"Successfully contacted all live nodes\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := script(t, fromClient(1), reply(t, 2, "", members), fromClient(2), acks(tt.acks...))
			a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly})
			assertOutput(t, runCommand(t, "reachability", "-rpc-addr="+a.Addr()), tt.wantCode, tt.want)
			var q client.QueryRequest
			sent(t, a, 4, &q)
			if q.Name != "_serf_ping" || q.Payload != nil || q.FilterTags != nil || !q.RequestAck || q.Timeout != 0 {
				t.Errorf("query sent: %+v", q)
			}
		})
	}
}

func TestEstimateRTT(t *testing.T) {
	fresh := &client.Coordinate{Vec: make([]float64, 8), Error: 1.5, Height: 1e-5}
	rtt, err := estimateRTT(fresh, fresh)
	if err != nil || rtt != 20*time.Microsecond {
		t.Errorf("fresh node to itself: %v, %v; want 20µs (Serf prints 0.020 ms)", rtt, err)
	}
	a := &client.Coordinate{Vec: []float64{0.003, 0.004}, Height: 0.001, Adjustment: -0.01}
	b := &client.Coordinate{Vec: []float64{0, 0}}
	if rtt, _ := estimateRTT(a, b); rtt != 6*time.Millisecond {
		t.Errorf("negative adjustment is ignored when it makes the distance negative: got %v", rtt)
	}
	if _, err := estimateRTT(a, fresh); err == nil {
		t.Error("no error for coordinates of different dimensions")
	}
}

func TestColumnize(t *testing.T) {
	got := columnize([]string{"a|bb|c", "ccc| d |", "é|x"})
	want := "a    bb  c\nccc  d   \né    x"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if columnize(nil) != "" {
		t.Error("no lines should give no text")
	}
}

func TestVersionOutput(t *testing.T) {
	assertOutput(t, runCommand(t, "version", "ignored", "-x"), 0, golden(t, "version.txt"))
}

// flagFirst puts flag right after the command name, where flags are still
// parsed.
func flagFirst(args []string, flag string) []string {
	return append([]string{args[0], flag}, args[1:]...)
}
