package command

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/serfclone/serf/client"
)

// Meta is what every command shares.
type Meta struct {
	// Ui receives all output, including error messages: Serf prints both
	// on stdout, so the Ui given by main writes errors there too.
	Ui cli.Ui

	// FlagOutput receives the one-line error of a failed flag parse, which
	// Serf prints on stderr (the help that follows goes to Ui). Nil means
	// os.Stderr.
	FlagOutput io.Writer

	// ShutdownCh is closed on interrupt. The commands that wait on the
	// agent indefinitely (monitor, query, reachability) watch it.
	ShutdownCh <-chan struct{}

	// onUsage, if set, sees the command's flag set when it prints its
	// help; commandFlags uses it to list the flags a command accepts.
	onUsage func(*flag.FlagSet)
}

// The environment variables that set the defaults of -rpc-addr and
// -rpc-auth. They are the only ones the CLI reads.
const (
	envRPCAddr = "SERF_RPC_ADDR"
	envRPCAuth = "SERF_RPC_AUTH"
)

// rpcTimeout bounds connecting and each request write, as in the
// reference CLI.
const rpcTimeout = client.DefaultTimeout

// newFlagSet returns a flag set that stops at the first error, prints that
// error on FlagOutput and then the command's help through the Ui.
func (m *Meta) newFlagSet(name string, help func() string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := m.FlagOutput
	if out == nil {
		out = os.Stderr
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		if m.onUsage != nil {
			m.onUsage(fs)
		}
		m.Ui.Output(help())
	}
	return fs
}

// rpcFlags are the -rpc-addr and -rpc-auth flags of a command.
type rpcFlags struct {
	addr *string
	auth *string
}

// addRPCFlags defines -rpc-addr and -rpc-auth on fs. Their defaults come
// from the environment when the command runs, so an explicit flag wins
// over the environment, which wins over the built-in default.
func addRPCFlags(fs *flag.FlagSet) rpcFlags {
	addr := os.Getenv(envRPCAddr)
	if addr == "" {
		addr = client.DefaultAddr
	}
	return rpcFlags{
		addr: fs.String("rpc-addr", addr, "RPC address of the Serf agent"),
		auth: fs.String("rpc-auth", os.Getenv(envRPCAuth), "RPC auth token of the Serf agent"),
	}
}

// connect opens the RPC connection the flags describe. On failure it
// prints the reason and returns nil; the caller then exits 1.
func (m *Meta) connect(f rpcFlags) *client.RPCClient {
	c, err := client.ClientFromConfig(&client.Config{Addr: *f.addr, AuthKey: *f.auth, Timeout: rpcTimeout})
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error connecting to Serf agent: %s", err))
		return nil
	}
	return c
}

// usageError prints a usage mistake, an empty line and the help, as every
// command does for missing or extra arguments.
func (m *Meta) usageError(msg, help string) int {
	m.Ui.Error(msg)
	m.Ui.Error("")
	m.Ui.Error(help)
	return 1
}

// stringsFlag is a repeatable string flag: each use appends a value. It
// stays nil when the flag is not given, which matters on the wire (nil is
// msgpack nil, not an empty array).
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// parseTags turns key=value arguments into a map (never nil). A value may
// be empty; the key may not. The second result is the first malformed
// argument, for "Error: Invalid tag: '<arg>'".
func parseTags(args []string) (map[string]string, string, bool) {
	tags := make(map[string]string, len(args))
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return nil, arg, false
		}
		tags[key] = value
	}
	return tags, "", true
}

// invalidTag is the message for a malformed key=value argument.
func invalidTag(arg string) string {
	return fmt.Sprintf("Error: Invalid tag: '%s'", arg)
}
