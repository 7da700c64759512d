package command

import (
	"context"
	"flag"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/posener/complete"
	"github.com/serfclone/serf/client"
)

// Shell completion (serf -autocomplete-install): hashicorp/cli asks each
// command for the predictors below when the shell asks it to complete a
// word. The flags come from the command's real flag set (commandFlags),
// so completion never misses a flag the command accepts.

// completionTimeout bounds the whole exchange with the local agent when
// node names are completed; the shell waits for it.
const completionTimeout = 500 * time.Millisecond

// valuePredictors are the values that can be known for some flags.
func valuePredictors() map[string]complete.Predictor {
	levels := complete.PredictSet("trace", "debug", "info", "warn", "err")
	return map[string]complete.Predictor{
		"log-level":    levels,
		"format":       complete.PredictSet("text", "json"),
		"status":       complete.PredictSet("alive", "leaving", "left", "failed"),
		"profile":      complete.PredictSet("lan", "wan", "local"),
		"config-file":  complete.PredictFiles("*.json"),
		"config-dir":   complete.PredictDirs("*"),
		"snapshot":     complete.PredictFiles("*"),
		"keyring-file": complete.PredictFiles("*"),
		"tags-file":    complete.PredictFiles("*"),
		"coalesce":     complete.PredictSet("true", "false"),
	}
}

// flagPredictors returns the completion of every flag of the named
// command: nothing after a boolean flag, the known values where there are
// some, anything otherwise.
func flagPredictors(name string) complete.Flags {
	values := valuePredictors()
	flags := complete.Flags{}
	for _, f := range commandFlags(name) {
		switch p, known := values[f.Name]; {
		case known:
			flags["-"+f.Name] = p
		case isBoolFlag(f):
			flags["-"+f.Name] = complete.PredictNothing
		default:
			flags["-"+f.Name] = complete.PredictAnything
		}
	}
	return flags
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// nodeNamePredictor completes member names from the local agent, reached
// with the -rpc-addr and -rpc-auth already typed (or their environment
// variables and defaults). An agent that is not reachable, refuses, or is
// slow gives no names and no message: completion must stay quiet.
type nodeNamePredictor struct {
	timeout time.Duration
}

func (p nodeNamePredictor) Predict(args complete.Args) []string {
	addr := typedFlag(args.Completed, "rpc-addr", os.Getenv(envRPCAddr))
	if addr == "" {
		addr = client.DefaultAddr
	}
	auth := typedFlag(args.Completed, "rpc-auth", os.Getenv(envRPCAuth))
	return memberNames(addr, auth, p.timeout)
}

// typedFlag returns the value of -name (or --name) in words, in either
// form "-name=v" or "-name v", the last one winning; fallback if absent.
func typedFlag(words []string, name, fallback string) string {
	value := fallback
	for i, w := range words {
		w = strings.TrimPrefix(w, "-")
		if !strings.HasPrefix(w, "-"+name) && !strings.HasPrefix(w, name) {
			continue
		}
		w = strings.TrimPrefix(strings.TrimPrefix(w, "-"), name)
		switch {
		case strings.HasPrefix(w, "="):
			value = w[1:]
		case w == "" && i+1 < len(words):
			value = words[i+1]
		}
	}
	return value
}

// memberNames asks the agent at addr for its members, within timeout, and
// returns their names sorted; nil on any failure.
func memberNames(addr, auth string, timeout time.Duration) []string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := client.ClientFromConfigContext(ctx, &client.Config{Addr: addr, AuthKey: auth, Timeout: timeout})
	if err != nil {
		return nil
	}
	defer c.Close()
	// Replies have no deadline of their own: closing the client at the
	// deadline fails the request still waiting.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	members, err := c.Members()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(members))
	for _, m := range members {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	return names
}
