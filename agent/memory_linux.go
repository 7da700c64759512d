package agent

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseStartupPages drops this process's mappings of its own binary's
// read-only pages (code, and the tables and constants beside it).
//
// Why: starting a Go program runs every package's initialisation and the
// runtime's table checks, which touch pages all over the binary, and the
// kernel maps each page that faults together with its neighbours (up to
// 64 KiB around it). After start most of the binary is mapped, about
// 11 MiB of the agent's resident memory, though an idle agent uses far
// less of it. Dropping the mappings lets the kernel map back only what is
// used from then on (about 8 MiB), and leaves the rest as ordinary page
// cache that the system can reclaim. Nothing is lost: these pages are
// never written, so every one is read again from the file on its next
// use. Writable mappings (the binary's data) are never touched.
func releaseStartupPages() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	var ranges [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if lo, hi, ok := readOnlyMappingOf(sc.Text(), exe); ok {
			ranges = append(ranges, [2]uintptr{lo, hi})
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading /proc/self/maps: %w", err)
	}
	if len(ranges) == 0 {
		return fmt.Errorf("no read-only mapping of %s in /proc/self/maps", exe)
	}
	for _, r := range ranges {
		// The raw call takes the range as numbers: the pages are the
		// binary's, not memory Go allocated.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise %#x-%#x: %w", r[0], r[1], errno)
		}
	}
	return nil
}

// readOnlyMappingOf parses one line of /proc/self/maps ("start-end perms
// offset dev inode path") and reports the range if it maps file path
// readable and not writable, private: code or read-only data.
func readOnlyMappingOf(line, path string) (lo, hi uintptr, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 {
		return 0, 0, false
	}
	perms := fields[1]
	if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
		return 0, 0, false
	}
	// The path is the rest of the line; a replaced binary's ends in
	// " (deleted)", and that mapping is still this process's code.
	p := strings.Join(fields[5:], " ")
	if p != path && p != path+" (deleted)" {
		return 0, 0, false
	}
	start, end, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(start, 16, 64)
	b, err2 := strconv.ParseUint(end, 16, 64)
	if err1 != nil || err2 != nil || b <= a {
		return 0, 0, false
	}
	return uintptr(a), uintptr(b), true
}
