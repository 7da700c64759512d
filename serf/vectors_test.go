package serf

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// The gossip vectors are captures from a real Serf 0.10 cluster. They live
// next to the repository, not in it, so every test that reads them skips
// when they are absent.
const gossipVectorsRel = "../testdata/vectors/gossip"

// findGossipVectorsDir returns the vector directory relative to the package
// directory (the working directory of `go test`).
func findGossipVectorsDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(wd, filepath.FromSlash(gossipVectorsRel))
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// gossipVectorsDir is findGossipVectorsDir for tests: it skips when the
// vectors are not there, so a bare clone of the repository still passes.
func gossipVectorsDir(tb testing.TB) string {
	tb.Helper()
	dir, err := findGossipVectorsDir()
	if err != nil {
		tb.Fatalf("gossip vectors not available (expected at %s relative to the package): %v", gossipVectorsRel, err)
	}
	return dir
}

// gossipVectorFiles lists every vector file and how many Serf-level items of
// each kind the walker must find in it. A file that is on disk but not here
// fails the test, so new vectors cannot go unchecked.
var gossipVectorFiles = []struct {
	file    string
	serf    int // distinct Serf messages (serf_payload_hex), nested ones included
	meta    int // distinct node metas (meta_hex and meta variants)
	streams int // plaintext push/pull streams split into header, nodes and user state
}{
	{"memberlist-ack-with-coordinate.json", 0, 0, 0},
	{"memberlist-alive-with-meta.json", 0, 2, 0},
	{"memberlist-compound.json", 1, 1, 0},
	{"memberlist-compress-udp.json", 0, 0, 0},
	{"memberlist-crc.json", 1, 0, 0},
	{"memberlist-dead-left.json", 0, 0, 0},
	{"memberlist-dead.json", 0, 0, 0},
	{"memberlist-indirect-ping.json", 0, 0, 0},
	{"memberlist-nack.json", 0, 0, 0},
	{"memberlist-ping.json", 0, 0, 0},
	{"memberlist-suspect.json", 0, 0, 0},
	{"node-meta-tags.json", 0, 1, 0},
	{"node-meta-variants.json", 0, 1, 0},
	{"ping-payload-coordinate.json", 0, 0, 0},
	{"serf-join.json", 1, 0, 0},
	{"serf-leave-force.json", 1, 0, 0},
	{"serf-leave-graceful.json", 1, 0, 0},
	{"serf-push-pull-join.json", 1, 1, 1},
	{"serf-push-pull-periodic.json", 1, 4, 1},
	{"serf-query-ack.json", 1, 0, 0},
	{"serf-query-internal-conflict.json", 2, 0, 0},
	{"serf-query-node-filter-no-ack.json", 1, 0, 0},
	{"serf-query-relay-factor.json", 1, 0, 0},
	{"serf-query-response-ack.json", 1, 0, 0},
	{"serf-query-response-conflict.json", 1, 0, 0},
	{"serf-query-response.json", 1, 0, 0},
	{"serf-query-tag-filter.json", 1, 0, 0},
	{"serf-relay.json", 2, 0, 0},
	{"serf-user-event-coalesce.json", 1, 0, 0},
	{"serf-user-event-no-coalesce.json", 1, 0, 0},
	{"summary.json", 0, 0, 0},

	{"uncompressed/memberlist-ack-with-coordinate.json", 0, 0, 0},
	{"uncompressed/memberlist-alive-with-meta.json", 0, 2, 0},
	{"uncompressed/memberlist-compound.json", 1, 1, 0},
	{"uncompressed/memberlist-crc.json", 1, 0, 0},
	{"uncompressed/memberlist-dead-left.json", 0, 0, 0},
	{"uncompressed/memberlist-dead.json", 0, 0, 0},
	{"uncompressed/memberlist-indirect-ping.json", 0, 0, 0},
	{"uncompressed/memberlist-nack.json", 0, 0, 0},
	{"uncompressed/memberlist-ping.json", 0, 0, 0},
	{"uncompressed/memberlist-suspect.json", 0, 0, 0},
	{"uncompressed/serf-join.json", 1, 0, 0},
	{"uncompressed/serf-leave-force.json", 1, 0, 0},
	{"uncompressed/serf-leave-graceful.json", 1, 0, 0},
	{"uncompressed/serf-push-pull-join.json", 1, 1, 1},
	{"uncompressed/serf-push-pull-periodic.json", 1, 4, 1},
	{"uncompressed/serf-query-ack.json", 1, 0, 0},
	{"uncompressed/serf-query-internal-conflict.json", 2, 0, 0},
	{"uncompressed/serf-query-node-filter-no-ack.json", 1, 0, 0},
	{"uncompressed/serf-query-relay-factor.json", 1, 0, 0},
	{"uncompressed/serf-query-response-ack.json", 1, 0, 0},
	{"uncompressed/serf-query-response-conflict.json", 1, 0, 0},
	{"uncompressed/serf-query-response.json", 1, 0, 0},
	{"uncompressed/serf-query-tag-filter.json", 1, 0, 0},
	{"uncompressed/serf-relay.json", 2, 0, 0},
	{"uncompressed/serf-user-event-coalesce.json", 1, 0, 0},
	{"uncompressed/serf-user-event-no-coalesce.json", 1, 0, 0},
	{"uncompressed/summary.json", 0, 0, 0},

	{"encrypted/encrypted-push-pull.json", 1, 1, 1},
	{"encrypted/encrypted-udp-packet.json", 0, 0, 0},
	{"encrypted/serf-key-request-install.json", 1, 0, 0},
	{"encrypted/serf-key-request-list.json", 1, 0, 0},
	{"encrypted/serf-key-request-remove.json", 1, 0, 0},
	{"encrypted/serf-key-request-use.json", 1, 0, 0},
	{"encrypted/serf-key-response-list.json", 1, 0, 0},
	{"encrypted/serf-key-response-ok.json", 1, 0, 0},
	{"encrypted/summary.json", 0, 0, 0},
}

// vectorSerf is one Serf message found in a vector file: the bytes (type
// byte first) and the JSON object that describes them (body plus the
// decoded nested parts: filters_decoded, payload_decoded, relay_header...).
type vectorSerf struct {
	path string
	raw  []byte
	desc map[string]interface{}
}

// vectorMeta is one node meta and the tags it must decode to. tags is nil
// for the variants file, whose expected tags live in node-meta-tags.json.
type vectorMeta struct {
	path string
	raw  []byte
	tags interface{}
}

// vectorStream is a plaintext memberlist push/pull stream (`06` first) and
// the JSON layer that describes it.
type vectorStream struct {
	path  string
	raw   []byte
	layer map[string]interface{}
}

type vectorItems struct {
	serf    []vectorSerf
	metas   []vectorMeta
	streams []vectorStream
	seen    map[string]bool
}

// readVectorJSON decodes a vector file keeping integers exact.
func readVectorJSON(path string) (interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// collectVectorItems walks a vector document and gathers every Serf message,
// node meta and plaintext push/pull stream, each once (the same bytes often
// appear both at the top level and inside packet_layers).
func collectVectorItems(doc interface{}) (*vectorItems, error) {
	items := &vectorItems{seen: map[string]bool{}}
	return items, items.walk(doc, "")
}

func (it *vectorItems) once(kind, hexStr string) bool {
	key := kind + ":" + hexStr
	if it.seen[key] {
		return false
	}
	it.seen[key] = true
	return true
}

func (it *vectorItems) walk(node interface{}, path string) error {
	switch n := node.(type) {
	case []interface{}:
		for i, v := range n {
			if err := it.walk(v, path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	case map[string]interface{}:
		if h, ok := n["serf_payload_hex"].(string); ok && it.once("serf", h) {
			raw, err := hex.DecodeString(h)
			if err != nil {
				return fmt.Errorf("%s: serf_payload_hex: %w", path, err)
			}
			desc := n
			if d, ok := n["decoded"].(map[string]interface{}); ok {
				desc = d
			}
			it.serf = append(it.serf, vectorSerf{path: path, raw: raw, desc: desc})
		}
		if h, ok := n["meta_hex"].(string); ok && it.once("meta", h) {
			raw, err := hex.DecodeString(h)
			if err != nil {
				return fmt.Errorf("%s: meta_hex: %w", path, err)
			}
			// meta_decoded is the tags, or {magic, tags} in alive messages.
			want, ok := n["meta_decoded"]
			if !ok {
				want = n["tags"]
			}
			if m, ok := want.(map[string]interface{}); ok && m["magic"] != nil {
				if m["magic"].(json.Number).String() != strconv.Itoa(int(tagMagicByte)) || raw[0] != tagMagicByte {
					return fmt.Errorf("%s: magic %v, meta starts with %#x", path, m["magic"], raw[0])
				}
				want = m["tags"]
			}
			// The memberlist message carrying the meta has it as a []byte field.
			for _, parent := range []string{"body", "decoded"} {
				if p, ok := n[parent].(map[string]interface{}); ok && p["Meta"] != nil {
					b, err := vectorBytes(p["Meta"])
					if err != nil || !bytes.Equal(b, raw) {
						return fmt.Errorf("%s/%s/Meta is %x, meta_hex %x (%v)", path, parent, b, raw, err)
					}
				}
			}
			it.metas = append(it.metas, vectorMeta{path: path, raw: raw, tags: want})
		}
		for key, v := range n {
			list, ok := v.([]interface{})
			if !ok || !strings.HasSuffix(key, "_meta_hex_variants") {
				continue
			}
			for i, e := range list {
				h, _ := e.(string)
				raw, err := hex.DecodeString(h)
				if err != nil {
					return fmt.Errorf("%s/%s: %w", path, key, err)
				}
				if it.once("meta", h) {
					it.metas = append(it.metas, vectorMeta{path: fmt.Sprintf("%s/%s/%d", path, key, i), raw: raw})
				}
			}
		}
		// A plaintext push/pull stream sits next to the layer describing it:
		// stream_bytes_hex + message (no compression) or decompressed_hex +
		// inner (compression, possibly inside encryption).
		for _, pair := range [][2]string{{"stream_bytes_hex", "message"}, {"decompressed_hex", "inner"}} {
			h, ok := n[pair[0]].(string)
			layer, _ := n[pair[1]].(map[string]interface{})
			if !ok || layer == nil || layer["layer"] != "pushPull" || !strings.HasPrefix(h, "06") || !it.once("stream", h) {
				continue
			}
			raw, err := hex.DecodeString(h)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", path, pair[0], err)
			}
			it.streams = append(it.streams, vectorStream{path: path + "/" + pair[0], raw: raw, layer: layer})
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := it.walk(n[k], path+"/"+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// listGossipVectorFiles returns the .json files of the three gossip
// directories, relative to dir, with forward slashes.
func listGossipVectorFiles(dir string) ([]string, error) {
	var files []string
	for _, sub := range []string{".", "uncompressed", "encrypted"} {
		matches, err := filepath.Glob(filepath.Join(dir, sub, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			rel, err := filepath.Rel(dir, m)
			if err != nil {
				return nil, err
			}
			files = append(files, filepath.ToSlash(rel))
		}
	}
	sort.Strings(files)
	return files, nil
}

func TestGossipVectors(t *testing.T) {
	dir := gossipVectorsDir(t)
	onDisk, err := listGossipVectorFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, f := range gossipVectorFiles {
		listed[f.file] = true
	}
	for _, f := range onDisk {
		if !listed[f] {
			t.Errorf("vector file %s is not in gossipVectorFiles: add it with the counts of what it carries", f)
		}
	}

	// The variants file carries only bytes; its tags are node-a's.
	nodeATags := loadNodeATags(t, dir)

	for _, tc := range gossipVectorFiles {
		t.Run(tc.file, func(t *testing.T) {
			doc, err := readVectorJSON(filepath.Join(dir, filepath.FromSlash(tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			items, err := collectVectorItems(doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(items.serf) != tc.serf || len(items.metas) != tc.meta || len(items.streams) != tc.streams {
				t.Fatalf("found %d serf messages, %d metas, %d push/pull streams; want %d, %d, %d",
					len(items.serf), len(items.metas), len(items.streams), tc.serf, tc.meta, tc.streams)
			}
			for _, s := range items.serf {
				t.Run("serf"+s.path, func(t *testing.T) { checkSerfVector(t, s.raw, s.desc) })
			}
			for _, m := range items.metas {
				want := m.tags
				if want == nil {
					want = nodeATags
				}
				t.Run("meta"+m.path, func(t *testing.T) { checkMetaVector(t, m.raw, want) })
			}
			for _, s := range items.streams {
				t.Run("pushpull"+s.path, func(t *testing.T) { checkPushPullStreamVector(t, s.raw, s.layer) })
			}
		})
	}
}

func loadNodeATags(t *testing.T, dir string) interface{} {
	t.Helper()
	doc, err := readVectorJSON(filepath.Join(dir, "node-meta-tags.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := doc.(map[string]interface{})
	if m == nil || m["tags"] == nil {
		t.Fatal("node-meta-tags.json has no tags")
	}
	return m["tags"]
}

// checkSerfVector decodes one captured Serf message, compares it with the
// capture's decoded form, and re-encodes it.
func checkSerfVector(t *testing.T, raw []byte, desc map[string]interface{}) {
	t.Helper()
	if len(raw) == 0 {
		t.Fatal("empty serf payload")
	}
	if st, ok := desc["serf_type"].(json.Number); ok && st.String() != strconv.Itoa(int(raw[0])) {
		t.Fatalf("serf_type %s but first byte %d", st, raw[0])
	}
	body := desc["body"]
	switch typ := messageType(raw[0]); typ {
	case messageLeaveType:
		checkVectorMessage[messageLeave](t, raw, body)
	case messageJoinType:
		checkVectorMessage[messageJoin](t, raw, body)
	case messagePushPullType:
		checkVectorMessage[messagePushPull](t, raw, body)
	case messageUserEventType:
		checkVectorMessage[messageUserEvent](t, raw, body)
	case messageQueryType:
		q := checkVectorMessage[messageQuery](t, raw, body)
		checkVectorFilters(t, q.Filters, desc["filters_decoded"])
		if pd, ok := desc["payload_decoded"].(map[string]interface{}); ok {
			checkVectorInnerPayload(t, q.Payload, pd)
		}
	case messageQueryResponseType:
		r := checkVectorMessage[messageQueryResponse](t, raw, body)
		if pd, ok := desc["payload_decoded"].(map[string]interface{}); ok {
			checkVectorInnerPayload(t, r.Payload, pd)
		}
	case messageRelayType:
		checkVectorRelay(t, raw, desc)
	default:
		t.Fatalf("unexpected top-level serf type %s", typ)
	}
}

// checkVectorMessage decodes raw[1:] into a T, compares it with the JSON
// body, re-encodes it with the message's own type byte and compares bytes.
func checkVectorMessage[T any](t *testing.T, raw []byte, body interface{}) *T {
	t.Helper()
	got := new(T)
	if err := decodeMessage(raw[1:], got); err != nil {
		t.Fatalf("decode %T: %v", got, err)
	}
	want := new(T)
	if err := fillFromVector(body, reflect.ValueOf(want).Elem()); err != nil {
		t.Fatalf("vector body for %T: %v", want, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %T differs from the capture:\n got  %#v\n want %#v", got, got, want)
	}
	enc, err := encodeMessage(messageType(raw[0]), got)
	if err != nil {
		t.Fatalf("encode %T: %v", got, err)
	}
	assertSameWire(t, raw, enc, hasMultiKeyMap(reflect.ValueOf(got)))
	return got
}

// checkVectorFilters checks each encoded filter against filters_decoded and
// re-encodes it with encodeFilter.
func checkVectorFilters(t *testing.T, filters [][]byte, desc interface{}) {
	t.Helper()
	list, _ := desc.([]interface{})
	if len(list) != len(filters) {
		t.Fatalf("%d filters, capture decodes %d", len(filters), len(list))
	}
	for i, e := range list {
		fd := e.(map[string]interface{})
		raw := filters[i]
		if h := fd["filter_hex"]; h != nil && h != hex.EncodeToString(raw) {
			t.Errorf("filter %d: bytes %x, capture %s", i, raw, h)
		}
		if len(raw) == 0 {
			t.Fatalf("filter %d is empty", i)
		}
		var got, want interface{}
		switch filterType(raw[0]) {
		case filterNodeType:
			got, want = new([]string), new([]string)
		case filterTagType:
			got, want = new(filterTag), new(filterTag)
		default:
			t.Fatalf("filter %d: unknown type %d", i, raw[0])
		}
		if err := decodeMessage(raw[1:], got); err != nil {
			t.Fatalf("filter %d: %v", i, err)
		}
		if err := fillFromVector(fd["decoded"], reflect.ValueOf(want).Elem()); err != nil {
			t.Fatalf("filter %d vector: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("filter %d: got %#v, want %#v", i, got, want)
		}
		enc, err := encodeFilter(filterType(raw[0]), reflect.ValueOf(got).Elem().Interface())
		if err != nil {
			t.Fatal(err)
		}
		assertSameWire(t, raw, enc, false)
	}
}

// checkVectorInnerPayload checks a query or response payload that carries
// an internal message: 6 + Member (conflict), 7 + keyRequest, 8 +
// nodeKeyResponse.
func checkVectorInnerPayload(t *testing.T, payload []byte, pd map[string]interface{}) {
	t.Helper()
	if len(payload) == 0 {
		t.Fatal("inner payload is empty")
	}
	if typ := pd["type"].(json.Number).String(); typ != strconv.Itoa(int(payload[0])) {
		t.Fatalf("inner type %s but payload starts with %d", typ, payload[0])
	}
	switch messageType(payload[0]) {
	case messageConflictResponseType:
		if pd["body"] == nil {
			if !bytes.Equal(payload, []byte{6, 0xc0}) {
				t.Fatalf("unknown-node conflict response is %x, want 06c0", payload)
			}
			return
		}
		checkVectorMessage[Member](t, payload, pd["body"])
	case messageKeyRequestType:
		checkVectorMessage[keyRequest](t, payload, pd["body"])
	case messageKeyResponseType:
		checkVectorMessage[nodeKeyResponse](t, payload, pd["body"])
	default:
		t.Fatalf("unexpected inner payload type %d", payload[0])
	}
}

// checkVectorRelay splits a relay message into header and relayed message,
// checks both and rebuilds the whole message with encodeRelayMessage.
func checkVectorRelay(t *testing.T, raw []byte, desc map[string]interface{}) {
	t.Helper()
	h, rest, err := decodeRelayHeader(raw[1:])
	if err != nil {
		t.Fatal(err)
	}
	var want relayHeader
	if err := fillFromVector(desc["relay_header"], reflect.ValueOf(&want).Elem()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("relay header: got %#v, want %#v", h, want)
	}
	headerLen := len(raw) - 1 - len(rest)
	if got := hex.EncodeToString(raw[1 : 1+headerLen]); got != desc["relay_header_hex"] {
		t.Fatalf("relay header bytes %s, capture %s", got, desc["relay_header_hex"])
	}
	inner := desc["relayed_message"].(map[string]interface{})
	if got := hex.EncodeToString(rest); got != inner["serf_payload_hex"] {
		t.Fatalf("relay rest %s, capture %s", got, inner["serf_payload_hex"])
	}
	if messageType(rest[0]) != messageQueryResponseType {
		t.Fatalf("relayed type %d, want query response", rest[0])
	}
	resp := checkVectorMessage[messageQueryResponse](t, rest, inner["body"])
	enc, err := encodeRelayMessage(messageType(rest[0]), h.DestAddr, h.DestName, resp)
	if err != nil {
		t.Fatal(err)
	}
	assertSameWire(t, raw, enc, false)
}

// checkMetaVector decodes node meta into tags and re-encodes it as a
// protocol 5 node does.
func checkMetaVector(t *testing.T, raw []byte, want interface{}) {
	t.Helper()
	got, err := decodeTags(raw)
	if err != nil {
		t.Fatal(err)
	}
	var wantTags map[string]string
	if err := fillFromVector(want, reflect.ValueOf(&wantTags).Elem()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantTags) {
		t.Fatalf("tags %v, want %v", got, wantTags)
	}
	enc, err := encodeTags(got, 5)
	if err != nil {
		t.Fatal(err)
	}
	assertSameWire(t, raw, enc, len(got) > 1)
}

// vectorPushPullHeader and vectorPushNodeState are memberlist's push/pull
// header and node state, declared here only to find where Serf's user state
// starts in a captured stream.
type vectorPushPullHeader struct {
	Nodes        int
	UserStateLen int
	Join         bool
}

type vectorPushNodeState struct {
	Name string
	Meta []byte
}

// checkPushPullStreamVector splits a plaintext push/pull stream as memberlist
// does and checks that the node metas and the user state (Serf's push/pull
// message) are where the capture says they are.
func checkPushPullStreamVector(t *testing.T, raw []byte, layer map[string]interface{}) {
	t.Helper()
	dec := codec.NewDecoderBytes(raw[1:], gossipHandle)
	var hdr vectorPushPullHeader
	if err := dec.Decode(&hdr); err != nil {
		t.Fatalf("push/pull header: %v", err)
	}
	states, _ := layer["node_states"].([]interface{})
	if hdr.Nodes != len(states) {
		t.Fatalf("header says %d nodes, capture lists %d", hdr.Nodes, len(states))
	}
	for i := 0; i < hdr.Nodes; i++ {
		var ns vectorPushNodeState
		if err := dec.Decode(&ns); err != nil {
			t.Fatalf("node state %d: %v", i, err)
		}
		st := states[i].(map[string]interface{})
		if got := hex.EncodeToString(ns.Meta); got != st["meta_hex"] {
			t.Errorf("node %s meta %s, capture %s", ns.Name, got, st["meta_hex"])
		}
		if _, err := decodeTags(ns.Meta); err != nil {
			t.Errorf("node %s meta: %v", ns.Name, err)
		}
	}
	userState := raw[1+dec.NumBytesRead():]
	if len(userState) != hdr.UserStateLen {
		t.Fatalf("user state is %d bytes, header says %d", len(userState), hdr.UserStateLen)
	}
	if got := hex.EncodeToString(userState); got != layer["user_state_hex"] {
		t.Fatalf("user state differs from the capture's user_state_hex")
	}
	if messageType(userState[0]) != messagePushPullType {
		t.Fatalf("user state starts with %d, want push/pull", userState[0])
	}
	var pp messagePushPull
	if err := decodeMessage(userState[1:], &pp); err != nil {
		t.Fatal(err)
	}
	if len(pp.Events) != 512 {
		t.Errorf("events ring has %d slots, want 512", len(pp.Events))
	}
}

// fillFromVector stores the JSON form of a decoded msgpack value into v,
// following the conventions of the vectors README: struct fields by exact
// name (all of them, no more), []byte from a plain string or
// {"$str_raw_b64"}, null for nil.
func fillFromVector(j interface{}, v reflect.Value) error {
	if j == nil {
		v.Set(reflect.Zero(v.Type()))
		return nil
	}
	switch v.Kind() {
	case reflect.Ptr:
		p := reflect.New(v.Type().Elem())
		if err := fillFromVector(j, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		m, ok := j.(map[string]interface{})
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", v.Type(), j)
		}
		if len(m) != v.NumField() {
			return fmt.Errorf("%s has %d fields, vector object has %d keys", v.Type(), v.NumField(), len(m))
		}
		for k, fj := range m {
			f := v.FieldByName(k)
			if !f.IsValid() {
				return fmt.Errorf("%s has no field %q", v.Type(), k)
			}
			if err := fillFromVector(fj, f); err != nil {
				return fmt.Errorf("%s.%s: %w", v.Type(), k, err)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b, err := vectorBytes(j)
			if err != nil {
				return err
			}
			v.Set(reflect.ValueOf(b).Convert(v.Type()))
			return nil
		}
		list, ok := j.([]interface{})
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", v.Type(), j)
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := fillFromVector(e, s.Index(i)); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		v.Set(s)
	case reflect.Map:
		m, ok := j.(map[string]interface{})
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", v.Type(), j)
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := fillFromVector(e, ev); err != nil {
				return fmt.Errorf("[%q]: %w", k, err)
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(out)
	case reflect.String:
		s, ok := j.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", v.Type(), j)
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := j.(bool)
		if !ok {
			return fmt.Errorf("%s: want a bool, got %T", v.Type(), j)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := j.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want a number, got %T", v.Type(), j)
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return err
		}
		if v.OverflowInt(i) {
			return fmt.Errorf("%d overflows %s", i, v.Type())
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := j.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want a number, got %T", v.Type(), j)
		}
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return err
		}
		if v.OverflowUint(u) {
			return fmt.Errorf("%d overflows %s", u, v.Type())
		}
		v.SetUint(u)
	default:
		return fmt.Errorf("unsupported kind %s", v.Kind())
	}
	return nil
}

// vectorBytes reads a gossip []byte field: printable strings are plain JSON
// strings, other bytes are {"$str_raw_b64": ...}.
func vectorBytes(j interface{}) ([]byte, error) {
	switch x := j.(type) {
	case string:
		return []byte(x), nil
	case map[string]interface{}:
		for _, key := range []string{"$str_raw_b64", "$bin_b64"} {
			if s, ok := x[key].(string); ok {
				return base64.StdEncoding.DecodeString(s)
			}
		}
	}
	return nil, fmt.Errorf("want bytes, got %#v", j)
}

// hasMultiKeyMap reports whether v holds a Go map with more than one entry:
// such a map is encoded in Go's random iteration order, so only its
// decoded contents can be compared with a capture.
func hasMultiKeyMap(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Ptr, reflect.Interface:
		return !v.IsNil() && hasMultiKeyMap(v.Elem())
	case reflect.Map:
		if v.Len() > 1 {
			return true
		}
		iter := v.MapRange()
		for iter.Next() {
			if hasMultiKeyMap(iter.Value()) {
				return true
			}
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if hasMultiKeyMap(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		for i := 0; i < v.Len(); i++ {
			if hasMultiKeyMap(v.Index(i)) {
				return true
			}
		}
	}
	return false
}

// assertSameWire compares our encoding with captured bytes. They must be
// identical unless the value holds a Go map with several keys; then the
// bytes must be identical after sorting the entries of every msgpack map,
// which still checks every header, integer width and string form.
func assertSameWire(t *testing.T, want, got []byte, mapOrderMayDiffer bool) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	if !mapOrderMayDiffer {
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		t.Fatalf("re-encoded bytes differ at offset %d:\n got  %x\n want %x", i, got, want)
	}
	cw, err := canonicalMsgpackSeq(want)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	cg, err := canonicalMsgpackSeq(got)
	if err != nil {
		t.Fatalf("our encoding: %v", err)
	}
	if !bytes.Equal(cw, cg) {
		t.Fatalf("re-encoded bytes differ beyond map order:\n got  %x\n want %x", got, want)
	}
	t.Logf("same bytes up to Go map order (%d bytes)", len(got))
}

// canonicalMsgpackSeq rewrites a sequence of msgpack values (a Serf type
// byte is a positive fixint, the tags magic 0xff a negative one) with the
// entries of every map sorted by their encoded key. Headers are kept as
// they were, so integer and length forms still take part in comparisons.
func canonicalMsgpackSeq(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		c, n, err := canonicalMsgpack(b, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
		b = b[n:]
	}
	return out, nil
}

func canonicalMsgpack(b []byte, depth int) (canon []byte, n int, err error) {
	if depth > 100 {
		return nil, 0, fmt.Errorf("msgpack nested too deep")
	}
	hdr, count, isMap, err := msgpackHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if count < 0 { // scalar: hdr covers the whole value
		return b[:hdr], hdr, nil
	}
	out := append([]byte(nil), b[:hdr]...)
	pos := hdr
	if !isMap {
		for i := 0; i < count; i++ {
			c, m, err := canonicalMsgpack(b[pos:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, c...)
			pos += m
		}
		return out, pos, nil
	}
	entries := make([][2][]byte, count)
	for i := range entries {
		for k := 0; k < 2; k++ {
			c, m, err := canonicalMsgpack(b[pos:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			entries[i][k] = c
			pos += m
		}
	}
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i][0], entries[j][0]) < 0 })
	for _, e := range entries {
		out = append(out, e[0]...)
		out = append(out, e[1]...)
	}
	return out, pos, nil
}

// msgpackHeader parses the header of the value at b. For arrays and maps it
// returns the header length and the element (or pair) count; for every
// other value it returns the whole value's length and count -1.
func msgpackHeader(b []byte) (hdr, count int, isMap bool, err error) {
	if len(b) == 0 {
		return 0, 0, false, fmt.Errorf("msgpack: unexpected end")
	}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("msgpack: value of %d bytes, %d left", n, len(b))
		}
		return nil
	}
	be := func(off, size int) int {
		v := 0
		for _, c := range b[off : off+size] {
			v = v<<8 | int(c)
		}
		return v
	}
	sized := func(sizeLen, extra int) (int, int, bool, error) {
		if err := need(1 + sizeLen); err != nil {
			return 0, 0, false, err
		}
		total := 1 + sizeLen + extra + be(1, sizeLen)
		return total, -1, false, need(total)
	}
	container := func(sizeLen int, m bool) (int, int, bool, error) {
		if err := need(1 + sizeLen); err != nil {
			return 0, 0, false, err
		}
		return 1 + sizeLen, be(1, sizeLen), m, nil
	}
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return 1, -1, false, nil
	case c >= 0x80 && c <= 0x8f:
		return 1, int(c & 0x0f), true, nil
	case c >= 0x90 && c <= 0x9f:
		return 1, int(c & 0x0f), false, nil
	case c >= 0xa0 && c <= 0xbf:
		total := 1 + int(c&0x1f)
		return total, -1, false, need(total)
	}
	switch c {
	case 0xc4, 0xd9:
		return sized(1, 0)
	case 0xc5, 0xda:
		return sized(2, 0)
	case 0xc6, 0xdb:
		return sized(4, 0)
	case 0xc7:
		return sized(1, 1)
	case 0xc8:
		return sized(2, 1)
	case 0xc9:
		return sized(4, 1)
	case 0xca, 0xce, 0xd2:
		return 5, -1, false, need(5)
	case 0xcb, 0xcf, 0xd3:
		return 9, -1, false, need(9)
	case 0xcc, 0xd0:
		return 2, -1, false, need(2)
	case 0xcd, 0xd1:
		return 3, -1, false, need(3)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		total := 2 + 1<<(c-0xd4)
		return total, -1, false, need(total)
	case 0xdc:
		return container(2, false)
	case 0xdd:
		return container(4, false)
	case 0xde:
		return container(2, true)
	case 0xdf:
		return container(4, true)
	}
	return 0, 0, false, fmt.Errorf("msgpack: invalid byte %#x", c)
}

// TestVectorSpecByteExamples checks hand-built byte examples of each
// message kind, which need no vector files: we must produce exactly these bytes and read
// them back into the same values.
func TestVectorSpecByteExamples(t *testing.T) {
	relayAddr := net.UDPAddr{IP: net.IP{10, 0, 0, 1}, Port: 7946}
	tests := []struct {
		name   string
		hex    string
		encode func() ([]byte, error)
		// decode reads the bytes back; it returns the value encode started from
		// and the one decoded.
		decode func(t *testing.T, b []byte) (want, got interface{})
	}{
		{
			name:   "join intent",
			hex:    "01 82 a5 4c54696d65 07 a4 4e6f6465 a2 6e31",
			encode: func() ([]byte, error) { return encodeMessage(messageJoinType, &messageJoin{LTime: 7, Node: "n1"}) },
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				var got messageJoin
				codecMustDecode(t, b[1:], &got)
				return messageJoin{LTime: 7, Node: "n1"}, got
			},
		},
		{
			name: "leave intent with prune",
			hex:  "00 83 a5 4c54696d65 08 a4 4e6f6465 a2 6e31 a5 5072756e65 c3",
			encode: func() ([]byte, error) {
				return encodeMessage(messageLeaveType, &messageLeave{LTime: 8, Node: "n1", Prune: true})
			},
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				var got messageLeave
				codecMustDecode(t, b[1:], &got)
				return messageLeave{LTime: 8, Node: "n1", Prune: true}, got
			},
		},
		{
			name: "user event",
			hex:  "03 84 a2 4343 c3 a5 4c54696d65 03 a4 4e616d65 a3 646570 a7 5061796c6f6164 a2 7631",
			encode: func() ([]byte, error) {
				return encodeMessage(messageUserEventType, &messageUserEvent{LTime: 3, Name: "dep", Payload: []byte("v1"), CC: true})
			},
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				var got messageUserEvent
				codecMustDecode(t, b[1:], &got)
				return messageUserEvent{LTime: 3, Name: "dep", Payload: []byte("v1"), CC: true}, got
			},
		},
		{
			name: "query ack",
			hex:  "05 85 a5 466c616773 01 a4 46726f6d a2 6e32 a2 4944 2a a5 4c54696d65 05 a7 5061796c6f6164 c0",
			encode: func() ([]byte, error) {
				return encodeMessage(messageQueryResponseType, &messageQueryResponse{LTime: 5, ID: 42, From: "n2", Flags: queryFlagAck})
			},
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				var got messageQueryResponse
				codecMustDecode(t, b[1:], &got)
				return messageQueryResponse{LTime: 5, ID: 42, From: "n2", Flags: queryFlagAck}, got
			},
		},
		{
			name:   "tags as node meta",
			hex:    "ff 81 a4 726f6c65 a3 776562",
			encode: func() ([]byte, error) { return encodeTags(map[string]string{"role": "web"}, 5) },
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				got, err := decodeTags(b)
				if err != nil {
					t.Fatal(err)
				}
				return map[string]string{"role": "web"}, got
			},
		},
		{
			name:   "node filter",
			hex:    "00 92 a2 6e31 a2 6e32",
			encode: func() ([]byte, error) { return encodeFilter(filterNodeType, []string{"n1", "n2"}) },
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				var got []string
				codecMustDecode(t, b[1:], &got)
				return []string{"n1", "n2"}, got
			},
		},
		{
			name:   "tag filter",
			hex:    "01 82 a4 45787072 a5 5e77656224 a3 546167 a4 726f6c65",
			encode: func() ([]byte, error) { return encodeFilter(filterTagType, filterTag{Tag: "role", Expr: "^web$"}) },
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				var got filterTag
				codecMustDecode(t, b[1:], &got)
				return filterTag{Tag: "role", Expr: "^web$"}, got
			},
		},
		{
			// The relay header follows the 09 type byte; the relayed ack follows it.
			name: "relay header",
			hex: "09 82 a8 4465737441646472 83 a2 4950 a4 0a000001 a4 506f7274 d1 1f0a a4 5a6f6e65 a0 a8 446573744e616d65 a2 6e31" +
				"05 85 a5 466c616773 01 a4 46726f6d a2 6e32 a2 4944 2a a5 4c54696d65 05 a7 5061796c6f6164 c0",
			encode: func() ([]byte, error) {
				return encodeRelayMessage(messageQueryResponseType, relayAddr, "n1",
					&messageQueryResponse{LTime: 5, ID: 42, From: "n2", Flags: queryFlagAck})
			},
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				h, rest, err := decodeRelayHeader(b[1:])
				if err != nil {
					t.Fatal(err)
				}
				ack := codecHex(t, "05 85 a5 466c616773 01 a4 46726f6d a2 6e32 a2 4944 2a a5 4c54696d65 05 a7 5061796c6f6164 c0")
				if !bytes.Equal(rest, ack) {
					t.Fatalf("rest after the header is %x, want %x", rest, ack)
				}
				return relayHeader{DestAddr: relayAddr, DestName: "n1"}, h
			},
		},
		{
			name:   "conflict response for an unknown node",
			hex:    "06 c0",
			encode: func() ([]byte, error) { return encodeMessage(messageConflictResponseType, (*Member)(nil)) },
			decode: func(t *testing.T, b []byte) (interface{}, interface{}) {
				got := &Member{Name: "stale"}
				codecMustDecode(t, b[1:], &got)
				return (*Member)(nil), got
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := codecHex(t, tc.hex)
			got, err := tc.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n %x\nwant\n %x", got, want)
			}
			wantVal, gotVal := tc.decode(t, want)
			if !reflect.DeepEqual(gotVal, wantVal) {
				t.Fatalf("decoded %#v, want %#v", gotVal, wantVal)
			}
		})
	}
}

// TestVectorTimeoutForms checks the msgpack forms a query Timeout takes
// (an int of the size its value needs) against a full query, as captured queries carry them.
func TestVectorTimeoutForms(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		hex     string
	}{
		{2 * time.Second, "d2 77359400"},
		{3200 * time.Millisecond, "d3 00000000bebc2000"},
	} {
		enc, err := encodeMessage(messageQueryType, &messageQuery{Timeout: tc.timeout})
		if err != nil {
			t.Fatal(err)
		}
		want := append(codecHex(t, "a7 54696d656f7574"), codecHex(t, tc.hex)...)
		if !bytes.HasSuffix(enc, want) {
			t.Errorf("Timeout %s: encoding ends %x, want %x", tc.timeout, enc[len(enc)-len(want):], want)
		}
	}
}

func codecMustDecode(t *testing.T, b []byte, out interface{}) {
	t.Helper()
	if err := decodeMessage(b, out); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
}

// mustHex decodes hex that may contain spaces.
func codecHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
