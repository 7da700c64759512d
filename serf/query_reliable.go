package serf

import (
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"
)

// sendQueryBytes sends an encoded query response, or a relay message that
// carries one, to a. What fits one UDP packet goes as a packet, as Serf
// 0.10 sends it; a larger message (a QueryResponseSizeLimit above the
// packet size allows it) goes over memberlist's reliable stream as a user
// message, which a receiver hands to Serf exactly like a packet's, so any
// Serf querier or relay takes it as usual.
func (s *Serf) sendQueryBytes(a memberlist.Address, raw []byte) error {
	if len(raw) <= s.packetLimit() {
		return s.memberlist.SendToAddress(a, raw)
	}
	host, portText, err := net.SplitHostPort(a.Addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", a.Addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fmt.Errorf("bad port in %q: %w", a.Addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("bad IP in %q", a.Addr)
	}
	s.mx.incr([]string{"serf", "query_responses", "reliable"}, 1)
	return s.memberlist.SendReliable(&memberlist.Node{Name: a.Name, Addr: ip, Port: uint16(port)}, raw)
}
