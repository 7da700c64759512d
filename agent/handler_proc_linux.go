package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// groupHasLiveMember reports whether a process of group pgid is in any
// state but zombie or dead, from /proc. When /proc cannot be read it
// says yes, which only makes the caller wait out its grace.
func groupHasLiveMember(pgid int) bool {
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(dirs) == 0 {
		return true
	}
	want := []byte(strconv.Itoa(pgid))
	for _, path := range dirs {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // the process exited meanwhile
		}
		// After the parenthesised command name: state, ppid, pgrp, ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(stat[i+1:])
		if len(fields) < 3 || !bytes.Equal(fields[2], want) {
			continue
		}
		if state := fields[0]; len(state) == 1 && (state[0] == 'Z' || state[0] == 'X') {
			continue
		}
		return true
	}
	return false
}
