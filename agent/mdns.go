package agent

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/hashicorp/mdns"
)

// mDNS timing, as Serf 0.10 uses it.
const (
	mdnsPollInterval  = 60 * time.Second
	mdnsQuietInterval = 100 * time.Millisecond
	mdnsQueryTimeout  = time.Second
)

// mdnsServiceName is the service a cluster named discover announces, the
// same as Serf's so that both kinds of agents find each other.
func mdnsServiceName(discover string) string {
	return fmt.Sprintf("_serf_%s._tcp", discover)
}

// AgentMDNS announces this agent over mDNS and joins the agents it finds.
type AgentMDNS struct {
	agent    *Agent
	discover string
	logger   *log.Logger
	seen     map[string]struct{}
	server   *mdns.Server
	replay   bool
	iface    *net.Interface
	ipv4     bool
	ipv6     bool
	stop     chan struct{}
	done     chan struct{}
}

// NewAgentMDNS starts the responder and the poller.
func NewAgentMDNS(agent *Agent, logOutput io.Writer, replay bool, node, discover string,
	iface *net.Interface, bind net.IP, port int, disableIPv4, disableIPv6 bool) (*AgentMDNS, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	service, err := mdns.NewMDNSService(node, mdnsServiceName(discover), "local.", host+".", port,
		[]net.IP{bind}, []string{fmt.Sprintf("Serf '%s' cluster", discover)})
	if err != nil {
		return nil, err
	}
	server, err := mdns.NewServer(&mdns.Config{Zone: service, Iface: iface})
	if err != nil {
		return nil, err
	}
	m := &AgentMDNS{
		agent:    agent,
		discover: discover,
		logger:   log.New(logOutput, "", log.LstdFlags),
		seen:     make(map[string]struct{}),
		server:   server,
		replay:   replay,
		iface:    iface,
		ipv4:     !disableIPv4,
		ipv6:     !disableIPv6,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go m.run()
	return m, nil
}

// Shutdown stops polling and the responder.
func (m *AgentMDNS) Shutdown() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	_ = m.server.Shutdown()
}

// run polls for peers and joins the new ones in batches.
func (m *AgentMDNS) run() {
	defer close(m.done)
	hosts := make(chan string, 32)
	poll := time.NewTimer(0)
	defer poll.Stop()
	var join <-chan time.Time
	var pending []string
	var polling chan struct{}

	for {
		select {
		case s := <-hosts:
			if _, ok := m.seen[s]; ok {
				continue
			}
			m.seen[s] = struct{}{}
			pending = append(pending, s)
			join = time.After(mdnsQuietInterval)

		case <-join:
			join = nil
			n, err := m.agent.Join(pending, m.replay)
			if err != nil {
				m.logger.Printf("[ERR] agent.mdns: Failed to join: %v", err)
			}
			if n > 0 {
				m.logger.Printf("[INFO] agent.mdns: Joined %d hosts", n)
			}
			pending = nil

		case <-poll.C:
			poll.Reset(mdnsPollInterval)
			if polling != nil {
				continue
			}
			polling = make(chan struct{})
			go func(done chan struct{}) {
				defer close(done)
				m.query(hosts)
			}(polling)

		case <-polling:
			polling = nil

		case <-m.stop:
			if polling != nil {
				<-polling
			}
			return
		}
	}
}

// query sends one mDNS query and, once it is over, forwards the address of
// every answer. The library keeps updating an entry it has handed out for
// as long as answers for that name keep coming (every responder answers
// every query, this agent included), so reading an entry's fields before
// Query returns would race with those writes.
func (m *AgentMDNS) query(hosts chan<- string) {
	entries := make(chan *mdns.ServiceEntry, 32)
	var found []*mdns.ServiceEntry
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range entries {
			found = append(found, e)
		}
	}()
	params := mdns.DefaultParams(mdnsServiceName(m.discover))
	params.Domain = "local"
	params.Timeout = mdnsQueryTimeout
	params.Interface = m.iface
	params.Entries = entries
	params.DisableIPv4 = !m.ipv4
	params.DisableIPv6 = !m.ipv6
	params.Logger = log.New(io.Discard, "", 0)
	if err := mdns.Query(params); err != nil {
		m.logger.Printf("[ERR] agent.mdns: Failed to poll for new hosts: %v", err)
	}
	close(entries)
	<-done
	for _, e := range found {
		select {
		case hosts <- entryAddr(e):
		case <-m.stop:
			return
		}
	}
}

// entryAddr is the gossip address an answer advertises, IPv4 first.
func entryAddr(e *mdns.ServiceEntry) string {
	addr := net.TCPAddr{IP: e.AddrV4, Port: e.Port}
	if addr.IP == nil {
		addr.IP = e.AddrV6
	}
	return addr.String()
}
