package serf

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// TestQueryDoneWithFilters: Done closes once every live member that
// matches the filters has answered (and acked when asked), whatever the
// members left out by the filters do; a matching member that stays silent
// keeps it open until the query's deadline.
func TestQueryDoneWithFilters(t *testing.T) {
	// Members 0-2 are web servers, 3 a database; 3 never answers.
	roles := []string{"web", "web", "web", "db"}
	cases := []struct {
		name      string
		param     QueryParam
		silent    int // index of a member that never answers; -1 none
		wantDone  bool
		wantResps []int
	}{
		{"tag filter, the other member silent", QueryParam{FilterTags: map[string]string{"role": "^web$"}, RequestAck: true}, 3, true, []int{0, 1, 2}},
		{"tag filter without acks", QueryParam{FilterTags: map[string]string{"role": "we"}}, 3, true, []int{0, 1, 2}},
		{"node filter", QueryParam{FilterNodes: []string{"@1", "@2"}, RequestAck: true}, 3, true, []int{1, 2}},
		{"node and tag filter", QueryParam{FilterNodes: []string{"@1", "@3"}, FilterTags: map[string]string{"role": "web"}}, 3, true, []int{1}},
		{"filter matching no one", QueryParam{FilterTags: map[string]string{"role": "^cache$"}}, -1, true, nil},
		{"a matching member silent", QueryParam{FilterTags: map[string]string{"role": "web"}, RequestAck: true}, 2, false, []int{0, 1}},
		{"everyone, one silent", QueryParam{}, 3, false, []int{0, 1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := fastCluster(t, len(roles), fastOptions{
				tags:   func(i int) map[string]string { return map[string]string{"role": roles[i]} },
				silent: func(i int) bool { return i == tc.silent },
			})
			param := tc.param
			param.FilterNodes = nil
			for _, ref := range tc.param.FilterNodes {
				param.FilterNodes = append(param.FilterNodes, nodes[int(ref[1]-'0')].name())
			}
			timeout := 30 * time.Second
			if !tc.wantDone {
				timeout = 1500 * time.Millisecond
			}
			param.Timeout = timeout
			started := time.Now()
			resp, err := nodes[0].s.Query("ask", nil, &param)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			done := resp.Done()
			respCh := resp.ResponseCh()
		collect:
			for {
				select {
				case r, ok := <-respCh:
					if !ok {
						break collect
					}
					got = append(got, r.From)
				case <-done:
					break collect
				}
			}
			elapsed := time.Since(started)
			if tc.wantDone {
				if elapsed > timeout/2 {
					t.Errorf("Done took %v of a %v timeout", elapsed, timeout)
				}
				// Everything delivered before Done is already buffered.
				for {
					select {
					case r := <-respCh:
						got = append(got, r.From)
						continue
					default:
					}
					break
				}
			} else {
				select {
				case <-done:
					t.Error("Done closed although a matching member never answered")
				default:
				}
				if elapsed < timeout-100*time.Millisecond {
					t.Errorf("responses ended after %v, before the %v timeout", elapsed, timeout)
				}
			}
			resp.Close()
			var want []string
			for _, i := range tc.wantResps {
				want = append(want, nodes[i].name())
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("responses from %v, want %v", got, want)
			}
		})
	}
}

// TestQueryExpectAcksToo: with acks asked, responses alone do not finish
// the query; the acks must be in as well.
func TestQueryExpectAcksToo(t *testing.T) {
	e := &queryExpect{
		responses: map[string]struct{}{"a": {}, "b": {}},
		acks:      map[string]struct{}{"a": {}, "b": {}},
		done:      make(chan struct{}),
	}
	steps := []struct {
		from     string
		ack      bool
		wantDone bool
	}{
		{"a", false, false},
		{"b", false, false},
		{"stranger", true, false},
		{"a", true, false},
		{"b", true, true},
		{"b", true, true}, // a duplicate after the end is harmless
	}
	for i, st := range steps {
		e.arrived(st.from, st.ack)
		select {
		case <-e.done:
			if !st.wantDone {
				t.Fatalf("step %d: done too early", i)
			}
		default:
			if st.wantDone {
				t.Fatalf("step %d: not done", i)
			}
		}
	}
	var none *queryExpect
	none.arrived("a", false) // a QueryResponse without expectations
}
