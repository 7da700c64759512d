package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LiveProcesses returns the pids of the processes, zombies excepted, whose
// command line is exactly program (by base name) followed by the one
// argument marker, as `sleep <marker>` started by a test. It reads /proc,
// so it finds nothing where there is no /proc.
func LiveProcesses(program, marker string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
		if len(argv) != 2 || filepath.Base(argv[0]) != program || argv[1] != marker {
			continue
		}
		// The state letter follows the parenthesised command name.
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if i := strings.LastIndexByte(string(stat), ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
