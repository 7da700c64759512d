package serf

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Names of the queries Serf answers itself.
const (
	InternalQueryPrefix = "_serf_"
	pingQuery           = "ping"
	conflictQuery       = "conflict"
	installKeyQuery     = "install-key"
	useKeyQuery         = "use-key"
	removeKeyQuery      = "remove-key"
	listKeysQuery       = "list-keys"

	// minEncodedKeyLength is the size of one key in a list-keys answer,
	// used to guess how many keys fit in a response.
	minEncodedKeyLength = 25
)

// internalQueryName returns the wire name of an internal query.
func internalQueryName(name string) string { return InternalQueryPrefix + name }

// startInternalQueries inserts the stage of the event pipeline that takes
// internal queries away from the application and answers them. Other
// events pass on to outCh (which may be nil).
func (s *Serf) startInternalQueries(outCh chan<- Event) chan<- Event {
	inCh := make(chan Event, 1024)
	s.goFunc(func() {
		for {
			select {
			case e := <-inCh:
				if q, ok := e.(*Query); ok && strings.HasPrefix(q.Name, InternalQueryPrefix) {
					// Each internal query runs on its own, as in Serf.
					s.goFunc(func() { s.handleInternalQuery(q) })
					continue
				}
				if outCh == nil {
					continue
				}
				select {
				case outCh <- e:
				case <-s.shutdownCh:
					return
				}
			case <-s.shutdownCh:
				return
			}
		}
	})
	return inCh
}

// handleInternalQuery answers one _serf_ query.
func (s *Serf) handleInternalQuery(q *Query) {
	switch strings.TrimPrefix(q.Name, InternalQueryPrefix) {
	case pingQuery:
		// The ack, if asked for, has already gone out.
	case conflictQuery:
		s.answerConflict(q)
	case installKeyQuery:
		s.answerKeyRequest(q, "install")
	case useKeyQuery:
		s.answerKeyRequest(q, "use")
	case removeKeyQuery:
		s.answerKeyRequest(q, "remove")
	case listKeysQuery:
		s.answerListKeys(q)
	default:
		s.logger.Printf("[WARN] serf: Unhandled internal query '%s'", q.Name)
	}
}

// answerConflict tells a claimant what this node believes about the name.
// The claimant itself never votes.
func (s *Serf) answerConflict(q *Query) {
	node := string(q.Payload)
	if node == s.config.NodeName {
		return
	}
	s.logger.Printf("[DEBUG] serf: Got conflict resolution query for '%s'", node)

	var out *Member
	s.memberLock.RLock()
	if ms, ok := s.members[node]; ok {
		m := ms.clone()
		out = &m
	}
	s.memberLock.RUnlock()

	buf, err := encodeMessage(messageConflictResponseType, out)
	if err != nil {
		s.logger.Printf("[ERR] serf: Failed to encode conflict query response: %v", err)
		return
	}
	if err := q.Respond(buf); err != nil {
		s.logger.Printf("[ERR] serf: Failed to respond to conflict query: %v", err)
	}
}

// decodeKeyRequest reads the key of a key query. Serf 0.10 crashes on an
// empty payload here; we refuse it instead.
func decodeKeyRequest(payload []byte) ([]byte, error) {
	if len(payload) < 2 {
		return nil, errors.New("key request payload is too short")
	}
	if messageType(payload[0]) != messageKeyRequestType {
		return nil, fmt.Errorf("key request has wrong type prefix %d", payload[0])
	}
	var req keyRequest
	if err := decodeMessage(payload[1:], &req); err != nil {
		return nil, fmt.Errorf("failed to decode key request: %w", err)
	}
	return req.Key, nil
}

// answerKeyRequest installs, uses or removes a key on this node's keyring.
func (s *Serf) answerKeyRequest(q *Query, op string) {
	resp := nodeKeyResponse{}
	defer s.sendKeyResponse(q, &resp)

	key, err := decodeKeyRequest(q.Payload)
	if err != nil {
		resp.Message = err.Error()
		s.logger.Printf("[ERR] serf: %s", err)
		return
	}
	keyring := s.config.MemberlistConfig.Keyring
	if !s.EncryptionEnabled() || keyring == nil {
		resp.Message = "No keyring to modify (encryption not enabled)"
		s.logger.Printf("[ERR] serf: No keyring to modify (encryption not enabled)")
		return
	}

	s.logger.Printf("[INFO] serf: Received %s-key query", op)
	switch op {
	case "install":
		err = keyring.AddKey(key)
	case "use":
		err = keyring.UseKey(key)
	case "remove":
		err = keyring.RemoveKey(key)
	}
	if err != nil {
		resp.Message = err.Error()
		s.logger.Printf("[ERR] serf: Failed to %s key: %s", op, err)
		return
	}
	if s.config.KeyringFile != "" {
		if err := writeKeyringFile(s.config.KeyringFile, keyring.GetKeys()); err != nil {
			resp.Message = err.Error()
			s.logger.Printf("[ERR] serf: Failed to write keyring file: %s", err)
			return
		}
	}
	resp.Result = true
}

// answerListKeys reports this node's keys, trimming the list to fit the
// response limit as Serf does.
func (s *Serf) answerListKeys(q *Query) {
	resp := nodeKeyResponse{}
	keyring := s.config.MemberlistConfig.Keyring
	if !s.EncryptionEnabled() || keyring == nil {
		resp.Message = "Keyring is empty (encryption not enabled)"
		s.logger.Printf("[ERR] serf: Keyring is empty (encryption not enabled)")
		s.sendKeyResponse(q, &resp)
		return
	}
	s.logger.Printf("[INFO] serf: Received list-keys query")
	for _, k := range keyring.GetKeys() {
		resp.Keys = append(resp.Keys, base64.StdEncoding.EncodeToString(k))
	}
	resp.PrimaryKey = base64.StdEncoding.EncodeToString(keyring.GetPrimaryKey())
	resp.Result = true

	total := len(resp.Keys)
	// The limit is checked to be non-negative at Create; the clamp keeps
	// a slice bound from ever going negative all the same.
	if maxKeys := max(s.config.QueryResponseSizeLimit/minEncodedKeyLength, 0); len(resp.Keys) > maxKeys {
		resp.Keys = resp.Keys[:maxKeys]
	}
	for {
		if len(resp.Keys) < total {
			resp.Message = fmt.Sprintf("truncated key list response, showing first %d of %d keys", len(resp.Keys), total)
		}
		buf, err := encodeMessage(messageKeyResponseType, &resp)
		if err != nil {
			s.logger.Printf("[ERR] serf: Failed to encode key response: %v", err)
			return
		}
		// Does the whole response message, as it will be sent, fit?
		wire, err := encodeMessage(messageQueryResponseType, &messageQueryResponse{
			LTime: q.LTime, ID: q.id, From: s.config.NodeName, Payload: buf})
		if err != nil {
			s.logger.Printf("[ERR] serf: Failed to encode key response: %v", err)
			return
		}
		if len(wire) > s.config.QueryResponseSizeLimit && len(resp.Keys) == 0 {
			s.logger.Printf("[ERR] serf: list-keys response does not fit QueryResponseSizeLimit (%d bytes) even without keys",
				s.config.QueryResponseSizeLimit)
			return
		}
		if len(wire) <= s.config.QueryResponseSizeLimit {
			if err := q.Respond(buf); err != nil {
				s.logger.Printf("[ERR] serf: %v", err)
			}
			return
		}
		resp.Keys = resp.Keys[:len(resp.Keys)-1]
	}
}

// sendKeyResponse answers a key query.
func (s *Serf) sendKeyResponse(q *Query, resp *nodeKeyResponse) {
	buf, err := encodeMessage(messageKeyResponseType, resp)
	if err != nil {
		s.logger.Printf("[ERR] serf: Failed to encode key response: %v", err)
		return
	}
	if err := q.Respond(buf); err != nil {
		s.logger.Printf("[ERR] serf: %v", err)
	}
}
