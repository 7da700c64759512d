// Package clienttest runs a fake Serf agent on loopback that replays RPC
// conversations recorded from a real Serf 0.10 agent, so that RPC clients
// (this repository's client package and CLI, or third-party programs) can
// be tested byte for byte without a cluster.
//
// The recordings ship with the package (testdata/rpc, copied from the
// project's shared ground-truth vectors). Each one lists the msgpack
// objects both sides sent, split at object boundaries, and, for the ones
// made with the serf CLI, the CLI's stdout, stderr and exit code.
package clienttest

import (
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed testdata/rpc/*.json
var transcripts embed.FS

// Directions of a frame.
const (
	ClientToAgent = "client->agent"
	AgentToClient = "agent->client"
)

// Transcript is one recorded RPC conversation on a single connection.
type Transcript struct {
	Name     string   // file name without ".json"
	Scenario string   // what was recorded
	CLIArgs  []string // the command line, starting with "serf"; empty for library clients
	Client   string   // which client produced the client->agent bytes
	Notes    string
	Frames   []Frame
	// CLIResult is what the recording program printed: the serf CLI, or
	// the Go program that drove the client library. Nil when nothing was
	// recorded.
	CLIResult *CLIResult
}

// Frame is one msgpack object as recorded.
type Frame struct {
	Dir     string // ClientToAgent or AgentToClient
	Role    string // "request-header", "response-header" or "body"
	Bytes   []byte
	Decoded json.RawMessage // readable JSON form; Bytes are authoritative
}

// CLIResult is the recorded outcome of a CLI run.
type CLIResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// ClientBytesAreGroundTruth reports whether the client->agent bytes came
// from the reference Go client (the serf CLI or its client library). The
// error-case recordings used a hand-built client whose bytes are not what
// a Go client sends.
func (t *Transcript) ClientBytesAreGroundTruth() bool {
	return !strings.Contains(t.Client, "hand-built")
}

// Arg returns the value of the -name=value flag in CLIArgs, or "".
func (t *Transcript) Arg(name string) string {
	prefix := "-" + name + "="
	for _, a := range t.CLIArgs {
		if strings.HasPrefix(a, prefix) {
			return strings.TrimPrefix(a, prefix)
		}
	}
	return ""
}

// Names lists the embedded transcripts, sorted.
func Names() []string {
	entries, err := transcripts.ReadDir("testdata/rpc")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}

// Load returns the embedded transcript with the given name, e.g.
// "members-detailed".
func Load(name string) (*Transcript, error) {
	data, err := transcripts.ReadFile(path.Join("testdata/rpc", name+".json"))
	if err != nil {
		return nil, fmt.Errorf("load transcript %q: %w", name, err)
	}
	var raw struct {
		Scenario string   `json:"scenario"`
		CLIArgs  []string `json:"cli_args"`
		Client   string   `json:"client"`
		Notes    string   `json:"notes"`
		Frames   []struct {
			Dir     string          `json:"dir"`
			Role    string          `json:"role"`
			Hex     string          `json:"hex"`
			Decoded json.RawMessage `json:"decoded"`
		} `json:"frames"`
		CLIResult struct {
			ExitCode *int    `json:"exit_code"`
			Stdout   *string `json:"stdout"`
			Stderr   *string `json:"stderr"`
		} `json:"cli_result"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse transcript %q: %w", name, err)
	}
	t := &Transcript{Name: name, Scenario: raw.Scenario, Client: raw.Client, Notes: raw.Notes}
	if len(raw.CLIArgs) > 0 && raw.CLIArgs[0] == "serf" {
		t.CLIArgs = raw.CLIArgs
	}
	for i, f := range raw.Frames {
		b, err := hex.DecodeString(f.Hex)
		if err != nil {
			return nil, fmt.Errorf("transcript %q frame %d: %w", name, i, err)
		}
		if f.Dir != ClientToAgent && f.Dir != AgentToClient {
			return nil, fmt.Errorf("transcript %q frame %d: unknown direction %q", name, i, f.Dir)
		}
		t.Frames = append(t.Frames, Frame{Dir: f.Dir, Role: f.Role, Bytes: b, Decoded: f.Decoded})
	}
	if raw.CLIResult.ExitCode != nil && raw.CLIResult.Stdout != nil {
		t.CLIResult = &CLIResult{ExitCode: *raw.CLIResult.ExitCode, Stdout: *raw.CLIResult.Stdout}
		if raw.CLIResult.Stderr != nil {
			t.CLIResult.Stderr = *raw.CLIResult.Stderr
		}
	}
	return t, nil
}

// AgentBytes returns everything the agent sent, concatenated: useful as
// decoder fuzzing seeds.
func (t *Transcript) AgentBytes() []byte {
	var out []byte
	for _, f := range t.Frames {
		if f.Dir == AgentToClient {
			out = append(out, f.Bytes...)
		}
	}
	return out
}
