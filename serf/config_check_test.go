package serf

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestCreateRejectsBadConfig checks that a configuration that would make
// a ticker panic, a wait hang or a slice bound go negative is refused by
// Create with an error naming the field.
func TestCreateRejectsBadConfig(t *testing.T) {
	cases := []struct {
		field string
		set   func(*Config)
	}{
		{"ReapInterval", func(c *Config) { c.ReapInterval = 0 }},
		{"ReapInterval", func(c *Config) { c.ReapInterval = -time.Second }},
		{"ReconnectInterval", func(c *Config) { c.ReconnectInterval = 0 }},
		{"ReconnectInterval", func(c *Config) { c.ReconnectInterval = -time.Second }},
		{"QueueCheckInterval", func(c *Config) { c.QueueCheckInterval = 0 }},
		{"QueueCheckInterval", func(c *Config) { c.QueueCheckInterval = -1 }},
		{"BroadcastTimeout", func(c *Config) { c.BroadcastTimeout = 0 }},
		{"LeavePropagateDelay", func(c *Config) { c.LeavePropagateDelay = -1 }},
		{"CoalescePeriod", func(c *Config) { c.CoalescePeriod = -1 }},
		{"UserQuiescentPeriod", func(c *Config) { c.UserQuiescentPeriod = -1 }},
		{"ReconnectTimeout", func(c *Config) { c.ReconnectTimeout = -1 }},
		{"QueryResponseSizeLimit", func(c *Config) { c.QueryResponseSizeLimit = -100 }},
		{"QuerySizeLimit", func(c *Config) { c.QuerySizeLimit = -1 }},
		{"UserEventSizeLimit", func(c *Config) { c.UserEventSizeLimit = -1 }},
		{"EventBuffer", func(c *Config) { c.EventBuffer = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			conf := testConfig(t)
			tc.set(conf)
			s, err := Create(conf)
			if err == nil {
				_ = s.Shutdown()
				t.Fatalf("Create accepted a bad %s", tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

// TestListKeysLimitTooSmall checks that a response limit too small for
// even an empty key list fails the request instead of panicking.
func TestListKeysLimitTooSmall(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	kr, err := memberlist.NewKeyring([][]byte{key}, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 1, 30} {
		conf := testConfig(t)
		conf.MemberlistConfig.Keyring = kr
		conf.QueryResponseSizeLimit = limit
		s := startNode(t, conf)
		if _, err := s.KeyManager().ListKeys(); err == nil {
			t.Errorf("limit %d: list-keys succeeded", limit)
		}
	}
	// Even a limit Create refuses must not panic the answer.
	s := benchSerf(t)
	s.config.MemberlistConfig.Keyring = kr
	s.config.QueryResponseSizeLimit = -100
	s.answerListKeys(&Query{Name: internalQueryName(listKeysQuery), serf: s,
		addr: []byte{127, 0, 0, 1}, port: 1, deadline: time.Now().Add(time.Second)})
}

// TestLeaveRacingShutdown shuts a node down while its Leave waits for the
// leave intent to go out: Leave must return an error, not run into
// memberlist's panic on a leave after shutdown.
func TestLeaveRacingShutdown(t *testing.T) {
	conf := testConfig(t)
	conf.BroadcastTimeout = 500 * time.Millisecond
	s := startNode(t, conf)
	// A member only Serf knows of: Leave waits for a broadcast no one
	// can receive, which leaves time for Shutdown.
	s.memberLock.Lock()
	s.setMember(&memberState{Member: Member{Name: "ghost", Status: StatusAlive}})
	s.memberLock.Unlock()

	done := make(chan error, 1)
	go func() { done <- s.Leave() }()
	for s.State() != SerfLeaving {
		time.Sleep(time.Millisecond)
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Leave interrupted by Shutdown returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Leave did not return after Shutdown")
	}
}
