package command

import (
	"flag"
	"fmt"
	"io"
	"os"

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
