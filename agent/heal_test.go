package agent

import (
	"reflect"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
)

func TestHealFlags(t *testing.T) {
	c, _, err := ParseFlags([]string{"-heal-interval=5s", "-heal-attempts=4", "-rejoin-window=2h"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HealInterval != 5*time.Second || c.HealAttempts != 4 || c.RejoinWindow != 2*time.Hour {
		t.Errorf("parsed %v %v %v", c.HealInterval, c.HealAttempts, c.RejoinWindow)
	}
	if _, _, err := ParseFlags([]string{"-heal-interval=soon"}, nil); err == nil {
		t.Error("a bad -heal-interval was accepted")
	}
}

func TestApplyHeal(t *testing.T) {
	cases := []struct {
		name     string
		conf     Config
		interval time.Duration
		attempts int
		window   time.Duration
		addrs    []string
		wantErr  bool
	}{
		{name: "unset keeps the defaults", interval: serf.DefaultHealInterval, attempts: serf.DefaultHealAttempts, window: serf.DefaultRejoinWindow},
		{
			name:     "set",
			conf:     Config{HealInterval: 2 * time.Second, HealAttempts: 5, RejoinWindow: time.Hour, StartJoin: []string{"a:1"}, RetryJoin: []string{"b.example:2"}},
			interval: 2 * time.Second, attempts: 5, window: time.Hour, addrs: []string{"a:1", "b.example:2"},
		},
		{name: "negative interval turns healing off", conf: Config{HealInterval: -time.Second}, attempts: serf.DefaultHealAttempts, window: serf.DefaultRejoinWindow},
		{name: "negative attempts", conf: Config{HealAttempts: -1}, wantErr: true},
		{name: "negative window", conf: Config{RejoinWindow: -time.Hour}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := serf.DefaultConfig()
			err := tc.conf.ApplyHeal(sc)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.HealInterval != tc.interval || sc.HealAttempts != tc.attempts || sc.RejoinWindow != tc.window ||
				(len(tc.addrs) > 0 && !reflect.DeepEqual(sc.HealJoinAddrs, tc.addrs)) || (len(tc.addrs) == 0 && len(sc.HealJoinAddrs) != 0) {
				t.Errorf("got %v %d %v %v", sc.HealInterval, sc.HealAttempts, sc.RejoinWindow, sc.HealJoinAddrs)
			}
		})
	}
}
