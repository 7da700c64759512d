package serf

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQueryLargeResponseArrivesWhole: with QueryResponseSizeLimit at
// 65536, a 20 KiB response, too big for one packet, arrives whole over
// the reliable stream, directly and through a relay; a small one keeps the
// packet path. With Serf's default limit the large one is refused.
func TestQueryLargeResponseArrivesWhole(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20*1024/16)
	cases := []struct {
		name         string
		limit        int
		payload      []byte
		relay        uint8
		wantArrive   bool
		wantReliable bool
	}{
		{"20 KiB direct", 65536, big, 0, true, true},
		{"20 KiB relayed", 65536, big, 1, true, true},
		{"small keeps UDP", 65536, []byte("tiny"), 1, true, false},
		{"20 KiB over Serf's default limit", 1024, big, 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := fastCluster(t, 3, fastOptions{
				tweak:  func(i int, c *Config) { c.QueryResponseSizeLimit = tc.limit },
				reply:  func(*Query) []byte { return tc.payload },
				silent: func(i int) bool { return i != 1 },
			})
			resp, err := nodes[0].s.Query("dump", nil, &QueryParam{
				FilterNodes: []string{nodes[1].name()},
				RelayFactor: tc.relay,
				Timeout:     5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			var got [][]byte
			timer := time.NewTimer(10 * time.Second)
			defer timer.Stop()
		collect:
			for {
				select {
				case r, ok := <-resp.ResponseCh():
					if !ok {
						break collect
					}
					got = append(got, r.Payload)
				case <-resp.Done():
					// Every expected answer is in the channel by now;
					// the select may have picked Done before them.
					for {
						select {
						case r, ok := <-resp.ResponseCh():
							if !ok {
								break collect
							}
							got = append(got, r.Payload)
						default:
							break collect
						}
					}
				case <-timer.C:
					t.Fatal("query did not end")
				}
			}
			resp.Close()
			if !tc.wantArrive {
				if len(got) != 0 {
					t.Errorf("got %d responses, want none", len(got))
				}
				return
			}
			if len(got) != 1 || !bytes.Equal(got[0], tc.payload) {
				t.Fatalf("got %d responses (first %d bytes), want one of %d bytes", len(got), lenFirst(got), len(tc.payload))
			}
			reliable := 0
			for _, fn := range nodes {
				reliable += fn.counter("serf.query_responses.reliable")
			}
			if tc.wantReliable && reliable == 0 {
				t.Error("no response went over the reliable stream")
			}
			if !tc.wantReliable && reliable != 0 {
				t.Errorf("%d small responses went over the reliable stream", reliable)
			}
			if tc.relay > 0 && tc.wantReliable {
				// The responder sent it twice (direct and to the relay);
				// the relay forwards it once more.
				testWaitCounter(t, nodes, "serf.query_responses.reliable", 3)
			}
		})
	}
}

func lenFirst(got [][]byte) int {
	if len(got) == 0 {
		return 0
	}
	return len(got[0])
}

// testWaitCounter waits until the counter summed over nodes reaches want.
func testWaitCounter(t *testing.T, nodes []*fastNode, key string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sum := 0
		var parts []string
		for _, fn := range nodes {
			c := fn.counter(key)
			sum += c
			parts = append(parts, fn.name()+"="+strconv.Itoa(c))
		}
		if sum >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s reached %d (%s), want %d", key, sum, strings.Join(parts, " "), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
