package command

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/client/clienttest"
	"github.com/serfclone/serf/testutil"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// result is what one command run printed.
type result struct {
	stdout, stderr string
	code           int
}

// invocation runs one command the way cmd/serf wires it: output and
// errors on one stdout, flag errors on stderr.
type invocation struct {
	stdout, stderr testutil.SyncBuffer
	shutdownCh     chan struct{}
	once           sync.Once
}

func newInvocation() *invocation { return &invocation{shutdownCh: make(chan struct{})} }

// interrupt simulates Ctrl-C.
func (inv *invocation) interrupt() { inv.once.Do(func() { close(inv.shutdownCh) }) }

// run runs `serf <args...>` (args[0] is the command name) and returns
// what it printed. It fails the test if the command does not end within
// testTimeout.
func (inv *invocation) run(t *testing.T, args []string) result {
	t.Helper()
	meta := Meta{
		Ui:         &cli.BasicUi{Writer: &inv.stdout, ErrorWriter: &inv.stdout},
		FlagOutput: &inv.stderr,
		ShutdownCh: inv.shutdownCh,
	}
	factory, ok := CommandsWithMeta(meta, nil)[args[0]]
	if !ok {
		t.Fatalf("no command %q", args[0])
	}
	cmd, err := factory()
	if err != nil {
		t.Fatal(err)
	}
	codeCh := make(chan int, 1)
	go func() { codeCh <- cmd.Run(args[1:]) }()
	select {
	case code := <-codeCh:
		return result{stdout: inv.stdout.String(), stderr: inv.stderr.String(), code: code}
	case <-time.After(testTimeout):
		t.Fatalf("serf %s did not finish; output so far:\n%s", strings.Join(args, " "), inv.stdout.String())
		return result{}
	}
}

// runCommand runs one command with no interrupt.
func runCommand(t *testing.T, args ...string) result {
	t.Helper()
	return newInvocation().run(t, args)
}

func loadTranscript(t *testing.T, name string) *clienttest.Transcript {
	t.Helper()
	tr, err := clienttest.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// startAgent replays tr and checks at the end of the test that the client
// said what the recording says (in CheckBytes mode).
func startAgent(t *testing.T, tr *clienttest.Transcript, opts clienttest.Options) *clienttest.Agent {
	t.Helper()
	a, err := clienttest.NewAgent(tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Wait(); err != nil {
			t.Errorf("replay of %s: %v", tr.Name, err)
		}
		a.Close()
	})
	return a
}

// withAddr replaces the -rpc-addr of a recorded command line (which names
// the recording proxy) by addr.
func withAddr(args []string, addr string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if strings.HasPrefix(a, "-rpc-addr=") {
			a = "-rpc-addr=" + addr
		}
		out = append(out, a)
	}
	return out
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "cli", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goldenEntry is one entry of testdata/vectors/cli/index.json.
// Entries with a FactsFile keep no text, because the text is our own
// prose; ErrorLine is then the one line that must match Serf. Notes says
// when a golden is cut after the usage line of the help that follows.
type goldenEntry struct {
	Args       []string `json:"args"`
	ExitCode   int      `json:"exit_code"`
	StdoutFile string   `json:"stdout_file"`
	StderrFile *string  `json:"stderr_file"`
	FactsFile  string   `json:"facts_file"`
	ErrorLine  string   `json:"error_line"`
	Notes      string   `json:"notes"`
}

func goldenIndex(t *testing.T) []goldenEntry {
	t.Helper()
	var index struct {
		Entries []goldenEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(golden(t, "index.json")), &index); err != nil {
		t.Fatal(err)
	}
	return index.Entries
}

// Frames for transcripts built in tests, for behaviour no recording shows.

func encodeRPC(t *testing.T, v interface{}) []byte {
	t.Helper()
	h := &codec.MsgpackHandle{WriteExt: true}
	var buf bytes.Buffer
	if err := codec.NewEncoder(&buf, h).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fromClient stands for n msgpack objects the client sends; the fake
// agent reads them without comparing (use clienttest.ReadOnly).
func fromClient(n int) []clienttest.Frame {
	frames := make([]clienttest.Frame, n)
	for i := range frames {
		frames[i] = clienttest.Frame{Dir: clienttest.ClientToAgent, Role: "any"}
	}
	return frames
}

// reply is a response header for seq, followed by body unless it is nil.
func reply(t *testing.T, seq uint64, errText string, body interface{}) []clienttest.Frame {
	t.Helper()
	frames := []clienttest.Frame{{
		Dir: clienttest.AgentToClient, Role: "response-header",
		Bytes: encodeRPC(t, &client.ResponseHeader{Seq: seq, Error: errText}),
	}}
	if body != nil {
		frames = append(frames, clienttest.Frame{Dir: clienttest.AgentToClient, Role: "body", Bytes: encodeRPC(t, body)})
	}
	return frames
}

// script builds a transcript from groups of frames; it starts with the
// handshake every command performs.
func script(t *testing.T, groups ...[]clienttest.Frame) *clienttest.Transcript {
	t.Helper()
	tr := &clienttest.Transcript{Name: t.Name()}
	tr.Frames = append(tr.Frames, fromClient(2)...)
	tr.Frames = append(tr.Frames, reply(t, 1, "", nil)...)
	for _, g := range groups {
		tr.Frames = append(tr.Frames, g...)
	}
	return tr
}

// member is a member as the agents of the recordings report it.
func member(name string, port uint16, status string, tags map[string]string) client.Member {
	if tags == nil {
		tags = map[string]string{}
	}
	return client.Member{
		Name: name, Addr: net.IPv4(127, 0, 0, 1).To4(), Port: port, Tags: tags, Status: status,
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 5,
	}
}
