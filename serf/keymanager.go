package serf

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/serfclone/serf/internal/atomicfile"
)

// KeyManager changes the gossip keys of the whole cluster through Serf's
// internal key queries, and lists them.
type KeyManager struct {
	serf *Serf
	// lock serialises key changes (exclusive) against listings (shared).
	lock sync.RWMutex
}

// KeyResponse aggregates the answers of every node to a key operation.
type KeyResponse struct {
	// Messages holds, per node, an error or warning it reported.
	Messages map[string]string

	NumNodes int // members when the query was sent
	NumResp  int // answers received
	NumErr   int // answers that reported failure

	// Keys counts, per base64 key, the nodes that hold it (list only).
	Keys map[string]int

	// PrimaryKeys counts, per base64 key, the nodes using it as primary.
	PrimaryKeys map[string]int
}

// KeyRequestOptions tunes a key operation.
type KeyRequestOptions struct {
	// RelayFactor is passed on to the underlying query.
	RelayFactor uint8
}

// InstallKey adds a key to every node's keyring.
func (k *KeyManager) InstallKey(key string) (*KeyResponse, error) {
	return k.InstallKeyWithOptions(key, nil)
}

// InstallKeyWithOptions is InstallKey with options.
func (k *KeyManager) InstallKeyWithOptions(key string, opts *KeyRequestOptions) (*KeyResponse, error) {
	k.lock.Lock()
	defer k.lock.Unlock()
	return k.changeKey(key, installKeyQuery, opts)
}

// UseKey makes an installed key the primary key everywhere.
func (k *KeyManager) UseKey(key string) (*KeyResponse, error) {
	return k.UseKeyWithOptions(key, nil)
}

// UseKeyWithOptions is UseKey with options.
func (k *KeyManager) UseKeyWithOptions(key string, opts *KeyRequestOptions) (*KeyResponse, error) {
	k.lock.Lock()
	defer k.lock.Unlock()
	return k.changeKey(key, useKeyQuery, opts)
}

// RemoveKey removes a key from every keyring; the primary cannot go.
func (k *KeyManager) RemoveKey(key string) (*KeyResponse, error) {
	return k.RemoveKeyWithOptions(key, nil)
}

// RemoveKeyWithOptions is RemoveKey with options.
func (k *KeyManager) RemoveKeyWithOptions(key string, opts *KeyRequestOptions) (*KeyResponse, error) {
	k.lock.Lock()
	defer k.lock.Unlock()
	return k.changeKey(key, removeKeyQuery, opts)
}

// ListKeys asks every node for its keys.
func (k *KeyManager) ListKeys() (*KeyResponse, error) {
	return k.ListKeysWithOptions(nil)
}

// ListKeysWithOptions is ListKeys with options.
func (k *KeyManager) ListKeysWithOptions(opts *KeyRequestOptions) (*KeyResponse, error) {
	k.lock.RLock()
	defer k.lock.RUnlock()
	return k.keysQuery(listKeysQuery, []byte{}, opts)
}

// changeKey decodes a base64 key and runs the named key query.
func (k *KeyManager) changeKey(key, query string, opts *KeyRequestOptions) (*KeyResponse, error) {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return &KeyResponse{Messages: map[string]string{}, Keys: map[string]int{}, PrimaryKeys: map[string]int{}},
			fmt.Errorf("failed to decode key: %w", err)
	}
	return k.keysQuery(query, raw, opts)
}

// keysQuery sends a key query and tallies the answers.
func (k *KeyManager) keysQuery(query string, key []byte, opts *KeyRequestOptions) (*KeyResponse, error) {
	resp := &KeyResponse{
		Messages:    make(map[string]string),
		Keys:        make(map[string]int),
		PrimaryKeys: make(map[string]int),
	}
	payload, err := encodeMessage(messageKeyRequestType, &keyRequest{Key: key})
	if err != nil {
		return resp, fmt.Errorf("failed to encode key request: %w", err)
	}
	params := k.serf.DefaultQueryParams()
	if opts != nil {
		params.RelayFactor = opts.RelayFactor
	}
	resp.NumNodes = k.serf.memberlist.NumMembers()
	qresp, err := k.serf.Query(internalQueryName(query), payload, params)
	if err != nil {
		return resp, err
	}

	for r := range qresp.ResponseCh() {
		resp.NumResp++
		k.tally(resp, r)
		if resp.NumResp == resp.NumNodes {
			break
		}
	}

	if resp.NumErr != 0 {
		return resp, fmt.Errorf("%d/%d nodes reported failure", resp.NumErr, resp.NumNodes)
	}
	if resp.NumResp != resp.NumNodes {
		return resp, fmt.Errorf("%d/%d nodes reported success", resp.NumResp, resp.NumNodes)
	}
	return resp, nil
}

// tally adds one node's answer to the aggregate.
func (k *KeyManager) tally(resp *KeyResponse, r NodeResponse) {
	if len(r.Payload) == 0 || messageType(r.Payload[0]) != messageKeyResponseType {
		resp.Messages[r.From] = fmt.Sprintf("Invalid key query response type: %v", r.Payload)
		resp.NumErr++
		return
	}
	var nk nodeKeyResponse
	if err := decodeMessage(r.Payload[1:], &nk); err != nil {
		resp.Messages[r.From] = fmt.Sprintf("Failed to decode key query response: %v", err)
		resp.NumErr++
		return
	}
	if !nk.Result {
		resp.Messages[r.From] = nk.Message
		resp.NumErr++
	} else if nk.Message != "" {
		resp.Messages[r.From] = nk.Message
	}
	for _, key := range nk.Keys {
		resp.Keys[key]++
	}
	resp.PrimaryKeys[nk.PrimaryKey]++
}

// writeKeyringFile stores keys (primary first) in Serf's keyring file
// format: a JSON array of base64 strings, two-space indented, no final
// newline. A new file gets mode 0600; an existing one keeps its mode.
func writeKeyringFile(path string, keys [][]byte) error {
	encoded := make([]string, 0, len(keys))
	for _, k := range keys {
		encoded = append(encoded, base64.StdEncoding.EncodeToString(k))
	}
	buf, err := json.MarshalIndent(encoded, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keyring file: %w", err)
	}
	// Replaced atomically: a crash mid-write must not leave a keyring
	// file the next start cannot read (Serf 0.10 truncates it in place).
	if err := atomicfile.Write(path, buf, 0o600); err != nil {
		return fmt.Errorf("write keyring file %s: %w", path, err)
	}
	return nil
}
