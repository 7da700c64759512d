// Package transport is the network transport Serf runs memberlist on:
// UDP for gossip and probes, TCP for push-pull and reliable messages, on
// the same port of each bind address.
//
// It behaves as memberlist's own NetTransport (same listeners, same
// metrics, same receive buffer tuning) with one difference that matters
// for an agent that sits idle on every node of a fleet: a received
// datagram is handed to memberlist in a buffer of its own size. The
// stock transport reads every datagram into a fresh 64 KiB buffer and
// hands that over, so each probe, ack and gossip packet costs 64 KiB of
// garbage, which drives the garbage collector, the heap size and the CPU
// an agent spends on a quiet cluster. Here one 64 KiB read buffer per
// listener is reused and only the bytes received are copied out.
//
// Nothing on the wire changes: the transport moves the bytes memberlist
// gives it.
package transport

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

const (
	// maxDatagram is the largest UDP payload there is; a read buffer
	// this size never truncates a datagram.
	maxDatagram = 65536
	// socketRecvBuffer is the kernel receive buffer asked for on each
	// UDP socket, so that a burst of gossip is queued rather than
	// dropped; smaller sizes are tried when the system refuses it.
	socketRecvBuffer = 2 << 20
	// bindAttempts is how many times a dynamic port (0) is tried: the
	// kernel picks a free TCP port, but the same UDP port may be taken.
	bindAttempts = 10
	// acceptBackoffMin and acceptBackoffMax bound the pause after a
	// failed accept, so an error that repeats does not spin.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Config says where the transport listens.
type Config struct {
	// BindAddrs are the IP addresses to listen on; at least one.
	BindAddrs []string
	// BindPort is the port for TCP and UDP on every address; 0 lets the
	// kernel choose one, the same for all (see Port).
	BindPort int
	// Logger receives operator messages; nil logs to standard error.
	Logger *log.Logger
	// MetricLabels are added to every metric the transport emits.
	MetricLabels []metrics.Label
}

// DefaultConfig listens on every IPv4 address at Serf's default port.
func DefaultConfig() Config {
	return Config{BindAddrs: []string{"0.0.0.0"}, BindPort: 7946}
}

// Transport implements memberlist.NodeAwareTransport.
type Transport struct {
	conf     Config
	logger   *log.Logger
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	tcp []*net.TCPListener
	udp []*net.UDPConn

	shutdownOnce sync.Once
	stopping     atomic.Bool
	wg           sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// New opens the listeners and starts serving them. With BindPort 0 it
// retries a few times when the port the kernel gave for TCP is taken
// for UDP.
func New(conf Config) (*Transport, error) {
	if len(conf.BindAddrs) == 0 {
		return nil, errors.New("transport: at least one bind address is required")
	}
	logger := conf.Logger
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	attempts := 1
	if conf.BindPort == 0 {
		attempts = bindAttempts
	}
	var err error
	for i := 0; i < attempts; i++ {
		var t *Transport
		if t, err = listen(conf, logger); err == nil {
			t.start()
			return t, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		logger.Printf("[DEBUG] memberlist: Got bind error: %v", err)
	}
	return nil, fmt.Errorf("failed to obtain an address: %w", err)
}

// listen opens every listener, or none.
func listen(conf Config, logger *log.Logger) (*Transport, error) {
	t := &Transport{
		conf:     conf,
		logger:   logger,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
	}
	port := conf.BindPort
	for _, addr := range conf.BindAddrs {
		ip := net.ParseIP(addr)
		if ip == nil {
			t.closeListeners()
			return nil, fmt.Errorf("transport: bind address %q is not an IP address", addr)
		}
		tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
		if err != nil {
			t.closeListeners()
			return nil, fmt.Errorf("failed to start TCP listener on %q port %d: %w", addr, port, err)
		}
		t.tcp = append(t.tcp, tl)
		if port == 0 {
			port = tl.Addr().(*net.TCPAddr).Port
		}
		ul, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			t.closeListeners()
			return nil, fmt.Errorf("failed to start UDP listener on %q port %d: %w", addr, port, err)
		}
		t.udp = append(t.udp, ul)
		if err := growReadBuffer(ul); err != nil {
			t.closeListeners()
			return nil, fmt.Errorf("failed to resize UDP buffer: %w", err)
		}
	}
	return t, nil
}

// growReadBuffer asks for socketRecvBuffer, halving until the system
// accepts.
func growReadBuffer(c *net.UDPConn) error {
	var err error
	for size := socketRecvBuffer; size > 0; size /= 2 {
		if err = c.SetReadBuffer(size); err == nil {
			return nil
		}
	}
	return err
}

func (t *Transport) start() {
	for i := range t.tcp {
		t.wg.Add(2)
		go t.acceptLoop(t.tcp[i])
		go t.readLoop(t.udp[i])
	}
}

func (t *Transport) closeListeners() {
	for _, l := range t.tcp {
		_ = l.Close()
	}
	for _, c := range t.udp {
		_ = c.Close()
	}
}

// Port is the port every listener is bound to; with BindPort 0 it is the
// one the kernel chose.
func (t *Transport) Port() int {
	return t.tcp[0].Addr().(*net.TCPAddr).Port
}

// FinalAdvertiseAddr implements memberlist.Transport: an explicit address
// is used as given (IPv4 in its 4-byte form) with the given port;
// otherwise the first bind address, or a private address of this host
// when bound to 0.0.0.0, with the bound port.
func (t *Transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, 0, fmt.Errorf("failed to parse advertise address %q", ip)
		}
		if v4 := addr.To4(); v4 != nil {
			addr = v4
		}
		return addr, port, nil
	}
	if t.conf.BindAddrs[0] == "0.0.0.0" {
		private, err := sockaddr.GetPrivateIP()
		if err != nil {
			return nil, 0, fmt.Errorf("failed to get interface addresses: %w", err)
		}
		if private == "" {
			return nil, 0, errors.New("no private IP address found, and explicit IP not provided")
		}
		addr := net.ParseIP(private)
		if addr == nil {
			return nil, 0, fmt.Errorf("failed to parse advertise address: %q", private)
		}
		return addr, t.Port(), nil
	}
	return t.tcp[0].Addr().(*net.TCPAddr).IP, t.Port(), nil
}

// WriteTo implements memberlist.Transport.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport. It sends from
// the first UDP socket, so replies come back to the gossip port, and
// takes the time after the write, as memberlist's RTT measurements
// expect.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to, err := udpAddr(a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp[0].WriteToUDPAddrPort(b, to)
	return time.Now(), err
}

// udpAddr parses "ip:port" without allocating for the common IP-literal
// case, and falls back to the resolver for anything else, as the stock
// transport does.
func udpAddr(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ua.AddrPort(), nil
}

// PacketCh implements memberlist.Transport.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh implements memberlist.Transport.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// DialTimeout implements memberlist.Transport.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", a.Addr)
}

// Shutdown implements memberlist.Transport: it closes every listener and
// waits for the loops serving them. It may be called more than once.
func (t *Transport) Shutdown() error {
	t.shutdownOnce.Do(func() {
		t.stopping.Store(true)
		t.closeListeners()
	})
	t.wg.Wait()
	return nil
}

// acceptLoop hands accepted TCP connections to memberlist.
func (t *Transport) acceptLoop(l *net.TCPListener) {
	defer t.wg.Done()
	var backoff time.Duration
	for {
		conn, err := l.AcceptTCP()
		if err != nil {
			if t.stopping.Load() {
				return
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			t.logger.Printf("[ERR] memberlist: Error accepting TCP connection: %v", err)
			time.Sleep(backoff) // bounded; Shutdown closes l, which ends the loop on the next accept
			continue
		}
		backoff = 0
		t.streamCh <- conn
	}
}

// readLoop hands received datagrams to memberlist, each in a buffer of
// its own length; the 64 KiB read buffer is reused.
func (t *Transport) readLoop(c *net.UDPConn) {
	defer t.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		at := time.Now()
		if err != nil {
			if t.stopping.Load() {
				return
			}
			t.logger.Printf("[ERR] memberlist: Error reading UDP packet: %v", err)
			continue
		}
		if n < 1 {
			t.logger.Printf("[ERR] memberlist: UDP packet too short (%d bytes) from=%s", n, from)
			continue
		}
		metrics.IncrCounterWithLabels([]string{"memberlist", "udp", "received"}, float32(n), t.conf.MetricLabels)
		pkt := make([]byte, n)
		copy(pkt, buf[:n])
		// A socket on the IPv4 wildcard is dual-stack and reports IPv4
		// peers in their IPv6-mapped form; memberlist answers and logs
		// in the plain form.
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		t.packetCh <- &memberlist.Packet{
			Buf:       pkt,
			From:      net.UDPAddrFromAddrPort(from),
			Timestamp: at,
		}
	}
}
