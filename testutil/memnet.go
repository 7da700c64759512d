package testutil

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// MemNetwork is an in-memory network for memberlist, so that cluster tests
// of logic run without sockets: deterministic, fast, and unaffected by a
// loaded machine dropping UDP. Each MemTransport on it has a unique
// "127.0.0.1:port" address (no socket is opened).
//
// It differs from memberlist's MockNetwork where tests need it to: it is
// safe for concurrent use (nodes can be added while others gossip), a
// packet to a node that is gone or too busy is dropped as UDP would drop
// it rather than blocking the sender for ever, a dial to a node that is
// gone fails, and a node can come back on its old address.
type MemNetwork struct {
	mu       sync.Mutex
	lastPort int
	byAddr   map[string]*MemTransport
}

// memPacketQueue is how many packets a transport holds before it drops.
const memPacketQueue = 4096

// NewTransport returns a transport on a fresh address.
func (n *MemNetwork) NewTransport() *MemTransport {
	n.mu.Lock()
	n.lastPort++
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+n.lastPort))
	n.mu.Unlock()
	t, err := n.NewTransportAt(addr)
	if err != nil {
		panic(err) // a fresh address cannot be taken
	}
	return t
}

// NewTransportAt returns a transport on addr ("ip:port"), which must not
// be held by a transport that is still running.
func (n *MemNetwork) NewTransportAt(addr string) (*MemTransport, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("memnet: address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	port, err := strconv.Atoi(portStr)
	if ip == nil || err != nil {
		return nil, fmt.Errorf("memnet: address %q is not ip:port", addr)
	}
	t := &MemTransport{
		net:        n,
		addr:       &net.UDPAddr{IP: ip, Port: port},
		packetCh:   make(chan *memberlist.Packet, memPacketQueue),
		streamCh:   make(chan net.Conn),
		shutdownCh: make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byAddr == nil {
		n.byAddr = make(map[string]*MemTransport)
	}
	if _, busy := n.byAddr[t.addr.String()]; busy {
		return nil, fmt.Errorf("memnet: address %s is in use", addr)
	}
	n.byAddr[t.addr.String()] = t
	return t, nil
}

// peer returns the running transport at addr, if any.
func (n *MemNetwork) peer(addr string) *MemTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byAddr[addr]
}

// remove frees the address of t.
func (n *MemNetwork) remove(t *MemTransport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byAddr[t.addr.String()] == t {
		delete(n.byAddr, t.addr.String())
	}
}

// MemTransport is one node's memberlist.Transport on a MemNetwork. Set it
// as memberlist.Config.Transport.
type MemTransport struct {
	net        *MemNetwork
	addr       *net.UDPAddr
	packetCh   chan *memberlist.Packet
	streamCh   chan net.Conn
	shutdownCh chan struct{}
	once       sync.Once
}

var _ memberlist.NodeAwareTransport = (*MemTransport)(nil)

// Addr returns the transport's "ip:port".
func (t *MemTransport) Addr() string { return t.addr.String() }

// FinalAdvertiseAddr implements memberlist.Transport: a node advertises
// the address of its transport, whatever it was configured with.
func (t *MemTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.addr.IP, t.addr.Port, nil
}

// WriteTo implements memberlist.Transport.
func (t *MemTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport. The packet is
// dropped, as UDP would, if no one is at the address or its queue is full.
func (t *MemTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	dest := t.net.peer(a.Addr)
	if dest == nil {
		return now, nil
	}
	p := &memberlist.Packet{Buf: append([]byte(nil), b...), From: t.addr, Timestamp: now}
	select {
	case <-dest.shutdownCh:
	case dest.packetCh <- p:
	default:
	}
	return now, nil
}

// PacketCh implements memberlist.Transport.
func (t *MemTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout implements memberlist.Transport.
func (t *MemTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// errMemRefused is a dial to an address with no running transport.
var errMemRefused = errors.New("memnet: connection refused")

// DialAddressTimeout implements memberlist.NodeAwareTransport with an
// in-memory pipe, which honours the deadlines memberlist sets.
func (t *MemTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	dest := t.net.peer(a.Addr)
	if dest == nil {
		return nil, fmt.Errorf("dial %s: %w", a.Addr, errMemRefused)
	}
	local, remote := net.Pipe()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case dest.streamCh <- remote:
		return local, nil
	case <-dest.shutdownCh:
	case <-t.shutdownCh:
	case <-timer.C:
	}
	_ = local.Close()
	_ = remote.Close()
	return nil, fmt.Errorf("dial %s: %w", a.Addr, errMemRefused)
}

// StreamCh implements memberlist.Transport.
func (t *MemTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown implements memberlist.Transport: the address is freed, and
// packets and dials to it fail from now on.
func (t *MemTransport) Shutdown() error {
	t.once.Do(func() {
		close(t.shutdownCh)
		t.net.remove(t)
	})
	return nil
}
