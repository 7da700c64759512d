package command

import "github.com/hashicorp/cli"

// Commands returns the factories of every serf subcommand, with output on
// ui and flag errors on os.Stderr. extra adds commands built elsewhere and
// wins over a built-in of the same name.
//
// The agent command is passed in extra by main, because it handles the
// process's signals itself.
func Commands(ui cli.Ui, shutdownCh <-chan struct{}, extra map[string]cli.CommandFactory) map[string]cli.CommandFactory {
	return CommandsWithMeta(Meta{Ui: ui, ShutdownCh: shutdownCh}, extra)
}

// CommandsWithMeta is Commands with every shared setting spelled out, for
// callers that also redirect flag errors (main's tests do).
func CommandsWithMeta(m Meta, extra map[string]cli.CommandFactory) map[string]cli.CommandFactory {
	commands := map[string]cli.CommandFactory{
		"event":        func() (cli.Command, error) { return &EventCommand{Meta: m}, nil },
		"force-leave":  func() (cli.Command, error) { return &ForceLeaveCommand{Meta: m}, nil },
		"info":         func() (cli.Command, error) { return &InfoCommand{Meta: m}, nil },
		"join":         func() (cli.Command, error) { return &JoinCommand{Meta: m}, nil },
		"keygen":       func() (cli.Command, error) { return &KeygenCommand{Meta: m}, nil },
		"keys":         func() (cli.Command, error) { return &KeysCommand{Meta: m}, nil },
		"leave":        func() (cli.Command, error) { return &LeaveCommand{Meta: m}, nil },
		"members":      func() (cli.Command, error) { return &MembersCommand{Meta: m}, nil },
		"monitor":      func() (cli.Command, error) { return &MonitorCommand{Meta: m}, nil },
		"query":        func() (cli.Command, error) { return &QueryCommand{Meta: m}, nil },
		"reachability": func() (cli.Command, error) { return &ReachabilityCommand{Meta: m}, nil },
		"rtt":          func() (cli.Command, error) { return &RTTCommand{Meta: m}, nil },
		"tags":         func() (cli.Command, error) { return &TagsCommand{Meta: m}, nil },
		"version":      func() (cli.Command, error) { return &VersionCommand{Meta: m}, nil },
	}
	for name, factory := range extra {
		commands[name] = factory
	}
	return commands
}
