// Command serf is the Serf command-line tool: it runs an agent (`serf
// agent`) and controls running agents over RPC (every other subcommand).
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/serfclone/serf/command"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one invocation and returns its exit status. Command output
// and errors go to stdout; the top-level usage, `-h` help and flag parse
// errors go to stderr, as with Serf.
func run(args []string, stdout, stderr io.Writer) int {
	// Any -v or --version argument, wherever it is, turns the invocation
	// into `serf version`.
	for _, arg := range args {
		if arg == "-v" || arg == "--version" {
			args = []string{"version"}
			break
		}
	}

	shutdownCh, stopSignals := interruptChannel()
	defer stopSignals()

	ui := &cli.BasicUi{Writer: stdout, ErrorWriter: stdout}
	meta := command.Meta{Ui: ui, FlagOutput: stderr, ShutdownCh: shutdownCh}
	c := &cli.CLI{
		Name:        "serf",
		Args:        args,
		Commands:    command.CommandsWithMeta(meta, extraCommands(meta)),
		HelpWriter:  stderr,
		ErrorWriter: stderr,

		// Shell completion: -autocomplete-install and
		// -autocomplete-uninstall edit the bash, zsh and fish start-up
		// files; when the shell then runs serf to complete a word
		// (COMP_LINE is set), the commands' predictors answer.
		Autocomplete: true,
		HelpFunc:     usage,
	}
	code, err := c.Run()
	if err != nil {
		fmt.Fprintf(stderr, "Error executing CLI: %s\n", err)
		return 1
	}
	return code
}

// usage is the top-level usage: hashicorp/cli's list of commands, then
// the two top-level flags that no command's help shows.
func usage(commands map[string]cli.CommandFactory) string {
	return strings.TrimRight(cli.BasicHelpFunc("serf")(commands), "\n") + `

Shell completion:
    -autocomplete-install      Add completion of serf to the start-up files
                               of bash, zsh and fish (those found), then exit.
    -autocomplete-uninstall    Remove it again.`
}

// extraCommands are the commands that live outside the shared table.
func extraCommands(meta command.Meta) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		// The agent watches its own signals (INT leaves, HUP reloads), so
		// it does not get the CLI's interrupt channel.
		"agent": func() (cli.Command, error) { return &command.AgentCommand{Ui: meta.Ui}, nil },
	}
}

// interruptChannel returns a channel closed on the first interrupt, which
// the long-running commands watch to stop cleanly, and a function that
// stops watching. After the first interrupt the default handling is back,
// so a second Ctrl-C kills a command that does not react.
func interruptChannel() (<-chan struct{}, func()) {
	shutdownCh := make(chan struct{})
	sigCh := make(chan os.Signal, 1)
	done := make(chan struct{})
	finished := make(chan struct{})
	signal.Notify(sigCh, os.Interrupt)
	go func() {
		defer close(finished)
		select {
		case <-sigCh:
			signal.Stop(sigCh)
			close(shutdownCh)
		case <-done:
		}
	}()
	return shutdownCh, func() {
		signal.Stop(sigCh)
		close(done)
		<-finished
	}
}
