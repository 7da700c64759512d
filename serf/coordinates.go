package serf

import (
	"errors"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/coordinate"
)

// pingDelegate carries Vivaldi coordinates in memberlist's probe acks.
type pingDelegate struct {
	serf *Serf
}

var _ memberlist.PingDelegate = (*pingDelegate)(nil)

// AckPayload returns our coordinate for the prober. With no usable
// coordinate it sends nothing rather than bytes peers would reject.
func (p *pingDelegate) AckPayload() []byte {
	buf, err := coordinate.EncodePingPayload(p.serf.coordClient.GetCoordinate())
	if err != nil {
		p.serf.logger.Printf("[ERR] serf: Failed to encode coordinate: %v", err)
		return nil
	}
	return buf
}

// NotifyPingComplete updates our coordinate from a probe's RTT and the
// peer's coordinate.
func (p *pingDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	s := p.serf
	if len(payload) == 0 {
		return
	}
	coord, err := coordinate.DecodePingPayload(payload)
	if err != nil {
		s.logger.Printf("[ERR] serf: Failed to decode coordinate from ping: %v", err)
		return
	}
	if rtt == 0 {
		s.mx.incr([]string{"serf", "coordinate", "zero-rtt"}, 1)
	}

	before := s.coordClient.GetCoordinate()
	after, err := s.coordClient.Update(other.Name, coord, rtt)
	if err != nil {
		s.mx.incr([]string{"serf", "coordinate", "rejected"}, 1)
		s.logger.Printf("[TRACE] serf: Rejected coordinate from %s: %v", other.Name, err)
		return
	}
	d := float32(before.DistanceTo(after).Seconds() * 1.0e3)
	s.mx.sample([]string{"serf", "coordinate", "adjustment-ms"}, d)

	s.coordCacheLock.Lock()
	s.coordCache[other.Name] = coord
	s.coordCache[s.config.NodeName] = after
	s.coordCacheLock.Unlock()
}

var errCoordinatesDisabled = errors.New("Coordinates are disabled")

// GetCoordinate returns this node's current network coordinate.
func (s *Serf) GetCoordinate() (*coordinate.Coordinate, error) {
	if s.coordClient == nil {
		return nil, errCoordinatesDisabled
	}
	return s.coordClient.GetCoordinate(), nil
}

// GetCachedCoordinate returns the last coordinate heard from a node.
func (s *Serf) GetCachedCoordinate(name string) (*coordinate.Coordinate, bool) {
	if s.coordClient == nil {
		return nil, false
	}
	s.coordCacheLock.RLock()
	defer s.coordCacheLock.RUnlock()
	c, ok := s.coordCache[name]
	if !ok {
		return nil, false
	}
	return c.Clone(), true
}
