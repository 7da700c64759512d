package serf

import (
	"net"

	"github.com/hashicorp/memberlist"
)

// handleNodeConflict runs when memberlist sees two addresses for one name.
// Only a conflict over our own name concerns us: the cluster votes.
func (s *Serf) handleNodeConflict(existing, other *memberlist.Node) {
	if existing.Name != s.config.NodeName {
		s.logger.Printf("[WARN] serf: Name conflict for '%s' both %s:%d and %s:%d are claiming",
			existing.Name, net.IP(existing.Addr), existing.Port, net.IP(other.Addr), other.Port)
		return
	}
	if !s.config.EnableNameConflictResolution {
		s.logger.Printf("[ERR] serf: Node name conflicts with another node at %s:%d. Names must be unique! (Resolution disabled)",
			net.IP(other.Addr), other.Port)
		return
	}
	s.logger.Printf("[ERR] serf: Node name conflicts with another node at %s:%d. Names must be unique! (Resolution enabled)",
		net.IP(other.Addr), other.Port)
	s.goFunc(s.resolveNodeConflict)
}

// resolveNodeConflict asks the cluster who holds our name and shuts this
// node down, without a leave, if the majority says it is not us.
func (s *Serf) resolveNodeConflict() {
	local := s.memberlist.LocalNode()
	resp, err := s.Query(internalQueryName(conflictQuery), []byte(s.config.NodeName), nil)
	if err != nil {
		s.logger.Printf("[ERR] serf: Failed to start name resolution query: %v", err)
		return
	}

	responses, matching := 0, 0
	for r := range resp.ResponseCh() {
		if len(r.Payload) == 0 || messageType(r.Payload[0]) != messageConflictResponseType {
			s.logger.Printf("[ERR] serf: Invalid conflict query response type: %v", r.Payload)
			continue
		}
		var member Member
		var mp *Member = &member
		if err := decodeMessage(r.Payload[1:], &mp); err != nil {
			s.logger.Printf("[ERR] serf: Failed to decode conflict query response: %v", err)
			continue
		}
		responses++
		if mp != nil && mp.Addr.Equal(local.Addr) && mp.Port == local.Port {
			matching++
		}
	}

	majority := responses/2 + 1
	if matching >= majority {
		s.logger.Printf("[INFO] serf: majority in name conflict resolution [%d / %d]", matching, responses)
		return
	}
	s.logger.Printf("[WARN] serf: minority in name conflict resolution, quiting [%d / %d]", matching, responses)
	// Only begin the shutdown: Shutdown waits for Serf's goroutines, this
	// one included. The program sees ShutdownCh close and calls Shutdown.
	if err := s.stop(); err != nil {
		s.logger.Printf("[ERR] serf: Failed to shutdown: %v", err)
	}
}
