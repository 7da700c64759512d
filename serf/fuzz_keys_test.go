package serf

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// FuzzKeyRequest feeds arbitrary key-query payloads to the install, use
// and remove handlers of a member with a keyring, as the internal
// _serf_*-key queries deliver them. It must never panic, and the keyring
// must only ever change as the decoded request says: an install of a
// valid AES key leaves it installed, and the primary key is never removed.
func FuzzKeyRequest(f *testing.F) {
	primary := bytes.Repeat([]byte{7}, 32)
	s := fuzzNode(f, func(c *Config) {
		kr, err := memberlist.NewKeyring(nil, primary)
		if err != nil {
			f.Fatal(err)
		}
		c.MemberlistConfig.Keyring = kr
	})
	keyring := s.config.MemberlistConfig.Keyring
	for _, key := range [][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 24), primary, {1, 2, 3}, nil} {
		buf, err := encodeMessage(messageKeyRequestType, &keyRequest{Key: key})
		if err != nil {
			f.Fatal(err)
		}
		for op := uint8(0); op < 3; op++ {
			f.Add(op, buf)
		}
	}
	for _, h := range []string{"", "07", "07 c0", "07 81 a3 4b6579 db ffffffff", "07 81 a3 4b6579 c6 ffffffff", "08 80", "07 dd ffffffff"} {
		f.Add(uint8(0), codecHex(f, h))
	}
	ops := []string{"install", "use", "remove"}
	f.Fuzz(func(t *testing.T, op uint8, payload []byte) {
		name := ops[int(op)%len(ops)]
		// A past deadline: the handler's answer is refused locally, so
		// nothing is sent anywhere.
		q := &Query{Name: "_serf_" + name + "-key", Payload: payload, serf: s, deadline: time.Now().Add(-time.Second)}
		s.answerKeyRequest(q, name)

		key, err := decodeKeyRequest(payload)
		has := func(k []byte) bool {
			for _, have := range keyring.GetKeys() {
				if bytes.Equal(have, k) {
					return true
				}
			}
			return false
		}
		if !has(keyring.GetPrimaryKey()) || keyring.GetPrimaryKey() == nil {
			t.Fatalf("%s with payload %x left the keyring without its primary", name, payload)
		}
		if err == nil && name == "install" && validKeyLen(len(key)) && !has(key) {
			t.Fatalf("install of the valid key %x did not install it", key)
		}
		// Back to one key, the original primary, for the next input.
		if err := keyring.UseKey(primary); err != nil {
			t.Fatalf("restore primary: %v", err)
		}
		for _, k := range keyring.GetKeys() {
			if !bytes.Equal(k, primary) {
				_ = keyring.RemoveKey(k)
			}
		}
	})
}

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// FuzzKeyResponseTally feeds arbitrary node answers to the aggregation
// of a key operation at its originator. Every answer counts at most one
// error, a decodable successful answer none, and a bad one is reported
// under its node's name.
func FuzzKeyResponseTally(f *testing.F) {
	ok, err := encodeMessage(messageKeyResponseType, &nodeKeyResponse{Result: true,
		Keys: []string{base64.StdEncoding.EncodeToString(make([]byte, 32))}, PrimaryKey: "k"})
	if err != nil {
		f.Fatal(err)
	}
	failed, err := encodeMessage(messageKeyResponseType, &nodeKeyResponse{Message: "no keyring"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("n1", ok)
	f.Add("n2", failed)
	for _, h := range []string{"", "08", "08 c0", "05 80", "08 81 a4 4b657973 dd ffffffff", "08 81 a7 4d657373616765 db ffffffff"} {
		f.Add("n3", codecHex(f, h))
	}
	k := &KeyManager{}
	f.Fuzz(func(t *testing.T, from string, payload []byte) {
		resp := &KeyResponse{Messages: map[string]string{}, Keys: map[string]int{}, PrimaryKeys: map[string]int{}}
		k.tally(resp, NodeResponse{From: from, Payload: payload})
		if resp.NumErr > 1 {
			t.Fatalf("one answer counted %d errors", resp.NumErr)
		}
		var nk nodeKeyResponse
		decoded := len(payload) > 0 && messageType(payload[0]) == messageKeyResponseType && decodeMessage(payload[1:], &nk) == nil
		if decoded && nk.Result && resp.NumErr != 0 {
			t.Fatalf("successful answer %x counted as an error", payload)
		}
		if !decoded {
			if resp.NumErr != 1 {
				t.Fatalf("undecodable answer %x counted %d errors", payload, resp.NumErr)
			}
			if _, ok := resp.Messages[from]; !ok {
				t.Fatalf("undecodable answer %x has no message for %q", payload, from)
			}
		}
		if len(resp.Keys) > len(payload) {
			t.Fatalf("%d keys from a %d-byte answer", len(resp.Keys), len(payload))
		}
	})
}
