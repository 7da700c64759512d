// Command mkzip writes a zip archive of the given files, each stored under
// its base name, with its Unix mode kept (so serf stays executable when
// unzipped) and one fixed modification time, so that the same inputs give
// the same bytes:
//
//	mkzip -o dist/serf_0.10.2_linux_amd64.zip -mtime 1767225600 build/linux_amd64/serf
//
// It exists so that a release needs no zip program on the build machine.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("mkzip", flag.ContinueOnError)
	out := fs.String("o", "", "archive to write")
	mtime := fs.Int64("mtime", 315532800, "modification time of every entry, in seconds since 1970 (SOURCE_DATE_EPOCH; default 1980-01-01, the earliest a zip can hold)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkzip -o ARCHIVE [-mtime SECONDS] FILE...")
		return 2
	}
	if err := writeZip(*out, time.Unix(*mtime, 0).UTC(), fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		return 1
	}
	return 0
}
