package agent

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/testutil"
)

// TestConcurrentTagUpdatesKeepEvery runs many tag RPCs at once; each sets
// its own key, so the result must hold every one of them, in Serf and in
// the tags file.
func TestConcurrentTagUpdatesKeepEvery(t *testing.T) {
	tagsFile := filepath.Join(t.TempDir(), "tags.json")
	n := startTestNode(t, testAgentOptions{name: "concurrent", tagsFile: tagsFile, network: &testutil.MemNetwork{}})
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.NewRPCClient(n.rpcAddr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- c.UpdateTags(map[string]string{fmt.Sprintf("k%d", w): "v"}, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	live := n.agent.Serf().LocalTags()
	saved, err := LoadTagsFile(tagsFile)
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		k := fmt.Sprintf("k%d", w)
		if live[k] != "v" {
			t.Errorf("tag %s lost from the live tags: %v", k, live)
		}
		if saved[k] != "v" {
			t.Errorf("tag %s lost from the tags file: %v", k, saved)
		}
	}
}
