package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

// TestCheckTagsSizeAgreesWithSerf checks that the agent's own size check
// refuses exactly the tags the library refuses, around the limit.
func TestCheckTagsSizeAgreesWithSerf(t *testing.T) {
	n := startTestNode(t, testAgentOptions{name: "size", network: &memberlist.MockNetwork{}})
	for _, size := range []int{0, 31, 32, 255, 256, 490, 495, 500, 505, 510, 511, 512, 600, 70000} {
		tags := map[string]string{"k": strings.Repeat("v", size)}
		ours := checkTagsSize(tags, 5)
		lib := n.agent.Serf().SetTags(tags)
		if (ours == nil) != (lib == nil) {
			t.Errorf("value of %d bytes: agent says %v, serf says %v", size, ours, lib)
		}
		if ours != nil && lib != nil && ours.Error() != lib.Error() {
			t.Errorf("value of %d bytes: agent error %q, serf error %q", size, ours, lib)
		}
	}
	if err := checkTagsSize(map[string]string{"role": strings.Repeat("r", 600)}, 2); err == nil {
		t.Errorf("protocol 2: a 600-byte role passed")
	}
}

func TestSetTagsRefusedLeavesTagsFile(t *testing.T) {
	tagsFile := filepath.Join(t.TempDir(), "tags.json")
	n := startTestNode(t, testAgentOptions{name: "refused", tagsFile: tagsFile, network: &memberlist.MockNetwork{}})
	if err := n.agent.UpdateTags(map[string]string{"a": "b"}, nil); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(tagsFile)
	if err != nil {
		t.Fatal(err)
	}
	err = n.agent.UpdateTags(map[string]string{"big": strings.Repeat("x", 600)}, nil)
	if err == nil || err.Error() != "Encoded length of tags exceeds limit of 512 bytes" {
		t.Fatalf("oversized tags: err = %v", err)
	}
	after, err := os.ReadFile(tagsFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("refused change rewrote the tags file:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := LoadTagsFile(tagsFile); err != nil {
		t.Errorf("tags file no longer loads: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := writeFileAtomic(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	info, _ := os.Stat(path)
	if string(data) != "two" || info.Mode().Perm() != 0o640 {
		t.Errorf("after rewrite: %q mode %v, want \"two\" mode 0640", data, info.Mode().Perm())
	}

	// A write that cannot complete (the target is a non-empty directory,
	// so the rename fails) leaves what was there and no temporary file.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(blocked, []byte("x"), 0o600); err == nil {
		t.Fatalf("write over a directory succeeded")
	}
	if _, err := os.Stat(filepath.Join(blocked, "inside")); err != nil {
		t.Errorf("failed write disturbed the old entry: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
