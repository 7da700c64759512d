package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serfclone/serf/testutil"
)

func TestSetTagsRefusedLeavesTagsFile(t *testing.T) {
	tagsFile := filepath.Join(t.TempDir(), "tags.json")
	n := startTestNode(t, testAgentOptions{name: "refused", tagsFile: tagsFile, network: &testutil.MemNetwork{}})
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
