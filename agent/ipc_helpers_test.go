package agent

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

// This file holds the machinery of the RPC server tests: test agents with
// an RPC server, a raw msgpack RPC client that keeps the exact bytes of
// every object it reads, a comparator for msgpack trees, and the loader of
// the recorded transcripts in testdata/vectors/rpc.

// ---------------------------------------------------------------------------
// Test agents

// testAgentOptions describes one test agent.
type testAgentOptions struct {
	name    string
	tags    map[string]string
	authKey string
	// port is the gossip port; 0 picks a free one.
	port int
	// keyring enables encryption with these keys (primary first).
	keyring [][]byte
	// pong answers every query with "pong from <name>", like the
	// handler script of the recorded cluster.
	pong bool
	// eventHandlers is only shown by stats; no script runs.
	eventHandlers []string
	// tagsFile is the agent's tags_file.
	tagsFile string
	// network, if set, carries the gossip in memory instead of on
	// loopback sockets (the RPC server still listens on a socket).
	network *testutil.MemNetwork
}

// testNode is a running agent with an RPC server on 127.0.0.1.
type testNode struct {
	name       string
	agent      *Agent
	ipc        *AgentIPC
	rpcAddr    string
	gossipAddr string
	logs       *LogWriter
}

// pongResponder answers every query it sees, as qresp.sh did in the
// recording ("pong from node-a").
type pongResponder struct{ name string }

func (p pongResponder) HandleEvent(e serf.Event) {
	if q, ok := e.(*serf.Query); ok {
		_ = q.Respond([]byte("pong from " + p.name))
	}
}

// newTestSerfConfig returns a Serf configuration with fast timers on a
// loopback port (0 = any free port).
func newTestSerfConfig(name string, port int, logOutput io.Writer) *serf.Config {
	ml := memberlist.DefaultLocalConfig()
	ml.BindAddr = "127.0.0.1"
	ml.BindPort = port
	ml.AdvertiseAddr = "127.0.0.1"
	ml.AdvertisePort = port
	ml.GossipInterval = 50 * time.Millisecond
	ml.LogOutput = logOutput

	sc := serf.DefaultConfig()
	sc.NodeName = name
	sc.ProtocolVersion = 5
	sc.MemberlistConfig = ml
	sc.LogOutput = logOutput
	sc.LeavePropagateDelay = 100 * time.Millisecond
	sc.BroadcastTimeout = 3 * time.Second
	// 50ms * 40 = a 2s default query timeout, as long as the recorded
	// queries' explicit -timeout=2s.
	sc.QueryTimeoutMult = 40
	return sc
}

// startTestNode starts an agent and its RPC server; both are shut down
// when the test ends. On failure the agent's log is printed.
func startTestNode(t testing.TB, o testAgentOptions) *testNode {
	t.Helper()
	logs := NewLogWriter(512)

	sc := newTestSerfConfig(o.name, o.port, logs)
	if o.network != nil {
		sc.MemberlistConfig.Transport = o.network.NewTransport()
	}
	sc.Tags = o.tags
	if len(o.keyring) > 0 {
		kr, err := memberlist.NewKeyring(o.keyring[1:], o.keyring[0])
		if err != nil {
			t.Fatalf("keyring: %v", err)
		}
		sc.MemberlistConfig.Keyring = kr
	}
	ac := DefaultConfig()
	ac.NodeName = o.name
	ac.RPCAuthKey = o.authKey
	ac.EventHandlers = o.eventHandlers
	scripts, err := ParseEventHandlers(o.eventHandlers)
	if err != nil {
		t.Fatalf("handlers of %s: %v", o.name, err)
	}
	ac.Scripts = scripts
	ac.TagsFile = o.tagsFile

	a, err := Create(ac, sc, logs)
	if err != nil {
		t.Fatalf("create agent %s: %v", o.name, err)
	}
	if err := a.Start(); err != nil {
		t.Fatalf("start agent %s: %v", o.name, err)
	}
	if o.pong {
		a.RegisterEventHandler(pongResponder{name: o.name})
	}
	n := &testNode{name: o.name, agent: a, logs: logs}
	local := a.Serf().LocalMember()
	n.gossipAddr = net.JoinHostPort(local.Addr.String(), strconv.Itoa(int(local.Port)))
	n.ipc, n.rpcAddr = startTestIPC(t, a, o.authKey, logs)
	t.Cleanup(func() {
		n.ipc.Shutdown()
		_ = a.Shutdown()
		if t.Failed() {
			for _, l := range logs.Lines() {
				t.Logf("%s log: %s", o.name, l)
			}
		}
	})
	return n
}

// startTestIPC starts an RPC server for a on a free loopback port.
func startTestIPC(t testing.TB, a *Agent, authKey string, logs *LogWriter) (*AgentIPC, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ipc := NewAgentIPC(a, authKey, l, logs, logs)
	return ipc, l.Addr().String()
}

// joinAll joins every node to the first one and waits until each sees all
// of them alive.
func joinAll(t testing.TB, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes[1:] {
		if _, err := n.agent.Join([]string{nodes[0].gossipAddr}, false); err != nil {
			t.Fatalf("join %s: %v", n.name, err)
		}
	}
	waitAlive(t, len(nodes), nodes...)
}

// waitAlive waits until every node sees exactly want alive members.
func waitAlive(t testing.TB, want int, nodes ...*testNode) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, func() error {
		for _, n := range nodes {
			alive := 0
			for _, m := range n.agent.Serf().Members() {
				if m.Status == serf.StatusAlive {
					alive++
				}
			}
			if alive != want {
				return fmt.Errorf("%s sees %d alive members, want %d", n.name, alive, want)
			}
		}
		return nil
	})
}

// ---------------------------------------------------------------------------
// A msgpack tree that keeps the exact bytes of every value

type mpKind int

const (
	mpNil mpKind = iota
	mpBool
	mpUint // positive fixint and cc..cf
	mpInt  // negative fixint and d0..d3
	mpFloat
	mpStr
	mpBin
	mpArray
	mpMap
	mpExt
)

func (k mpKind) String() string {
	return [...]string{"nil", "bool", "uint", "int", "float", "str", "bin", "array", "map", "ext"}[k]
}

// mpNode is one decoded msgpack value. raw is its complete encoding.
type mpNode struct {
	kind      mpKind
	posFixint bool // 0x00-0x7f: valid for signed and unsigned fields alike
	raw       []byte
	text      string    // str and bin content
	elems     []*mpNode // array elements, or map keys and values interleaved
	start     int
	end       int
}

// maxTestObject bounds what the test client accepts from the agent.
const maxTestObject = 64 << 20

type mpParser struct {
	take func(n int) ([]byte, error)
	buf  []byte
}

func (p *mpParser) read(n int) ([]byte, error) {
	if n < 0 || len(p.buf)+n > maxTestObject {
		return nil, fmt.Errorf("msgpack object too large (%d more bytes)", n)
	}
	b, err := p.take(n)
	if err != nil {
		return nil, err
	}
	p.buf = append(p.buf, b...)
	return b, nil
}

func (p *mpParser) readLen(size int) (int, error) {
	b, err := p.read(size)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	if n > maxTestObject {
		return 0, fmt.Errorf("msgpack length %d too large", n)
	}
	return int(n), nil
}

func (p *mpParser) value(depth int) (*mpNode, error) {
	if depth > 64 {
		return nil, errors.New("msgpack nesting too deep")
	}
	n := &mpNode{start: len(p.buf)}
	b, err := p.read(1)
	if err != nil {
		return nil, err
	}
	c := b[0]
	var payload, count, mapCount int
	switch {
	case c <= 0x7f:
		n.kind, n.posFixint = mpUint, true
	case c >= 0xe0:
		n.kind = mpInt
	case c <= 0x8f:
		n.kind, mapCount = mpMap, int(c&0x0f)
	case c <= 0x9f:
		n.kind, count = mpArray, int(c&0x0f)
	case c <= 0xbf:
		n.kind, payload = mpStr, int(c&0x1f)
	case c == 0xc0:
		n.kind = mpNil
	case c == 0xc2 || c == 0xc3:
		n.kind = mpBool
	case c >= 0xc4 && c <= 0xc6:
		n.kind = mpBin
		payload, err = p.readLen(1 << (c - 0xc4))
	case c >= 0xc7 && c <= 0xc9:
		n.kind = mpExt
		payload, err = p.readLen(1 << (c - 0xc7))
		payload++ // the type byte
	case c == 0xca:
		n.kind, payload = mpFloat, 4
	case c == 0xcb:
		n.kind, payload = mpFloat, 8
	case c >= 0xcc && c <= 0xcf:
		n.kind, payload = mpUint, 1<<(c-0xcc)
	case c >= 0xd0 && c <= 0xd3:
		n.kind, payload = mpInt, 1<<(c-0xd0)
	case c >= 0xd4 && c <= 0xd8:
		n.kind, payload = mpExt, 1+1<<(c-0xd4)
	case c >= 0xd9 && c <= 0xdb:
		n.kind = mpStr
		payload, err = p.readLen(1 << (c - 0xd9))
	case c == 0xdc || c == 0xdd:
		n.kind = mpArray
		count, err = p.readLen(2 << (c - 0xdc))
	case c == 0xde || c == 0xdf:
		n.kind = mpMap
		mapCount, err = p.readLen(2 << (c - 0xde))
	default:
		return nil, fmt.Errorf("invalid msgpack byte 0x%02x", c)
	}
	if err != nil {
		return nil, err
	}
	if payload > 0 {
		data, err := p.read(payload)
		if err != nil {
			return nil, err
		}
		if n.kind == mpStr || n.kind == mpBin {
			n.text = string(data)
		}
	}
	for i := 0; i < count+2*mapCount; i++ {
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, e)
	}
	n.end = len(p.buf)
	return n, nil
}

// fix sets raw on every node once the whole object is in buf.
func (n *mpNode) fix(buf []byte) {
	n.raw = buf[n.start:n.end]
	for _, e := range n.elems {
		e.fix(buf)
	}
}

// readMP reads exactly one msgpack object from r.
func readMP(r io.Reader) (*mpNode, error) {
	p := &mpParser{take: func(n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}}
	n, err := p.value(0)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) && len(p.buf) == 0 {
			err = io.EOF
		}
		return nil, err
	}
	n.fix(p.buf)
	return n, nil
}

// parseMP decodes one object at the start of b and returns the rest.
func parseMP(b []byte) (*mpNode, []byte, error) {
	r := bytes.NewReader(b)
	n, err := readMP(r)
	if err != nil {
		return nil, nil, err
	}
	return n, b[len(b)-r.Len():], nil
}

// get returns the value of a map key, or nil.
func (n *mpNode) get(key string) *mpNode {
	if n == nil || n.kind != mpMap {
		return nil
	}
	for i := 0; i+1 < len(n.elems); i += 2 {
		if k := n.elems[i]; (k.kind == mpStr || k.kind == mpBin) && k.text == key {
			return n.elems[i+1]
		}
	}
	return nil
}

// keys returns a map's keys in wire order.
func (n *mpNode) keys() []string {
	var out []string
	for i := 0; i+1 < len(n.elems); i += 2 {
		out = append(out, n.elems[i].text)
	}
	return out
}

// String renders the node for failure messages (JSON-like, with the
// msgpack type of every scalar).
func (n *mpNode) String() string {
	if n == nil {
		return "<none>"
	}
	var b strings.Builder
	n.render(&b)
	return b.String()
}

func (n *mpNode) render(b *strings.Builder) {
	switch n.kind {
	case mpMap:
		b.WriteString("{")
		for i := 0; i+1 < len(n.elems); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			n.elems[i].render(b)
			b.WriteString(": ")
			n.elems[i+1].render(b)
		}
		b.WriteString("}")
	case mpArray:
		b.WriteString("[")
		for i, e := range n.elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.render(b)
		}
		b.WriteString("]")
	case mpStr:
		b.WriteString(strconv.Quote(n.text))
	case mpBin:
		fmt.Fprintf(b, "bin(%q)", n.text)
	default:
		fmt.Fprintf(b, "%s(%x)", n.kind, n.raw)
	}
}

// ---------------------------------------------------------------------------
// Comparing msgpack trees

// cmpRules relaxes the comparison at some paths. A path is "" for the
// root, "/Key" for a map entry and "/#" for any array element, e.g.
// "/Members/#/Port". Entries are path.Match patterns.
type cmpRules struct {
	// loose: scalars only need the same msgpack type family.
	loose []string
	// extra: map entries this agent adds to Serf's replies (documented
	// extensions); they may be present where the vector has none.
	extra []string
	// anything: any value of a compatible kind; contents are ignored.
	anything []string
	// unordered: arrays compared as multisets.
	unordered []string
	// shape: arrays whose every element only needs the shape of the first
	// expected element (scalars loose); the lengths may differ.
	shape []string
}

func (r *cmpRules) has(list []string, p string) bool {
	if r == nil {
		return false
	}
	for _, g := range list {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// sameFamily reports whether got may stand where want was recorded: same
// kind, and integers of compatible signedness.
func sameFamily(want, got *mpNode) bool {
	if want.kind == got.kind {
		return true
	}
	isInt := func(n *mpNode) bool { return n.kind == mpUint || n.kind == mpInt }
	return isInt(want) && isInt(got) && (want.posFixint || got.posFixint)
}

// mpCompare compares got with want: map keys as sets (wire order is not
// checked here, see checkStructKeyOrder), arrays in order, scalars by
// their exact encoding, except where rules relax it.
func mpCompare(want, got *mpNode, p string, r *cmpRules, shapeOnly bool) error {
	if r == nil {
		r = &cmpRules{}
	}
	if want == nil || got == nil {
		if want == got {
			return nil
		}
		return fmt.Errorf("%s: want %v, got %v", p, want, got)
	}
	if r.has(r.anything, p) {
		if !sameFamily(want, got) {
			return fmt.Errorf("%s: want a %s, got %v", p, want.kind, got)
		}
		return nil
	}
	if !sameFamily(want, got) {
		return fmt.Errorf("%s: want %v, got %v", p, want, got)
	}
	switch want.kind {
	case mpMap:
		wk, gk := want.keys(), got.keys()
		gk = slices.DeleteFunc(gk, func(k string) bool { return r.has(r.extra, p+"/"+k) && want.get(k) == nil })
		sort.Strings(wk)
		sort.Strings(gk)
		if strings.Join(wk, "\x00") != strings.Join(gk, "\x00") {
			return fmt.Errorf("%s: keys %q, want %q", p, gk, wk)
		}
		for _, k := range wk {
			if err := mpCompare(want.get(k), got.get(k), p+"/"+k, r, shapeOnly); err != nil {
				return err
			}
		}
		return nil
	case mpArray:
		ep := p + "/#"
		if shapeOnly || r.has(r.shape, p) {
			if len(want.elems) == 0 {
				return nil
			}
			for _, g := range got.elems {
				if err := mpCompare(want.elems[0], g, ep, r, true); err != nil {
					return err
				}
			}
			return nil
		}
		if len(want.elems) != len(got.elems) {
			return fmt.Errorf("%s: %d elements, want %d: got %v, want %v", p, len(got.elems), len(want.elems), got, want)
		}
		if r.has(r.unordered, p) {
			return mpCompareUnordered(want.elems, got.elems, ep, r)
		}
		for i := range want.elems {
			if err := mpCompare(want.elems[i], got.elems[i], ep, r, false); err != nil {
				return err
			}
		}
		return nil
	}
	if shapeOnly || r.has(r.loose, p) {
		return nil
	}
	if !bytes.Equal(want.raw, got.raw) {
		return fmt.Errorf("%s: got %v (%x), want %v (%x)", p, got, got.raw, want, want.raw)
	}
	return nil
}

// mpCompareUnordered matches every wanted element with a distinct got one.
func mpCompareUnordered(want, got []*mpNode, p string, r *cmpRules) error {
	used := make([]bool, len(got))
WANT:
	for _, w := range want {
		var firstErr error
		for j, g := range got {
			if used[j] {
				continue
			}
			err := mpCompare(w, g, p, r, false)
			if err == nil {
				used[j] = true
				continue WANT
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return fmt.Errorf("%s: no match for %v (first mismatch: %v)", p, w, firstErr)
	}
	return nil
}

// goFieldName matches the keys of struct-derived maps; base64 keys in
// key maps have digits or "=" and do not match.
var goFieldName = regexp.MustCompile(`^[A-Z][A-Za-z]*$`)

// checkStructKeyOrder checks that every map whose keys look like Go field
// names (upper-case first letter) has them in ascending order, as the
// codec writes structs. Maps of data (tags, stats) have lower-case keys in
// these tests.
func checkStructKeyOrder(n *mpNode) error {
	if n == nil {
		return nil
	}
	if n.kind == mpMap {
		keys := n.keys()
		structLike := len(keys) > 0
		for _, k := range keys {
			if !goFieldName.MatchString(k) {
				structLike = false
			}
		}
		if structLike && !sort.StringsAreSorted(keys) {
			return fmt.Errorf("struct keys not sorted: %q", keys)
		}
	}
	for _, e := range n.elems {
		if err := checkStructKeyOrder(e); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Framing: which objects are headers and which are bodies

type replyKind int

const (
	replyHeader     replyKind = iota // header only
	replyHeaderBody                  // header and body, even on error
	replyStream                      // header only, then header+body records
)

func replyKindOf(command string) replyKind {
	switch command {
	case membersCommand, membersFilteredCommand, joinCommand, installKeyCommand, useKeyCommand,
		removeKeyCommand, listKeysCommand, statsCommand, getCoordinateCommand:
		return replyHeaderBody
	case streamCommand, monitorCommand, monitorJSONCommand, queryCommand:
		return replyStream
	}
	return replyHeader
}

// rpcFrame is one reply or stream record.
type rpcFrame struct {
	seq    uint64
	err    string
	header *mpNode
	body   *mpNode
	record bool // a stream/monitor/query record, not a reply
}

func (f *rpcFrame) String() string {
	if f.body == nil {
		return f.header.String()
	}
	return f.header.String() + " + " + f.body.String()
}

// framer splits the agent's byte stream into frames. It must be told the
// command of every Seq the client sent.
type framer struct {
	kinds map[uint64]replyKind
	open  map[uint64]bool // stream seqs whose opening reply was seen
	h     *codec.MsgpackHandle
}

func newFramer() *framer {
	return &framer{kinds: map[uint64]replyKind{}, open: map[uint64]bool{}, h: newIPCHandle()}
}

// expect registers a request. A stream request reusing the seq of an open
// stream keeps it open: its (error) reply is told from records by the
// non-empty Error. To reuse the seq of a stopped stream, delete it from
// open first.
func (f *framer) expect(command string, seq uint64) {
	kind := replyKindOf(command)
	if kind != replyStream || f.kinds[seq] != replyStream {
		delete(f.open, seq)
	}
	f.kinds[seq] = kind
}

func (f *framer) next(read func() (*mpNode, error)) (*rpcFrame, error) {
	h, err := read()
	if err != nil {
		return nil, err
	}
	var hdr ipcResponseHeader
	if h.kind != mpMap || h.get("Seq") == nil || h.get("Error") == nil {
		return nil, fmt.Errorf("expected a response header, got %v", h)
	}
	if err := codec.NewDecoderBytes(h.raw, f.h).Decode(&hdr); err != nil {
		return nil, fmt.Errorf("decode response header %v: %w", h, err)
	}
	fr := &rpcFrame{seq: hdr.Seq, err: hdr.Error, header: h}
	switch hdr.Error {
	case errHandshakeRequiredText, errAuthRequiredText, errUnsupportedCommandText:
		return fr, nil // never a body
	}
	switch f.kinds[hdr.Seq] {
	case replyHeaderBody:
		fr.body, err = read()
	case replyStream:
		if f.open[hdr.Seq] && hdr.Error == "" {
			fr.record = true
			fr.body, err = read()
		} else if hdr.Error == "" {
			f.open[hdr.Seq] = true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read body for seq %d: %w", hdr.Seq, err)
	}
	return fr, nil
}

// decodeNode decodes a node's bytes into v with the RPC handle.
func decodeNode(t testing.TB, n *mpNode, v interface{}) {
	t.Helper()
	if n == nil {
		t.Fatalf("no body to decode into %T", v)
	}
	if err := codec.NewDecoderBytes(n.raw, newIPCHandle()).Decode(v); err != nil {
		t.Fatalf("decode %v into %T: %v", n, v, err)
	}
}

// ---------------------------------------------------------------------------
// Raw RPC test client

// rpcTestConn is a raw RPC connection that records the exact reply bytes.
type rpcTestConn struct {
	t     testing.TB
	conn  net.Conn
	r     *bufio.Reader
	fr    *framer
	enc   *codec.Encoder
	wbuf  bytes.Buffer
	stash []*rpcFrame // frames read while waiting for another one
}

const testReplyTimeout = 20 * time.Second

func dialRPC(t testing.TB, addr string) *rpcTestConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &rpcTestConn{t: t, conn: conn, r: bufio.NewReader(conn), fr: newFramer()}
	c.enc = codec.NewEncoder(&c.wbuf, newIPCHandle())
	return c
}

// send writes a request: header, and body unless it is nil.
func (c *rpcTestConn) send(command string, seq uint64, body interface{}) {
	c.t.Helper()
	c.fr.expect(command, seq)
	c.wbuf.Reset()
	if err := c.enc.Encode(&ipcRequestHeader{Command: command, Seq: seq}); err != nil {
		c.t.Fatalf("encode header: %v", err)
	}
	if body != nil {
		if err := c.enc.Encode(body); err != nil {
			c.t.Fatalf("encode body: %v", err)
		}
	}
	c.writeRaw(c.wbuf.Bytes())
}

func (c *rpcTestConn) writeRaw(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads the next frame from the wire.
func (c *rpcTestConn) next(timeout time.Duration) (*rpcFrame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	return c.fr.next(func() (*mpNode, error) { return readMP(c.r) })
}

// until returns the first frame (stashed or new) that matches, keeping the
// others in the stash.
func (c *rpcTestConn) until(timeout time.Duration, what string, match func(*rpcFrame) bool) *rpcFrame {
	c.t.Helper()
	for i, f := range c.stash {
		if match(f) {
			c.stash = append(c.stash[:i:i], c.stash[i+1:]...)
			return f
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (stashed: %v)", what, err, c.stash)
		}
		if match(f) {
			return f
		}
		c.stash = append(c.stash, f)
	}
}

// reply waits for the reply (not a record) to seq.
func (c *rpcTestConn) reply(seq uint64) *rpcFrame {
	c.t.Helper()
	return c.until(testReplyTimeout, fmt.Sprintf("reply to seq %d", seq), func(f *rpcFrame) bool {
		return f.seq == seq && !f.record
	})
}

// record waits for the next record of seq.
func (c *rpcTestConn) record(seq uint64, timeout time.Duration) *rpcFrame {
	c.t.Helper()
	return c.until(timeout, fmt.Sprintf("record of seq %d", seq), func(f *rpcFrame) bool {
		return f.seq == seq && f.record
	})
}

// call sends a request and returns its reply, failing on an error header
// unless wantErr matches it.
func (c *rpcTestConn) call(command string, seq uint64, body interface{}, wantErr string) *rpcFrame {
	c.t.Helper()
	c.send(command, seq, body)
	f := c.reply(seq)
	if f.err != wantErr {
		c.t.Fatalf("%s (seq %d): error %q, want %q", command, seq, f.err, wantErr)
	}
	return f
}

func (c *rpcTestConn) handshake(seq uint64) {
	c.t.Helper()
	c.call(handshakeCommand, seq, &ipcHandshakeRequest{Version: 1}, "")
}

// expectClosed checks that the agent closes the connection without
// sending anything more.
func (c *rpcTestConn) expectClosed(timeout time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	b, err := c.r.ReadByte()
	if err == nil {
		c.t.Fatalf("connection still open: read 0x%02x", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection not closed within %v", timeout)
	}
}

// expectQuiet checks that nothing arrives for d.
func (c *rpcTestConn) expectQuiet(d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	if b, err := c.r.Peek(1); err == nil {
		c.t.Fatalf("unexpected data from the agent: %x...", b)
	}
}

// ---------------------------------------------------------------------------
// Recorded transcripts

const rpcVectorsRel = "../testdata/vectors/rpc"

// rpcVectorsDir returns the transcript directory (a copy of the captured
// vectors kept in testdata/vectors).
func rpcVectorsDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	dir := filepath.Join(wd, filepath.FromSlash(rpcVectorsRel))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("rpc vectors not available at %s: %v", rpcVectorsRel, err)
	}
	return dir
}

type rpcVector struct {
	Scenario string `json:"scenario"`
	Frames   []struct {
		Dir  string `json:"dir"`
		Hex  string `json:"hex"`
		Role string `json:"role"`
	} `json:"frames"`

	requests []vectorRequest
	agent    []byte // every agent->client byte
}

// vectorRequest is one client request as recorded: header and body bytes.
type vectorRequest struct {
	command string
	seq     uint64
	raw     []byte
}

func loadRPCVector(t testing.TB, dir, file string) *rpcVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("read vector: %v", err)
	}
	var v rpcVector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	for i, f := range v.Frames {
		b, err := hex.DecodeString(f.Hex)
		if err != nil {
			t.Fatalf("%s frame %d: %v", file, i, err)
		}
		switch {
		case f.Dir == "agent->client":
			v.agent = append(v.agent, b...)
		case f.Role == "request-header":
			var h ipcRequestHeader
			if err := codec.NewDecoderBytes(b, newIPCHandle()).Decode(&h); err != nil {
				t.Fatalf("%s frame %d: %v", file, i, err)
			}
			v.requests = append(v.requests, vectorRequest{command: h.Command, seq: h.Seq, raw: b})
		default:
			if len(v.requests) == 0 {
				t.Fatalf("%s frame %d: body before any header", file, i)
			}
			last := &v.requests[len(v.requests)-1]
			last.raw = append(last.raw, b...)
		}
	}
	return &v
}

// request returns the recorded request with seq.
func (v *rpcVector) request(t testing.TB, seq uint64) vectorRequest {
	t.Helper()
	for _, r := range v.requests {
		if r.seq == seq {
			return r
		}
	}
	t.Fatalf("vector has no request with seq %d", seq)
	return vectorRequest{}
}

// agentFrames splits the recorded agent bytes into frames.
func (v *rpcVector) agentFrames(t testing.TB) []*rpcFrame {
	t.Helper()
	fr := newFramer()
	for _, r := range v.requests {
		fr.expect(r.command, r.seq)
	}
	rest := v.agent
	var out []*rpcFrame
	for len(rest) > 0 {
		f, err := fr.next(func() (*mpNode, error) {
			n, r, err := parseMP(rest)
			if err == nil {
				rest = r
			}
			return n, err
		})
		if err != nil {
			t.Fatalf("recorded agent bytes: %v", err)
		}
		out = append(out, f)
	}
	return out
}

// sendRequest replays one recorded request on c.
func (c *rpcTestConn) sendRequest(r vectorRequest) {
	c.t.Helper()
	c.fr.expect(r.command, r.seq)
	c.writeRaw(r.raw)
}

// compareFrame compares a frame with its recording: the header exactly,
// the body by rules, and the key order of struct maps.
func compareFrame(want, got *rpcFrame, rules *cmpRules, exactBytes bool) error {
	if !bytes.Equal(want.header.raw, got.header.raw) {
		return fmt.Errorf("header %v (%x), want %v (%x)", got.header, got.header.raw, want.header, want.header.raw)
	}
	if (want.body == nil) != (got.body == nil) {
		return fmt.Errorf("body %v, want %v", got.body, want.body)
	}
	if want.body == nil {
		return nil
	}
	if err := checkStructKeyOrder(got.body); err != nil {
		return err
	}
	if exactBytes && !bytes.Equal(want.body.raw, got.body.raw) {
		return fmt.Errorf("body bytes %x, want %x (%v vs %v)", got.body.raw, want.body.raw, got.body, want.body)
	}
	if err := mpCompare(want.body, got.body, "", rules, false); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// portFree reports whether a gossip agent could bind port on 127.0.0.1
// (TCP and UDP) right now.
func portFree(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	tl, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	ul.Close()
	return true
}

// handlerCount is how many event handlers the agent has.
func handlerCount(a *Agent) int {
	a.handlersLock.RLock()
	defer a.handlersLock.RUnlock()
	return len(a.handlers)
}

// logHandlerCount is how many handlers the LogWriter has.
func logHandlerCount(w *LogWriter) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.handlers)
}

// startTrio starts node-a, node-b and node-c as in the recordings and
// joins them.
func startTrio(t testing.TB) (a, b, c *testNode) {
	t.Helper()
	a = startTestNode(t, testAgentOptions{name: "node-a", tags: map[string]string{"role": "web", "dc": "east"}})
	b = startTestNode(t, testAgentOptions{name: "node-b", tags: map[string]string{"role": "db", "dc": "east"}})
	c = startTestNode(t, testAgentOptions{name: "node-c", tags: map[string]string{"role": "web", "dc": "west"}})
	joinAll(t, a, b, c)
	return a, b, c
}

// rawMap encodes an arbitrary map with the RPC handle, for requests that
// omit keys or carry odd types.
func rawMap(t testing.TB, m map[string]interface{}) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := codec.NewEncoder(&buf, newIPCHandle()).Encode(m); err != nil {
		t.Fatalf("encode %v: %v", m, err)
	}
	return buf.Bytes()
}
