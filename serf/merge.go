package serf

import (
	"fmt"
	"net"

	"github.com/hashicorp/memberlist"
)

// mergeDelegate lets the program's MergeDelegate veto cluster merges and
// alive messages.
type mergeDelegate struct {
	serf *Serf
}

var (
	_ memberlist.MergeDelegate = (*mergeDelegate)(nil)
	_ memberlist.AliveDelegate = (*mergeDelegate)(nil)
)

func (m *mergeDelegate) NotifyMerge(nodes []*memberlist.Node) error {
	members := make([]*Member, 0, len(nodes))
	for _, n := range nodes {
		mem, err := m.nodeToMember(n)
		if err != nil {
			return err
		}
		members = append(members, mem)
	}
	if m.serf.config.Merge == nil {
		return nil
	}
	return m.serf.config.Merge.NotifyMerge(members)
}

func (m *mergeDelegate) NotifyAlive(peer *memberlist.Node) error {
	mem, err := m.nodeToMember(peer)
	if err != nil {
		return err
	}
	if m.serf.config.Merge == nil {
		return nil
	}
	return m.serf.config.Merge.NotifyMerge([]*Member{mem})
}

// nodeToMember checks a node as Serf does before handing it to the hook.
func (m *mergeDelegate) nodeToMember(n *memberlist.Node) (*Member, error) {
	status := StatusNone
	if n.State == memberlist.StateLeft {
		status = StatusLeft
	}
	if n.Name == "" {
		return nil, fmt.Errorf("member has an empty name")
	}
	if m.serf.config.ValidateNodeNames {
		if err := validateNodeName(n.Name); err != nil {
			return nil, err
		}
	}
	if l := len(n.Addr); l != net.IPv4len && l != net.IPv6len {
		return nil, fmt.Errorf("IP byte length is invalid: %d bytes is not either %d or %d", l, net.IPv4len, net.IPv6len)
	}
	if len(n.Meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("Encoded length of tags exceeds limit of %d bytes", memberlist.MetaMaxSize)
	}
	// Tags that do not decode are no reason to refuse a peer: memberlist
	// does not check them, and the member would be admitted by the next
	// alive message anyway. The hook gets what decodes.
	tags, err := decodeTags(n.Meta)
	if err != nil {
		m.serf.logger.Printf("[WARN] serf: Passing %s to the merge delegate with the tags that decode: %v", n.Name, err)
		m.serf.mx.incr(metricMalformed, 1)
	}
	return &Member{
		Name: n.Name, Addr: net.IP(n.Addr), Port: n.Port, Tags: tags, Status: status,
		ProtocolMin: n.PMin, ProtocolMax: n.PMax, ProtocolCur: n.PCur,
		DelegateMin: n.DMin, DelegateMax: n.DMax, DelegateCur: n.DCur,
	}, nil
}
