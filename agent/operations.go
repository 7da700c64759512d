package agent

import (
	"encoding/base64"
	"maps"
	"runtime"
	"strconv"

	"github.com/serfclone/serf/serf"
)

// This file holds the pieces of the agent's operations that both front
// ends, the RPC server and the HTTP API, need word for word, so the two
// can never drift apart.

// agentStats builds the sections of `serf info`: agent, runtime, serf,
// tags and event_handlers (the latter fixed by the caller at startup).
func agentStats(a *Agent, eventHandlers map[string]string) map[string]map[string]string {
	s := a.Serf()
	serfStats := s.Stats()
	if _, ok := serfStats["coordinate_resets"]; !ok {
		// The agent always reports it, even before the first reset.
		serfStats["coordinate_resets"] = "0"
	}
	tags := s.LocalTags()
	if tags == nil {
		tags = map[string]string{}
	}
	return map[string]map[string]string{
		"agent": {"name": s.LocalMember().Name},
		"runtime": {
			"os":         runtime.GOOS,
			"arch":       runtime.GOARCH,
			"version":    runtime.Version(),
			"max_procs":  strconv.Itoa(runtime.GOMAXPROCS(0)),
			"goroutines": strconv.Itoa(runtime.NumGoroutine()),
			"cpu_count":  strconv.Itoa(runtime.NumCPU()),
		},
		"serf":           serfStats,
		"tags":           tags,
		"event_handlers": maps.Clone(eventHandlers),
	}
}

// changeKey runs a key install, use or remove. Serf reports a key that is
// not valid base64 with the decoder's own message and no tally (nil).
func changeKey(op func(string) (*serf.KeyResponse, error), key string) (*serf.KeyResponse, error) {
	resp, err := op(key)
	if err != nil {
		if _, decErr := base64.StdEncoding.DecodeString(key); decErr != nil {
			return nil, decErr
		}
	}
	return resp, err
}
