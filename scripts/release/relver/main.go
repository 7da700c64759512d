// Command relver turns `git describe` output into the names and version
// stamps of a release build, and prints them as shell assignments for
// scripts/release/build.sh to eval:
//
//	RELEASE_NAME='0.10.2'
//	RELEASE_DEB='0.10.2'
//	RELEASE_STAMP_VERSION='0.10.2'
//	RELEASE_STAMP_PRERELEASE=''
//	RELEASE_STAMP_COMMIT='754cbe1'
//	RELEASE_HUMAN='0.10.2'
//
// It runs no git itself, so that its mapping is a pure function with a
// table test; the script passes what git said.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("relver", flag.ContinueOnError)
	describe := fs.String("describe", "", "output of git describe --tags --always --dirty")
	commit := fs.String("commit", "", "output of git rev-parse --short HEAD")
	count := fs.Int("count", 0, "output of git rev-list --count HEAD")
	versionFile := fs.String("version-file", "command/version.go", "Go file that declares Version")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	base, err := sourceVersion(*versionFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relver:", err)
		return 1
	}
	r, err := Compute(Input{Describe: *describe, Commit: *commit, Count: *count, Base: base})
	if err != nil {
		fmt.Fprintln(os.Stderr, "relver:", err)
		return 1
	}
	for _, kv := range [][2]string{
		{"RELEASE_NAME", r.Name},
		{"RELEASE_DEB", r.Deb},
		{"RELEASE_STAMP_VERSION", r.Version},
		{"RELEASE_STAMP_PRERELEASE", r.Prerelease},
		{"RELEASE_STAMP_COMMIT", r.Commit},
		{"RELEASE_HUMAN", r.Human()},
	} {
		// Every value is made of [0-9A-Za-z.~+() -]; no quote can occur.
		fmt.Printf("%s='%s'\n", kv[0], kv[1])
	}
	return 0
}
