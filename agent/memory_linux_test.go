package agent

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlyMappingOf(t *testing.T) {
	const exe = "/usr/bin/serf"
	cases := []struct {
		line   string
		ok     bool
		lo, hi uintptr
	}{
		{"00400000-009f1000 r-xp 00000000 fd:01 123 /usr/bin/serf", true, 0x400000, 0x9f1000},
		{"009f1000-01077000 r--p 005f1000 fd:01 123 /usr/bin/serf", true, 0x9f1000, 0x1077000},
		{"00400000-009f1000 r-xp 00000000 fd:01 123 /usr/bin/serf (deleted)", true, 0x400000, 0x9f1000},
		{"01077000-010de000 rw-p 00c77000 fd:01 123 /usr/bin/serf", false, 0, 0}, // data: never
		{"01077000-010de000 r--s 00c77000 fd:01 123 /usr/bin/serf", false, 0, 0}, // shared
		{"7f0000000000-7f0000001000 r--p 00000000 fd:01 9 /usr/lib/libc.so.6", false, 0, 0},
		{"7ffce1079000-7ffce109a000 rw-p 00000000 00:00 0 [stack]", false, 0, 0},
		{"7ffce1079000-7ffce109a000 r--p 00000000 00:00 0", false, 0, 0},
		{"zz-10 r-xp 0 fd:01 123 /usr/bin/serf", false, 0, 0},
		{"2000-1000 r-xp 0 fd:01 123 /usr/bin/serf", false, 0, 0},
		{"", false, 0, 0},
	}
	for _, tc := range cases {
		lo, hi, ok := readOnlyMappingOf(tc.line, exe)
		if ok != tc.ok || lo != tc.lo || hi != tc.hi {
			t.Errorf("%q: %#x-%#x %v, want %#x-%#x %v", tc.line, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// TestReleaseStartupPages drops the test binary's own read-only pages and
// goes on running: code and constants come back from the file, and the
// process's resident file pages went down.
func TestReleaseStartupPages(t *testing.T) {
	before := rssFileKiB(t)
	if err := releaseStartupPages(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	// Running code again after the drop: a few calls that need the
	// runtime's tables (a stack trace, a garbage collection).
	buf := make([]byte, 4096)
	if n := runtime.Stack(buf, false); !strings.Contains(string(buf[:n]), "TestReleaseStartupPages") {
		t.Fatalf("stack after the release:\n%s", buf[:n])
	}
	runtime.GC()
	if after >= before {
		t.Errorf("RssFile %d KiB before, %d KiB after the release", before, after)
	}
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if kib, err := strconv.Atoi(f[0]); err == nil {
					return kib
				}
			}
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}
