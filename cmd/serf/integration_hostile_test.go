package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// These tests throw hostile gossip at a real `serf agent`: malformed and
// oversized memberlist frames, garbage with and without encryption, Serf
// messages of every type with random bodies, and msgpack values declaring
// lengths of gigabytes. After each attack the agent must still answer
// `members` over RPC, still list exactly the cluster it had, and its
// resident memory must stay within a fixed margin of where it started.

// hostileRSSMargin is how far the agent's RSS may grow over the whole run.
// A decoder that believed one declared length would allocate gigabytes.
const hostileRSSMargin = 50 << 20

// memberlist's own message type bytes, as they appear first in a UDP
// packet or a TCP stream.
const (
	mlAlive    = 4
	mlPushPull = 6
	mlCompound = 7
	mlUser     = 8
	mlEncrypt  = 10
	mlHasCRC   = 12
)

// hostileTarget is one agent under attack plus the peer it must keep.
type hostileTarget struct {
	t       *testing.T
	agent   *testAgent
	peer    *testAgent
	key     []byte // nil: plaintext cluster
	baseRSS int64
	maxRSS  int64
}

func newHostileTarget(t *testing.T, prefix string, key []byte) *hostileTarget {
	t.Helper()
	// Every datagram costs memberlist a fresh 64 KiB read buffer, and the
	// race detector multiplies heap use, so at the default GOGC the RSS
	// of a -race agent under a flood wanders by tens of MiB with nothing
	// retained. A tighter GC keeps the figure about what is kept, which is
	// what the margin is for.
	t.Setenv("GOGC", "25")
	var extra []string
	if key != nil {
		extra = []string{"-encrypt", base64.StdEncoding.EncodeToString(key)}
	}
	// Warnings only: a debug log line per hostile packet would make the
	// test measure the logger, not the decoder.
	a := startAgent(t, prefix+"-a", append(extra, "-log-level=warn")...)
	b := startAgent(t, prefix+"-b", append(extra, "-log-level=warn", "-join", a.bind)...)
	a.waitMember(prefix+"-b", "alive", 20*time.Second)
	h := &hostileTarget{t: t, agent: a, peer: b, key: key}
	h.baseRSS = h.rss()
	h.maxRSS = h.baseRSS
	t.Logf("%s: baseline RSS %d KiB", a.name, h.baseRSS>>10)
	return h
}

// rss reads VmRSS of the agent process from /proc.
func (h *hostileTarget) rss() int64 {
	h.t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.agent.proc.Cmd.Process.Pid))
	if err != nil {
		h.t.Fatalf("read status of %s: %v", h.agent.name, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				h.t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kib << 10
		}
	}
	h.t.Fatalf("no VmRSS in /proc status of %s", h.agent.name)
	return 0
}

// udp sends each payload as one datagram to the agent's gossip port.
func (h *hostileTarget) udp(payloads ...[]byte) {
	h.t.Helper()
	conn, err := net.Dial("udp", h.agent.bind)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	for i, p := range payloads {
		// Loopback drops what the agent's socket buffer cannot hold; a
		// short pause now and then lets most packets reach the decoder.
		if i%200 == 199 {
			time.Sleep(2 * time.Millisecond)
		}
		_, _ = conn.Write(p)
	}
}

// tcp opens one stream per payload to the gossip port, writes it, and
// reads whatever the agent answers until it closes or a deadline passes.
// At most parallel streams are open at once.
func (h *hostileTarget) tcp(parallel int, payloads ...[]byte) {
	h.t.Helper()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, p := range payloads {
		sem <- struct{}{}
		wg.Add(1)
		go func(p []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", h.agent.bind, 5*time.Second)
			if err != nil {
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = conn.Write(p)
			_ = conn.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, conn)
		}(p)
	}
	wg.Wait()
}

// check waits for the agent to go quiet, then asserts it is up, its
// member list is unchanged and its RSS within the margin.
func (h *hostileTarget) check(what string) {
	h.t.Helper()
	h.quiesce()
	if h.agent.proc.Exited() {
		h.t.Fatalf("after %s: %s exited:\n%s%s", what, h.agent.name, h.agent.proc.Stdout(), h.agent.proc.Stderr())
	}
	// A flood can cost the peer a probe ack, and a suspicion that it then
	// refutes is no harm; a member that should not be there stays.
	want := []string{h.agent.name + " alive", h.peer.name + " alive"}
	err := testutil.Poll(30*time.Second, 200*time.Millisecond, func() error {
		out, code := h.agent.cli("members")
		if code != 0 {
			h.t.Fatalf("after %s: members exited %d: %s", what, code, out)
		}
		var rows []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) >= 3 {
				rows = append(rows, f[0]+" "+f[2])
			}
		}
		if len(rows) != 2 || !contains(rows, want[0]) || !contains(rows, want[1]) {
			return fmt.Errorf("members are %q, want %q", rows, want)
		}
		return nil
	})
	if err != nil {
		h.t.Errorf("after %s: %v", what, err)
	}
	rss := h.rss()
	if rss > h.maxRSS {
		h.maxRSS = rss
	}
	h.t.Logf("after %s: RSS %d KiB (%+d KiB)", what, rss>>10, (rss-h.baseRSS)>>10)
	if rss-h.baseRSS > hostileRSSMargin {
		h.t.Errorf("after %s: RSS grew from %d to %d KiB, over the %d MiB margin", what, h.baseRSS>>10, rss>>10, hostileRSSMargin>>20)
	}
}

// quiesce waits until the agent's log output has not grown for half a
// second (it has worked through what it was sent), for at most 20s.
func (h *hostileTarget) quiesce() {
	last, since := -1, time.Now()
	_ = testutil.Poll(20*time.Second, 50*time.Millisecond, func() error {
		n := len(h.agent.proc.Stdout())
		if n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) < 500*time.Millisecond {
			return fmt.Errorf("still logging")
		}
		return nil
	})
}

// sealPacket encrypts a UDP payload as memberlist does: version 1, a
// random nonce, AES-GCM with no additional data (no label).
func (h *hostileTarget) sealPacket(plain []byte) []byte {
	return seal(h.t, h.key, []byte{1}, plain, nil)
}

// sealStream encrypts a TCP stream body: the encrypt type byte and the
// 4-byte length are the additional data of the AES-GCM seal.
func (h *hostileTarget) sealStream(plain []byte) []byte {
	hdr := make([]byte, 5)
	hdr[0] = mlEncrypt
	binary.BigEndian.PutUint32(hdr[1:], uint32(1+12+len(plain)+16))
	return seal(h.t, h.key, append(hdr, 1), plain, hdr)
}

func seal(t *testing.T, key, prefix, plain, ad []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := randBytes(12)
	out := append(append([]byte{}, prefix...), nonce...)
	return gcm.Seal(out, nonce, plain, ad)
}

// The msgpack helpers write the old-spec forms Serf uses.
func mpMap(n int) []byte { return []byte{0x80 | byte(n)} }
func mpStr(s string) []byte {
	if len(s) < 32 {
		return append([]byte{0xa0 | byte(len(s))}, s...)
	}
	b := []byte{0xda, byte(len(s) >> 8), byte(len(s))}
	return append(b, s...)
}
func mpBytes(b []byte) []byte {
	if b == nil {
		return []byte{0xc0}
	}
	return mpStr(string(b))
}
func mpInt(v int64) []byte {
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
func mpBool(v bool) []byte {
	if v {
		return []byte{0xc3}
	}
	return []byte{0xc2}
}

// Declared-length headers of 4 GiB - 1 with no data behind them.
var (
	mpHugeStr   = []byte{0xdb, 0xff, 0xff, 0xff, 0xff}
	mpHugeArray = []byte{0xdd, 0xff, 0xff, 0xff, 0xff}
	mpHugeMap   = []byte{0xdf, 0xff, 0xff, 0xff, 0xff}
	mpHugeBin   = []byte{0xc6, 0xff, 0xff, 0xff, 0xff}
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// pushPullHeader is memberlist's push-pull stream header.
func pushPullHeader(nodes, userStateLen int64, join bool) []byte {
	return cat([]byte{mlPushPull}, mpMap(3), mpStr("Nodes"), mpInt(nodes),
		mpStr("UserStateLen"), mpInt(userStateLen), mpStr("Join"), mpBool(join))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// hugeSerfBodies are Serf messages whose msgpack declares 4 GiB strings,
// arrays, maps and byte slices where each message type has one.
func hugeSerfBodies() [][]byte {
	return [][]byte{
		cat([]byte{0}, mpMap(2), mpStr("LTime"), mpInt(5), mpStr("Node"), mpHugeStr),
		cat([]byte{1}, mpMap(2), mpStr("LTime"), mpInt(5), mpStr("Node"), mpHugeBin),
		cat([]byte{2}, mpMap(2), mpStr("LTime"), mpInt(5), mpStr("Events"), mpHugeArray),
		cat([]byte{2}, mpMap(1), mpStr("StatusLTimes"), mpHugeMap),
		cat([]byte{2}, mpMap(1), mpStr("LeftMembers"), mpHugeArray),
		cat([]byte{3}, mpMap(3), mpStr("LTime"), mpInt(9), mpStr("Name"), mpStr("x"), mpStr("Payload"), mpHugeStr),
		cat([]byte{3}, mpMap(2), mpStr("LTime"), mpInt(9), mpStr("Name"), mpHugeStr),
		cat([]byte{4}, mpMap(3), mpStr("LTime"), mpInt(9), mpStr("Name"), mpStr("q"), mpStr("Filters"), mpHugeArray),
		cat([]byte{4}, mpMap(2), mpStr("LTime"), mpInt(9), mpStr("Payload"), mpHugeBin),
		cat([]byte{4}, mpMap(1), mpStr("Addr"), mpHugeStr),
		cat([]byte{5}, mpMap(2), mpStr("LTime"), mpInt(9), mpStr("Payload"), mpHugeStr),
		cat([]byte{9}, mpMap(1), mpStr("DestAddr"), mpMap(1), mpStr("IP"), mpHugeBin),
		cat([]byte{9}, mpMap(1), mpStr("DestName"), mpHugeStr),
		mpHugeMap,
	}
}

// randomSerfBodies returns n user-message bodies per Serf type byte
// 0-9 (and a few unknown ones), each with a random body that mostly
// starts like a msgpack map, as a real message would.
func randomSerfBodies(n int) [][]byte {
	var out [][]byte
	for _, typ := range []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x7f, 0xff} {
		for i := 0; i < n; i++ {
			body := randBytes(1 + mrand.IntN(300))
			if i%2 == 0 {
				body[0] = 0x80 | byte(mrand.IntN(16))
			}
			out = append(out, append([]byte{typ}, body...))
		}
	}
	return out
}

// userMsgs wraps Serf bodies as memberlist UDP user messages.
func userMsgs(bodies [][]byte) [][]byte {
	out := make([][]byte, len(bodies))
	for i, b := range bodies {
		out[i] = append([]byte{mlUser}, b...)
	}
	return out
}

// userStream wraps a Serf body as a memberlist TCP user message: the type
// byte, a msgpack header with the length, then the bytes.
func userStream(body []byte, declared int64) []byte {
	return cat([]byte{mlUser}, mpMap(1), mpStr("UserMsgLen"), mpInt(declared), body)
}

// pushPullWithState is a well-formed push-pull stream with no nodes and
// user state state, which reaches Serf's push-pull decoder.
func pushPullWithState(state []byte) []byte {
	return cat(pushPullHeader(0, int64(len(state)), false), state)
}

func TestIntegrationHostileGossip(t *testing.T) {
	h := newHostileTarget(t, "hostile", nil)

	t.Run("push-pull header declaring 2^31 nodes", func(t *testing.T) {
		// 37 bytes: type byte, then {Nodes: 2^31, UserStateLen: 0, Join: false}.
		h.tcp(4, pushPullHeader(1<<31, 0, false), pushPullHeader(1<<31-1, 0, true), pushPullHeader(0, 1<<31, false),
			pushPullHeader(-1, -1, true), pushPullHeader(1<<62, 1<<62, true))
		h.check("huge push-pull headers")
	})

	t.Run("alive messages for impossible members", func(t *testing.T) {
		// Any plaintext packet can claim a member; these claim ones no real
		// node can be: no name, no address, a 3-byte address, oversized
		// tags. (A peer whose tags do not decode is not one of them: it
		// joins with the tags that decode, as in Serf.)
		vsn := string([]byte{1, 5, 2, 2, 5, 4})
		alive := func(name string, addr []byte, meta []byte) []byte {
			return cat([]byte{mlAlive}, mpMap(6), mpStr("Incarnation"), mpInt(1), mpStr("Node"), mpStr(name),
				mpStr("Addr"), mpBytes(addr), mpStr("Port"), mpInt(7946), mpStr("Meta"), mpBytes(meta), mpStr("Vsn"), mpStr(vsn))
		}
		state := func(name string, addr []byte) []byte {
			return cat(mpMap(7), mpStr("Name"), mpStr(name), mpStr("Addr"), mpBytes(addr), mpStr("Port"), mpInt(7946),
				mpStr("Meta"), mpBytes(nil), mpStr("Incarnation"), mpInt(1), mpStr("State"), mpInt(0), mpStr("Vsn"), mpStr(vsn))
		}
		pkts := [][]byte{
			alive("", []byte{127, 0, 0, 9}, nil),
			alive("ghost-noaddr", nil, nil),
			alive("ghost-shortaddr", []byte{127, 0, 9}, nil),
			alive("ghost-bigmeta", []byte{127, 0, 0, 9}, append([]byte{0xff}, bytes.Repeat([]byte{0x80}, 600)...)),
		}
		h.udp(pkts...)
		h.tcp(4, cat(pushPullHeader(1, 0, false), state("", []byte{127, 0, 0, 9})),
			cat(pushPullHeader(1, 0, false), state("ghost-pp", nil)))
		h.check("alive messages for impossible members")
	})

	t.Run("truncated and oversized compound messages", func(t *testing.T) {
		var pkts [][]byte
		// Three parts declared, lengths point past the end.
		pkts = append(pkts, cat([]byte{mlCompound, 3, 0x00, 0x10, 0x00, 0x10, 0x00, 0x10}, randBytes(20)))
		// Header cut inside the length table.
		pkts = append(pkts, []byte{mlCompound, 200, 0x00})
		pkts = append(pkts, []byte{mlCompound})
		// 255 parts of 65535 bytes each, in a packet of 1400.
		big := []byte{mlCompound, 255}
		for i := 0; i < 255; i++ {
			big = append(big, 0xff, 0xff)
		}
		pkts = append(pkts, cat(big, randBytes(1400-len(big))))
		// Compound of compounds, nested as deep as a packet allows.
		nested := []byte{mlUser, 3, 0x80}
		for len(nested) < 1300 {
			l := len(nested)
			nested = cat([]byte{mlCompound, 1, byte(l >> 8), byte(l)}, nested)
		}
		pkts = append(pkts, nested)
		// Compound of valid-length parts of Serf garbage.
		for _, body := range userMsgs(randomSerfBodies(4)) {
			if len(body) < 200 {
				pkts = append(pkts, cat([]byte{mlCompound, 2, 0, byte(len(body)), 0, byte(len(body))}, body, body))
			}
		}
		// The same behind a CRC header with a wrong and a right checksum.
		pkts = append(pkts, cat([]byte{mlHasCRC, 0, 0, 0, 0}, pkts[0]))
		for len(pkts) < 2000 {
			pkts = append(pkts, pkts...)
		}
		// A few oversized datagrams, as large as UDP carries.
		for i := 0; i < 4; i++ {
			pkts = append(pkts, cat([]byte{mlCompound, 255}, randBytes(65000)))
		}
		h.udp(pkts...)
		// And over TCP, where a compound is not a valid stream type.
		h.tcp(8, pkts[:20]...)
		h.check("compound messages")
	})

	t.Run("20000 UDP garbage packets", func(t *testing.T) {
		pkts := make([][]byte, 20000)
		for i := range pkts {
			pkts[i] = randBytes(1 + mrand.IntN(1400))
			// Half of them start with a valid memberlist type so they get
			// past the first byte.
			if i%2 == 0 {
				pkts[i][0] = byte(mrand.IntN(14))
			}
		}
		h.udp(pkts...)
		h.check("20000 UDP garbage packets")
	})

	t.Run("200 TCP garbage streams", func(t *testing.T) {
		streams := make([][]byte, 200)
		for i := range streams {
			streams[i] = randBytes(1 + mrand.IntN(64<<10))
			if i%2 == 0 {
				streams[i][0] = byte(mrand.IntN(14))
			}
		}
		h.tcp(16, streams...)
		h.check("200 TCP garbage streams")
	})

	t.Run("user messages of every Serf type with random bodies", func(t *testing.T) {
		bodies := randomSerfBodies(100)
		h.udp(userMsgs(bodies)...)
		var streams [][]byte
		for i, b := range bodies {
			if i%10 == 0 {
				streams = append(streams, userStream(b, int64(len(b))))
			}
		}
		h.tcp(16, streams...)
		h.check("random Serf messages")
	})

	t.Run("push-pull user state with random and huge bodies", func(t *testing.T) {
		var streams [][]byte
		for i := 0; i < 50; i++ {
			state := append([]byte{2}, randBytes(1+mrand.IntN(2000))...)
			state[1] = 0x80 | byte(mrand.IntN(7))
			streams = append(streams, pushPullWithState(state))
		}
		for _, b := range hugeSerfBodies() {
			streams = append(streams, pushPullWithState(b))
		}
		h.tcp(8, streams...)
		h.check("hostile push-pull user state")
	})

	t.Run("msgpack declaring 4 GiB lengths", func(t *testing.T) {
		bodies := hugeSerfBodies()
		h.udp(userMsgs(bodies)...)
		var streams [][]byte
		for _, b := range bodies {
			streams = append(streams, userStream(b, int64(len(b))))
		}
		// A user-message stream declaring a 4 GiB body, and a push-pull
		// node state declaring 4 GiB strings.
		streams = append(streams, userStream(nil, 1<<32-1), userStream(nil, 1<<62))
		streams = append(streams, cat(pushPullHeader(1, 0, false), mpMap(1), mpStr("Name"), mpHugeStr))
		streams = append(streams, cat(pushPullHeader(1, 0, false), mpMap(1), mpStr("Meta"), mpHugeBin))
		streams = append(streams, cat(pushPullHeader(1, 0, false), mpHugeMap))
		h.tcp(8, streams...)
		h.check("4 GiB msgpack lengths")
	})
}

func TestIntegrationHostileGossipEncrypted(t *testing.T) {
	key := randBytes(32)
	h := newHostileTarget(t, "hostile-enc", key)

	t.Run("plaintext garbage", func(t *testing.T) {
		pkts := make([][]byte, 2000)
		for i := range pkts {
			pkts[i] = randBytes(1 + mrand.IntN(1400))
			if i%4 == 0 {
				// Looks like an encrypted packet of version 0 or 1.
				pkts[i][0] = byte(i / 4 % 2)
			}
		}
		h.udp(pkts...)
		h.udp(userMsgs(hugeSerfBodies())...)
		streams := make([][]byte, 50)
		for i := range streams {
			streams[i] = randBytes(1 + mrand.IntN(16<<10))
		}
		// An encrypted stream declaring a 4 GiB ciphertext, and one that
		// ends inside its length.
		streams = append(streams, []byte{mlEncrypt, 0xff, 0xff, 0xff, 0xff}, []byte{mlEncrypt, 0, 0})
		streams = append(streams, pushPullHeader(1<<31, 0, false), userStream(nil, 1<<32-1))
		h.tcp(8, streams...)
		h.check("plaintext garbage into an encrypted agent")
	})

	t.Run("garbage encrypted with the cluster key", func(t *testing.T) {
		var pkts [][]byte
		for i := 0; i < 2000; i++ {
			plain := randBytes(1 + mrand.IntN(1300))
			if i%2 == 0 {
				plain[0] = byte(mrand.IntN(14))
			}
			pkts = append(pkts, h.sealPacket(plain))
		}
		for _, b := range append(randomSerfBodies(20), hugeSerfBodies()...) {
			pkts = append(pkts, h.sealPacket(append([]byte{mlUser}, b...)))
		}
		h.udp(pkts...)
		var streams [][]byte
		for i := 0; i < 50; i++ {
			plain := randBytes(1 + mrand.IntN(16<<10))
			plain[0] = byte(mrand.IntN(14))
			streams = append(streams, h.sealStream(plain))
		}
		streams = append(streams,
			h.sealStream(pushPullHeader(1<<31, 0, false)),
			h.sealStream(pushPullHeader(0, 1<<31, true)),
			h.sealStream(userStream(nil, 1<<32-1)))
		for _, b := range hugeSerfBodies() {
			streams = append(streams, h.sealStream(pushPullWithState(b)))
		}
		h.tcp(8, streams...)
		h.check("encrypted garbage")
	})

	t.Run("garbage encrypted with another key", func(t *testing.T) {
		other := &hostileTarget{t: t, key: randBytes(16)}
		var pkts [][]byte
		for i := 0; i < 500; i++ {
			pkts = append(pkts, other.sealPacket(randBytes(1+mrand.IntN(1300))))
		}
		h.udp(pkts...)
		h.tcp(8, other.sealStream(pushPullHeader(1<<31, 0, false)), other.sealStream(randBytes(4000)))
		h.check("garbage under a foreign key")
	})
}
