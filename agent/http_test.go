package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/serfclone/serf/serf"
	"github.com/serfclone/serf/testutil"
)

func TestHTTPMembersFilters(t *testing.T) {
	a, _, _ := startTrio(t)
	h := startTestHTTP(t, a, HTTPConfig{})

	cases := []struct {
		name  string
		query string
		want  string
	}{
		{"all", "", "node-a,node-b,node-c"},
		{"status", "?status=alive", "node-a,node-b,node-c"},
		{"status anchored", "?status=aliv", ""},
		{"status regexp", "?status=left|failed", ""},
		{"name", "?name=node-b", "node-b"},
		{"name anchored", "?name=node", ""},
		{"name regexp", "?name=node-[ac]", "node-a,node-c"},
		{"tag", "?tag=role=web", "node-a,node-c"},
		{"tag anchored", "?tag=role=we", ""},
		{"two tags", "?tag=role=web&tag=dc=west", "node-c"},
		{"missing tag matches empty", "?tag=zone=", "node-a,node-b,node-c"},
		{"tag value with equals", "?tag=" + url.QueryEscape("role=db|x=y"), "node-b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.expect(t, http.StatusOK, "GET", "/v1/members"+tc.query, "")
			if got := memberNames(t, r); got != tc.want {
				t.Fatalf("members%s = %q, want %q", tc.query, got, tc.want)
			}
		})
	}

	// The shape is that of `serf members -format=json`.
	var reply struct {
		Members []map[string]json.RawMessage `json:"members"`
	}
	h.expect(t, http.StatusOK, "GET", "/v1/members?name=node-a", "").decode(t, &reply)
	m := reply.Members[0]
	for _, key := range []string{"name", "addr", "port", "tags", "status", "protocol"} {
		if _, ok := m[key]; !ok {
			t.Errorf("member lacks %q: %v", key, m)
		}
	}
	if string(m["addr"]) != fmt.Sprintf("%q", a.gossipAddr) {
		t.Errorf("addr = %s, want %q", m["addr"], a.gossipAddr)
	}
}

func TestHTTPInfo(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "info-a", tags: map[string]string{"role": "web"},
		eventHandlers: []string{"user:deploy=deploy.sh"}})
	h := startTestHTTP(t, n, HTTPConfig{})
	var info map[string]map[string]string
	h.expect(t, http.StatusOK, "GET", "/v1/info", "").decode(t, &info)
	if info["agent"]["name"] != "info-a" || info["tags"]["role"] != "web" {
		t.Errorf("info = %v", info)
	}
	if info["event_handlers"]["user:deploy"] != "deploy.sh" {
		t.Errorf("event_handlers = %v", info["event_handlers"])
	}
	for _, section := range []string{"runtime", "serf"} {
		if len(info[section]) == 0 {
			t.Errorf("section %s empty", section)
		}
	}
	if info["serf"]["coordinate_resets"] != "0" {
		t.Errorf("serf section = %v", info["serf"])
	}
}

func TestHTTPTags(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "tags-a", tags: map[string]string{"role": "web", "dc": "east"}})
	h := startTestHTTP(t, n, HTTPConfig{})

	var reply httpTagsReply
	h.expect(t, http.StatusOK, "PUT", "/v1/tags", `{"tags":{"zone":"z1","dc":"kept"},"delete":["role","dc"]}`).decode(t, &reply)
	// A tag both set and deleted ends up set.
	if want := map[string]string{"zone": "z1", "dc": "kept"}; fmt.Sprint(reply.Tags) != fmt.Sprint(want) {
		t.Fatalf("tags = %v, want %v", reply.Tags, want)
	}
	reply = httpTagsReply{}
	h.expect(t, http.StatusOK, "DELETE", "/v1/tags/zone", "").decode(t, &reply)
	if fmt.Sprint(reply.Tags) != fmt.Sprint(map[string]string{"dc": "kept"}) {
		t.Fatalf("after delete tags = %v", reply.Tags)
	}
	if got := n.agent.Serf().LocalMember().Tags; fmt.Sprint(got) != fmt.Sprint(reply.Tags) {
		t.Errorf("gossiped tags %v, reply %v", got, reply.Tags)
	}
	if got := memberNames(t, h.expect(t, http.StatusOK, "GET", "/v1/members?tag=dc=kept", "")); got != "tags-a" {
		t.Errorf("members by new tag = %q", got)
	}

	bad := []struct {
		name, body, want string
	}{
		{"empty body", "", "request body is empty"},
		{"nothing", `{}`, "nothing to change"},
		{"wrong type", `{"tags":{"a":1}}`, `must be a string`},
		{"unknown field", `{"tag":{"a":"b"}}`, `unknown field "tag"`},
		{"not an object", `[1]`, "must be a JSON object"},
		{"empty tag name", `{"tags":{"":"x"}}`, "must not be empty"},
		{"too large for gossip", `{"tags":{"big":"` + strings.Repeat("x", 600) + `"}}`, "exceeds limit"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := h.expect(t, http.StatusBadRequest, "PUT", "/v1/tags", tc.body)
			if !strings.Contains(r.errorText(), tc.want) {
				t.Fatalf("error %q lacks %q", r.errorText(), tc.want)
			}
		})
	}
}

func TestHTTPUserEvent(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "ev-a"})
	b := startTestNode(t, testAgentOptions{name: "ev-b"})
	joinAll(t, a, b)
	seen := newUserEvents()
	b.agent.RegisterEventHandler(seen)
	h := startTestHTTP(t, a, HTTPConfig{})

	h.expect(t, http.StatusOK, "POST", "/v1/event", `{"name":"deploy","payload":"v42","coalesce":false}`)
	ue := seen.wait(t, "deploy")
	if string(ue.Payload) != "v42" || ue.Coalesce {
		t.Errorf("event = %+v", ue)
	}
	// coalesce defaults to true, as for `serf event`.
	h.expect(t, http.StatusOK, "POST", "/v1/event", `{"name":"restart"}`)
	if ue := seen.wait(t, "restart"); !ue.Coalesce {
		t.Errorf("default coalesce = false")
	}

	bad := []struct {
		name, body, want string
		status           int
	}{
		{"no name", `{"payload":"x"}`, `"name" is required`, 400},
		{"over the size limit", jsonf(`{"name":"big","payload":%q}`, strings.Repeat("x", 1000)), "exceeds", 400},
		{"body too large", jsonf(`{"name":"big","payload":%q}`, strings.Repeat("x", 70<<10)), "exceeds 65536 bytes", 413},
		{"trailing data", `{"name":"a"} {"name":"b"}`, "data after the JSON object", 400},
		{"truncated", `{"name":"a"`, "truncated", 400},
		{"syntax", `{"name":}`, "not valid JSON", 400},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := h.expect(t, tc.status, "POST", "/v1/event", tc.body)
			if !strings.Contains(r.errorText(), tc.want) {
				t.Fatalf("error %q lacks %q", r.errorText(), tc.want)
			}
		})
	}
}

// queryLines parses a query stream.
func queryLines(t *testing.T, body []byte) []httpQueryRecord {
	t.Helper()
	var out []httpQueryRecord
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		var rec httpQueryRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func TestHTTPQuery(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "q-a", pong: true, tags: map[string]string{"role": "web"}})
	b := startTestNode(t, testAgentOptions{name: "q-b", pong: true, tags: map[string]string{"role": "db"}})
	c := startTestNode(t, testAgentOptions{name: "q-c", pong: true, tags: map[string]string{"role": "web"}})
	joinAll(t, a, b, c)
	h := startTestHTTP(t, a, HTTPConfig{})

	r := h.expect(t, http.StatusOK, "POST", "/v1/query", `{"name":"ping","payload":"hi","ack":true,"timeout":"1s"}`)
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	recs := queryLines(t, r.body)
	acks, responses := map[string]bool{}, map[string]string{}
	for _, rec := range recs[:len(recs)-1] {
		switch rec.Type {
		case "ack":
			acks[rec.From] = true
		case "response":
			responses[rec.From] = rec.Payload
		default:
			t.Errorf("unexpected record %+v", rec)
		}
	}
	last := recs[len(recs)-1]
	if last.Type != "done" || *last.Acks != 3 || *last.Responses != 3 {
		t.Errorf("summary %+v (acks %v, responses %v)", last, acks, responses)
	}
	if len(acks) != 3 || responses["q-b"] != "pong from q-b" {
		t.Errorf("acks %v responses %v", acks, responses)
	}

	// Filters: by tag (a regexp, as for `serf query -tag`) and by node.
	recs = queryLines(t, h.expect(t, http.StatusOK, "POST", "/v1/query", `{"name":"ping","tags":{"role":"w.b"},"timeout":"1s"}`).body)
	if last := recs[len(recs)-1]; *last.Responses != 2 {
		t.Errorf("tag-filtered query: %+v", recs)
	}
	recs = queryLines(t, h.expect(t, http.StatusOK, "POST", "/v1/query", `{"name":"ping","nodes":["q-c"],"timeout":"1s"}`).body)
	if len(recs) != 2 || recs[0].From != "q-c" {
		t.Errorf("node-filtered query: %+v", recs)
	}

	bad := []struct {
		name, body, want string
	}{
		{"no name", `{"payload":"x"}`, `"name" is required`},
		{"internal name", `{"name":"_serf_ping","payload":"x"}`, "Queries cannot contain the '_serf_' prefix"},
		{"bad timeout", `{"name":"x","timeout":"soon"}`, `"timeout"`},
		{"negative timeout", `{"name":"x","timeout":"-1s"}`, "negative"},
		{"relay factor too big", `{"name":"x","relay_factor":300}`, `"relay_factor" must be a number`},
		{"bad tag regexp", `{"name":"x","tags":{"role":"("}}`, "invalid tag filter"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := h.expect(t, http.StatusBadRequest, "POST", "/v1/query", tc.body)
			if !strings.Contains(r.errorText(), tc.want) {
				t.Fatalf("error %q lacks %q", r.errorText(), tc.want)
			}
		})
	}
}

func TestHTTPJoinForceLeaveLeave(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "j-a"})
	b := startTestNode(t, testAgentOptions{name: "j-b"})
	c := startTestNode(t, testAgentOptions{name: "j-c"})
	ha := startTestHTTP(t, a, HTTPConfig{})
	hc := startTestHTTP(t, c, HTTPConfig{})

	var join httpJoinReply
	ha.expect(t, http.StatusOK, "POST", "/v1/join", jsonf(`{"addrs":[%q,%q]}`, b.gossipAddr, c.gossipAddr)).decode(t, &join)
	if join.Num != 2 {
		t.Fatalf("joined %d, want 2", join.Num)
	}
	waitAlive(t, 3, a, b, c)

	ports, err := testutil.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	r := ha.expect(t, http.StatusBadRequest, "POST", "/v1/join", jsonf(`{"addrs":["127.0.0.1:%d"]}`, ports[0]))
	if r.errorText() == "" || !strings.Contains(string(r.body), `"num": 0`) {
		t.Errorf("failed join reply %s", r.body)
	}
	ha.expect(t, http.StatusBadRequest, "POST", "/v1/join", `{"addrs":[]}`)
	ha.expect(t, http.StatusBadRequest, "POST", "/v1/force-leave/j-b?prune=maybe", "")

	// b dies without leaving; a sees it failed, then force-leaves it.
	if err := b.agent.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a, "j-b", serf.StatusFailed)
	ha.expect(t, http.StatusOK, "POST", "/v1/force-leave/j-b", "")
	waitStatus(t, a, "j-b", serf.StatusLeft)

	// c leaves through its own API and shuts down.
	hc.expect(t, http.StatusOK, "POST", "/v1/leave", "")
	select {
	case <-c.agent.ShutdownCh():
	case <-time.After(httpTestTimeout):
		t.Fatal("agent did not shut down after leave")
	}
	waitStatus(t, a, "j-c", serf.StatusLeft)

	// Prune erases the left member.
	ha.expect(t, http.StatusOK, "POST", "/v1/force-leave/j-c?prune=true", "")
	testutil.WaitFor(t, httpTestTimeout, func() error {
		if got := memberNames(t, ha.expect(t, http.StatusOK, "GET", "/v1/members?name=j-c", "")); got != "" {
			return fmt.Errorf("j-c still listed")
		}
		return nil
	})
}

// waitStatus waits until n sees member with status.
func waitStatus(t *testing.T, n *testNode, member string, status serf.MemberStatus) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, func() error {
		for _, m := range n.agent.Serf().Members() {
			if m.Name == member && m.Status == status {
				return nil
			}
		}
		return fmt.Errorf("%s does not see %s %v", n.name, member, status)
	})
}

func TestHTTPKeys(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	for i := range k1 {
		k1[i], k2[i] = byte(i), byte(100+i)
	}
	ring := [][]byte{k1}
	a := startTestNode(t, testAgentOptions{name: "k-a", keyring: ring})
	b := startTestNode(t, testAgentOptions{name: "k-b", keyring: ring})
	joinAll(t, a, b)
	h := startTestHTTP(t, a, HTTPConfig{})
	key1, key2 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k2)

	var list httpKeyReply
	h.expect(t, http.StatusOK, "GET", "/v1/keys", "").decode(t, &list)
	if list.NumNodes != 2 || list.NumResp != 2 || list.Keys[key1] != 2 {
		t.Fatalf("list = %+v", list)
	}
	h.expect(t, http.StatusOK, "POST", "/v1/keys/install", jsonf(`{"key":%q}`, key2))
	h.expect(t, http.StatusOK, "POST", "/v1/keys/use", jsonf(`{"key":%q}`, key2))
	// The primary key cannot be removed: the members say why.
	r := h.expect(t, http.StatusConflict, "POST", "/v1/keys/remove", jsonf(`{"key":%q}`, key2))
	var failed httpKeyReply
	r.decode(t, &failed)
	if failed.NumErr != 2 || failed.Error == "" || len(failed.Messages) != 2 {
		t.Errorf("remove primary = %s", r.body)
	}
	h.expect(t, http.StatusOK, "POST", "/v1/keys/remove", jsonf(`{"key":%q}`, key1))
	list = httpKeyReply{}
	h.expect(t, http.StatusOK, "GET", "/v1/keys", "").decode(t, &list)
	if len(list.Keys) != 1 || list.Keys[key2] != 2 {
		t.Errorf("keys after rotation = %v", list.Keys)
	}

	r = h.expect(t, http.StatusBadRequest, "POST", "/v1/keys/install", `{"key":"not base64!"}`)
	if !strings.Contains(r.errorText(), "illegal base64") {
		t.Errorf("bad key error %q", r.errorText())
	}
	h.expect(t, http.StatusBadRequest, "POST", "/v1/keys/install", `{}`)
	h.expect(t, http.StatusNotFound, "POST", "/v1/keys/rotate", jsonf(`{"key":%q}`, key1))
}

func TestHTTPCoordinatesAndRTT(t *testing.T) {
	a := startTestNode(t, testAgentOptions{name: "c-a"})
	b := startTestNode(t, testAgentOptions{name: "c-b"})
	joinAll(t, a, b)
	h := startTestHTTP(t, a, HTTPConfig{})

	// Coordinates arrive with the probes.
	testutil.WaitFor(t, 30*time.Second, func() error {
		if r := h.do(t, "GET", "/v1/coordinate/c-b", ""); r.status != http.StatusOK {
			return fmt.Errorf("coordinate of c-b: %d %s", r.status, r.body)
		}
		return nil
	})
	var nc httpNodeCoordinate
	h.expect(t, http.StatusOK, "GET", "/v1/coordinate/c-b", "").decode(t, &nc)
	if nc.Node != "c-b" || len(nc.Coord.Vec) != 8 {
		t.Errorf("coordinate = %+v", nc)
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		if r := h.do(t, "GET", "/v1/rtt?a=c-b", ""); r.status != http.StatusOK {
			return fmt.Errorf("rtt: %d %s", r.status, r.body)
		}
		return nil
	})
	var rtt httpRTTReply
	h.expect(t, http.StatusOK, "GET", "/v1/rtt?a=c-b", "").decode(t, &rtt)
	if rtt.A != "c-b" || rtt.B != "c-a" || rtt.MS <= 0 || rtt.RTT == "" {
		t.Errorf("rtt = %+v", rtt)
	}
	var all httpCoordinatesReply
	h.expect(t, http.StatusOK, "GET", "/v1/coordinates", "").decode(t, &all)
	if all.Self != "c-a" || len(all.Coordinates) != 2 {
		t.Errorf("coordinates = %+v", all)
	}

	h.expect(t, http.StatusNotFound, "GET", "/v1/coordinate/nobody", "")
	h.expect(t, http.StatusNotFound, "GET", "/v1/rtt?a=c-b&b=nobody", "")
	r := h.expect(t, http.StatusBadRequest, "GET", "/v1/rtt", "")
	if !strings.Contains(r.errorText(), `"a" is required`) {
		t.Errorf("error %q", r.errorText())
	}
}

func TestHTTPHealth(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "h-a"})
	var ready atomic.Bool
	h := startTestHTTP(t, n, HTTPConfig{Ready: ready.Load})
	r := h.expect(t, http.StatusServiceUnavailable, "GET", "/v1/health", "")
	if !strings.Contains(r.errorText(), "not joined") {
		t.Errorf("starting health %s", r.body)
	}
	ready.Store(true)
	var health httpHealthReply
	h.expect(t, http.StatusOK, "GET", "/v1/health", "").decode(t, &health)
	if health.Status != "ok" || health.State != "alive" || !health.Ready {
		t.Errorf("health = %+v", health)
	}
	if err := n.agent.Leave(); err != nil {
		t.Fatal(err)
	}
	r = h.expect(t, http.StatusServiceUnavailable, "GET", "/v1/health", "")
	if !strings.Contains(r.errorText(), "left") {
		t.Errorf("health after leave %s", r.body)
	}
	// Cluster changes are refused once the agent has left.
	h.expect(t, http.StatusServiceUnavailable, "POST", "/v1/event", `{"name":"late"}`)
}

func TestHTTPAuth(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "auth-a"})
	h := startTestHTTP(t, n, HTTPConfig{AuthToken: "s3cret", MetricsHandler: http.NotFoundHandler()})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("any:s3cret"))
	basicBad := "Basic " + base64.StdEncoding.EncodeToString([]byte("any:nope"))

	cases := []struct {
		name, method, path, auth string
		status                   int
		challenge                string
	}{
		{"no token", "GET", "/v1/members", "", 401, "Bearer"},
		{"wrong token", "GET", "/v1/members", "Bearer nope", 401, "Bearer"},
		{"token prefix", "GET", "/v1/members", "Bearer s3cre", 401, "Bearer"},
		{"no scheme", "GET", "/v1/members", "s3cret", 401, "Bearer"},
		{"bearer", "GET", "/v1/members", "Bearer s3cret", 200, ""},
		{"basic", "GET", "/v1/members", basic, 200, ""},
		{"bad basic", "GET", "/v1/members", basicBad, 401, "Bearer"},
		{"garbled basic", "GET", "/v1/members", "Basic ###", 401, "Bearer"},
		{"write without token", "POST", "/v1/event", "", 401, "Bearer"},
		{"page asks the browser", "GET", "/", "", 401, "Basic"},
		{"asset asks the browser", "GET", "/ui/app.js", "", 401, "Basic"},
		{"page with basic", "GET", "/", basic, 200, ""},
		{"metrics too", "GET", "/metrics", "", 401, "Bearer"},
		{"unknown path too", "GET", "/v1/nope", "", 401, "Bearer"},
		{"stream too", "GET", "/v1/stream/events", "", 401, "Bearer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = append(hdr, "Authorization: "+tc.auth)
			}
			r := h.expect(t, tc.status, tc.method, tc.path, "", hdr...)
			if tc.status == 401 {
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), tc.challenge) {
					t.Errorf("challenge %q, want %s", r.header.Get("WWW-Authenticate"), tc.challenge)
				}
				if r.errorText() == "" {
					t.Errorf("no JSON error: %s", r.body)
				}
			}
		})
	}
	h.openSSE(t, "/v1/stream/events", "Authorization: Bearer s3cret")
}

func TestHTTPBadRequests(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "bad-a"})
	h := startTestHTTP(t, n, HTTPConfig{})
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		want                     string
	}{
		{"unknown path", "GET", "/v1/nothing", "", nil, 404, "no such endpoint"},
		{"wrong method", "DELETE", "/v1/members", "", nil, 405, "use GET"},
		{"wrong method on tag", "PUT", "/v1/tags/x", "", nil, 405, "use DELETE"},
		{"no implicit head", "HEAD", "/v1/stream/events", "", nil, 405, ""},
		{"unknown parameter", "GET", "/v1/members?stauts=alive", "", nil, 400, `unknown query parameter "stauts"`},
		{"parameter on info", "GET", "/v1/info?x=1", "", nil, 400, "takes none"},
		{"bad regexp", "GET", "/v1/members?name=(", "", nil, 400, "Failed to compile regex"},
		{"bad tag filter", "GET", "/v1/members?tag=role", "", nil, 400, "Invalid tag: 'role'"},
		{"bad event filter", "GET", "/v1/stream/events?type=member-explode", "", nil, 400, "Invalid event filter"},
		{"bad log level", "GET", "/v1/stream/logs?level=loud", "", nil, 400, "Unknown log level: LOUD"},
		{"null body", "POST", "/v1/event", "null", nil, 400, `"name" is required`},
		{"string body", "POST", "/v1/event", `"deploy"`, nil, 400, "must be a JSON object"},
		{"join addrs wrong type", "POST", "/v1/join", `{"addrs":"127.0.0.1"}`, nil, 400, `"addrs" must be an array`},
		{"missing asset", "GET", "/ui/nothing.js", "", nil, 404, "no such file"},
		{"asset directory", "GET", "/ui/", "", nil, 404, "no such file"},
		{"cross-site write", "POST", "/v1/event", `{"name":"x"}`, []string{"Sec-Fetch-Site: cross-site"}, 403, "cross-origin"},
		{"foreign origin write", "POST", "/v1/leave", "", []string{"Origin: http://evil.example"}, 403, "cross-origin"},
		{"rebinding host", "GET", "/v1/members", "", []string{"Host: evil.example:80"}, 403, "not allowed on a loopback listener"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.expect(t, tc.status, tc.method, tc.path, tc.body, tc.headers...)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if !strings.Contains(r.errorText(), tc.want) {
				t.Fatalf("error %q lacks %q", r.errorText(), tc.want)
			}
		})
	}
	// The agent is unharmed: it is still alive and serving.
	h.expect(t, http.StatusOK, "GET", "/v1/health", "")
	h.expect(t, http.StatusOK, "GET", "/v1/members", "", "Host: localhost")
}

func TestHTTPPageAndMetrics(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "page-a"})
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("serf_test_metric 1\n"))
	})
	h := startTestHTTP(t, n, HTTPConfig{MetricsHandler: metrics})

	r := h.expect(t, http.StatusOK, "GET", "/", "")
	if !strings.Contains(string(r.body), `<script type="module" src="/ui/app.js">`) {
		t.Errorf("page lacks its module: %.200s", r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, asset := range []struct{ path, ctype string }{
		{"/", "text/html"},
		{"/ui/app.js", "text/javascript"},
		{"/ui/api.js", "text/javascript"},
		{"/ui/rttmap.js", "text/javascript"},
		{"/ui/style.css", "text/css"},
	} {
		r := h.expect(t, http.StatusOK, "GET", asset.path, "")
		if !strings.HasPrefix(r.header.Get("Content-Type"), asset.ctype) {
			t.Errorf("%s: content type %q", asset.path, r.header.Get("Content-Type"))
		}
		// No external assets: the page works offline.
		body := strings.ReplaceAll(string(r.body), "http://www.w3.org/2000/svg", "")
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "//cdn") {
			t.Errorf("%s refers to an external URL", asset.path)
		}
	}
	if r := h.expect(t, http.StatusOK, "GET", "/metrics", ""); string(r.body) != "serf_test_metric 1\n" {
		t.Errorf("metrics body %q", r.body)
	}

	// Without a metrics handler there is no /metrics.
	h2 := startTestHTTP(t, n, HTTPConfig{})
	h2.expect(t, http.StatusNotFound, "GET", "/metrics", "")
}
