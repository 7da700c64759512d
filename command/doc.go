// Package command holds the serf subcommands, one file each: every type
// implements cli.Command (Synopsis, Help, Run) for github.com/hashicorp/cli,
// and Commands lists them for main. Apart from `serf agent`, which runs the
// daemon, a command parses its flags, talks to a running agent over RPC
// through package client, and prints the answer.
//
// What scripts and operators depend on stays as Serf 0.10 has it: command
// and flag names, defaults, exit codes (0 on success, 1 on any failure),
// output formats, and which text goes
// to stdout (command output and errors) or stderr (the one-line error of a
// bad flag, `-h` help and the top-level usage). The help texts themselves
// are our own words.
package command
