package agent

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHTTPDecodeJSON feeds arbitrary bodies to the decoder of every
// request type: it never panics, and a refusal is always a 4xx that says
// something.
func FuzzHTTPDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"name":"deploy","payload":"v1","coalesce":false}`,
		`{"tags":{"a":"b"},"delete":["c"]}`, `{"addrs":["127.0.0.1:7946"],"replay":true}`,
		`{"name":"q","nodes":["a"],"tags":{"r":"."},"timeout":"1s","ack":true,"relay_factor":2}`,
		`{"key":"AAAA"}`, `{"name":1}`, `{"name":"a"} x`, `{"tags":{"a":null}}`, "{\"name\":\"\xff\"}",
	} {
		f.Add(seed)
	}
	targets := []func() any{
		func() any { return new(httpEventRequest) },
		func() any { return new(httpQueryRequest) },
		func() any { return new(httpTagsRequest) },
		func() any { return new(httpJoinRequest) },
		func() any { return new(httpKeyRequest) },
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, target := range targets {
			r := httptest.NewRequest(http.MethodPost, "/v1/x", strings.NewReader(body))
			err := decodeJSON(httptest.NewRecorder(), r, 1024, target(), true)
			if err == nil {
				continue
			}
			var he *httpError
			if !errors.As(err, &he) || he.status < 400 || he.status >= 500 || he.msg == "" {
				t.Fatalf("body %q: error %v is not a 4xx with a message", body, err)
			}
		}
	})
}

// FuzzHTTPRequestToken: any Authorization header parses without a panic,
// and only the exact token is accepted.
func FuzzHTTPRequestToken(f *testing.F) {
	for _, seed := range []string{"", "Bearer tok", "Basic dTp0b2s=", "Basic !!", "bearer  tok ", "tok"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/v1/members", nil)
		r.Header.Set("Authorization", header)
		got, ok := requestToken(r)
		if !ok && got != "" {
			t.Fatalf("header %q: no token but %q", header, got)
		}
	})
}
