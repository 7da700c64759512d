package agent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// ErrEncryptKeyWithKeyring is refused at startup (printed after "Failed to
// setup the Serf agent: "): keys come from the keyring file or
// encrypt_key, not both.
var ErrEncryptKeyWithKeyring = errors.New("Encryption key not allowed while using a keyring")

// InitialKeyring returns the keys the node starts with, primary first.
// With KeyringFile, EncryptKey must be empty (ErrEncryptKeyWithKeyring) and
// the file is read with ReadKeyringFile (log "Restored keyring with <n> keys
// from <path>"). Otherwise the decoded EncryptKey is the only key, or nil
// when encryption is off.
func (c *Config) InitialKeyring() ([][]byte, error) {
	if c.KeyringFile != "" {
		if c.EncryptKey != "" {
			return nil, ErrEncryptKeyWithKeyring
		}
		return ReadKeyringFile(c.KeyringFile)
	}
	key, err := c.EncryptBytes()
	if err != nil {
		return nil, fmt.Errorf("Invalid encryption key: %w", err)
	}
	if key == nil {
		return nil, nil
	}
	return [][]byte{key}, nil
}

// ReadKeyringFile reads a keyring file: a JSON array of base64 keys, the
// first being the primary. The file must exist (the os.Stat error is
// returned as is). Key sizes are not checked here.
func ReadKeyringFile(path string) ([][]byte, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Failed to read keyring file: %w", err)
	}
	var encoded []string
	if err := json.Unmarshal(data, &encoded); err != nil {
		return nil, fmt.Errorf("Failed to decode keyring file: %w", err)
	}
	keys := make([][]byte, 0, len(encoded))
	for _, s := range encoded {
		key, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("Failed to decode key from keyring: %w", err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("Keyring file contains no keys")
	}
	return keys, nil
}
