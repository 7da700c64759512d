// Package sim runs many Serf members in one process on a simulated
// network, to measure how the protocol behaves at sizes that real
// processes on one machine cannot reach: how fast a user event spreads,
// how many bytes push-pull moves, and how deep the broadcast queues grow.
//
// Time can be stretched: with Scale k every interval and timeout of the
// members and every latency of the network is k times longer, so the same
// protocol runs k times slower in wall-clock time and costs the machine
// k times less CPU per second. Durations are reported divided by k, in
// simulated time.
package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// NetConfig is the behaviour of a simulated network.
type NetConfig struct {
	// Latency is the one-way delay of a packet, and of a stream's set-up.
	Latency time.Duration
	// Jitter is the most a packet's delay varies above Latency.
	Jitter time.Duration
	// Loss is the fraction of packets dropped, 0 to 1.
	Loss float64
	// PacketQueue is how many packets a node holds before it drops more.
	PacketQueue int
	// Seed makes the loss and jitter repeatable.
	Seed uint64
}

// DefaultNetConfig is a LAN: half a millisecond each way, no loss.
func DefaultNetConfig() NetConfig {
	return NetConfig{Latency: 500 * time.Microsecond, Jitter: 200 * time.Microsecond, PacketQueue: 4096, Seed: 1}
}

// Network connects Transports in memory. Packets are delivered in order
// of their due time by one scheduler goroutine, so thousands of nodes do
// not mean thousands of timers.
type Network struct {
	conf NetConfig

	mu     sync.RWMutex
	byAddr map[string]*Transport
	next   int

	rngMu sync.Mutex
	rng   *rand.Rand

	schedMu sync.Mutex
	queue   packetHeap
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}

	// Counters, for the figures.
	packets      atomic.Int64
	packetBytes  atomic.Int64
	dropped      atomic.Int64
	streams      atomic.Int64
	streamBytes  atomic.Int64
	queueFullest atomic.Int64
}

// NewNetwork starts a network; Close stops it.
func NewNetwork(conf NetConfig) *Network {
	if conf.PacketQueue <= 0 {
		conf.PacketQueue = DefaultNetConfig().PacketQueue
	}
	n := &Network{
		conf:   conf,
		byAddr: make(map[string]*Transport),
		rng:    rand.New(rand.NewPCG(conf.Seed, conf.Seed^0x5eed)),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go n.deliverLoop()
	return n
}

// Close stops delivering packets. Transports should be shut down first.
func (n *Network) Close() {
	close(n.stop)
	<-n.done
}

// Counters are the network's totals so far.
type Counters struct {
	Packets, PacketBytes, Dropped, Streams, StreamBytes int64
}

// Counters returns the totals so far.
func (n *Network) Counters() Counters {
	return Counters{
		Packets:     n.packets.Load(),
		PacketBytes: n.packetBytes.Load(),
		Dropped:     n.dropped.Load(),
		Streams:     n.streams.Load(),
		StreamBytes: n.streamBytes.Load(),
	}
}

// NewTransport returns a transport on a fresh loopback-range address (no
// socket is opened; the address is only a name on this network).
func (n *Network) NewTransport() *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := n.next
	n.next++
	ip := net.IPv4(127, byte(1+i>>16), byte(i>>8), byte(i)).To4()
	t := &Transport{
		net:        n,
		addr:       &net.UDPAddr{IP: ip, Port: 7946},
		packetCh:   make(chan *memberlist.Packet, n.conf.PacketQueue),
		streamCh:   make(chan net.Conn, 16),
		shutdownCh: make(chan struct{}),
	}
	n.byAddr[t.addr.String()] = t
	return t
}

func (n *Network) peer(addr string) *Transport {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.byAddr[addr]
}

// delay draws one packet's delay, or reports it lost.
func (n *Network) delay() (time.Duration, bool) {
	n.rngMu.Lock()
	defer n.rngMu.Unlock()
	if n.conf.Loss > 0 && n.rng.Float64() < n.conf.Loss {
		return 0, false
	}
	d := n.conf.Latency
	if n.conf.Jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(n.conf.Jitter)))
	}
	return d, true
}

// pending is a packet on its way.
type pending struct {
	due  time.Time
	dest *Transport
	p    *memberlist.Packet
}

type packetHeap []pending

func (h packetHeap) Len() int           { return len(h) }
func (h packetHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h packetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)        { *h = append(*h, x.(pending)) }
func (h *packetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = pending{}
	*h = old[:len(old)-1]
	return x
}

// send queues a packet for delivery after its delay.
func (n *Network) send(dest *Transport, p *memberlist.Packet) {
	d, ok := n.delay()
	if !ok {
		n.dropped.Add(1)
		return
	}
	n.schedMu.Lock()
	heap.Push(&n.queue, pending{due: p.Timestamp.Add(d), dest: dest, p: p})
	first := n.queue[0].dest == dest && n.queue[0].p == p
	if l := int64(len(n.queue)); l > n.queueFullest.Load() {
		n.queueFullest.Store(l)
	}
	n.schedMu.Unlock()
	if first {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

// deliverLoop hands each packet to its destination when it is due.
func (n *Network) deliverLoop() {
	defer close(n.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.schedMu.Lock()
		now := time.Now()
		var ready []pending
		for len(n.queue) > 0 && !n.queue[0].due.After(now) {
			ready = append(ready, heap.Pop(&n.queue).(pending))
		}
		wait := time.Hour
		if len(n.queue) > 0 {
			wait = n.queue[0].due.Sub(now)
		}
		n.schedMu.Unlock()
		for _, r := range ready {
			r.dest.deliver(r.p)
		}
		timer.Reset(wait)
		select {
		case <-n.stop:
			return
		case <-n.wake: // Reset above drops a stale expiry (Go 1.23 timers)
		case <-timer.C:
		}
	}
}

// Transport is one member's memberlist.Transport on a Network.
type Transport struct {
	net        *Network
	addr       *net.UDPAddr
	packetCh   chan *memberlist.Packet
	streamCh   chan net.Conn
	shutdownCh chan struct{}
	once       sync.Once
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Addr returns the transport's "ip:port".
func (t *Transport) Addr() string { return t.addr.String() }

func (t *Transport) deliver(p *memberlist.Packet) {
	select {
	case <-t.shutdownCh:
	case t.packetCh <- p:
	default:
		t.net.dropped.Add(1)
	}
}

// FinalAdvertiseAddr implements memberlist.Transport.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.addr.IP, t.addr.Port, nil
}

// WriteTo implements memberlist.Transport.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport: the packet
// arrives after the network's delay, unless it is lost or nobody is there.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	t.net.packets.Add(1)
	t.net.packetBytes.Add(int64(len(b)))
	dest := t.net.peer(a.Addr)
	if dest == nil {
		t.net.dropped.Add(1)
		return now, nil
	}
	t.net.send(dest, &memberlist.Packet{Buf: append([]byte(nil), b...), From: t.addr, Timestamp: now})
	return now, nil
}

// PacketCh implements memberlist.Transport.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout implements memberlist.Transport.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

var errRefused = errors.New("sim: connection refused")

// DialAddressTimeout implements memberlist.NodeAwareTransport with an
// in-memory pipe that counts the bytes both ends write. Setting it up
// takes one round trip of the network's latency.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	dest := t.net.peer(a.Addr)
	if dest == nil {
		return nil, fmt.Errorf("dial %s: %w", a.Addr, errRefused)
	}
	rtt := 2 * t.net.conf.Latency
	if rtt >= timeout {
		return nil, fmt.Errorf("dial %s: timeout", a.Addr)
	}
	time.Sleep(rtt) // a simulated round trip, not a wait for a condition
	local, remote := net.Pipe()
	t.net.streams.Add(1)
	lc := &countingConn{Conn: local, n: &t.net.streamBytes}
	rc := &countingConn{Conn: remote, n: &t.net.streamBytes, remote: t.addr}
	timer := time.NewTimer(timeout - rtt)
	defer timer.Stop()
	select {
	case dest.streamCh <- rc:
		return lc, nil
	case <-dest.shutdownCh:
	case <-t.shutdownCh:
	case <-timer.C:
	}
	_ = local.Close()
	_ = remote.Close()
	return nil, fmt.Errorf("dial %s: %w", a.Addr, errRefused)
}

// StreamCh implements memberlist.Transport.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown implements memberlist.Transport.
func (t *Transport) Shutdown() error {
	t.once.Do(func() {
		close(t.shutdownCh)
		t.net.mu.Lock()
		delete(t.net.byAddr, t.addr.String())
		t.net.mu.Unlock()
	})
	return nil
}

// countingConn adds what is written on it to a network counter.
type countingConn struct {
	net.Conn
	n      *atomic.Int64
	remote net.Addr
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// RemoteAddr is the dialler's address on the accepting end, so memberlist
// logs and checks a real-looking peer rather than a pipe.
func (c *countingConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return &net.TCPAddr{IP: c.remote.(*net.UDPAddr).IP, Port: c.remote.(*net.UDPAddr).Port}
	}
	return c.Conn.RemoteAddr()
}

// itoa is strconv.Itoa, short for the figures' formatting.
func itoa(i int) string { return strconv.Itoa(i) }
