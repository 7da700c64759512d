package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/serfclone/serf/internal/atomicfile"
)

// ErrTagsWithTagsFile is refused at startup (printed after "Failed to
// setup the Serf agent: "): tags come from the file or the configuration,
// not both.
var ErrTagsWithTagsFile = errors.New("Tags config not allowed while using tag files")

// InitialTags returns the tags the node starts with. Without TagsFile they
// are a copy of Tags (restored is false). With TagsFile, any configured tag
// (including the role) is ErrTagsWithTagsFile; an existing file is loaded
// (restored is true, log "Restored <n> tag(s) from <path>"); a missing file
// gives no tags.
func (c *Config) InitialTags() (tags map[string]string, restored bool, err error) {
	if c.TagsFile == "" {
		tags = make(map[string]string, len(c.Tags))
		for k, v := range c.Tags {
			tags[k] = v
		}
		return tags, false, nil
	}
	if len(c.Tags) > 0 {
		return nil, false, ErrTagsWithTagsFile
	}
	if _, err := os.Stat(c.TagsFile); err != nil {
		return map[string]string{}, false, nil
	}
	tags, err = LoadTagsFile(c.TagsFile)
	if err != nil {
		return nil, false, err
	}
	return tags, true, nil
}

// LoadTagsFile reads a tags file: a JSON object of strings. Errors read
// "Failed to read tags file: …" or "Failed to decode tags file: …".
func LoadTagsFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Failed to read tags file: %w", err)
	}
	tags := map[string]string{}
	if err := json.Unmarshal(data, &tags); err != nil {
		return nil, fmt.Errorf("Failed to decode tags file: %w", err)
	}
	if tags == nil { // the file held null
		tags = map[string]string{}
	}
	return tags, nil
}

// WriteTagsFile writes tags as a JSON object with 2-space indentation and
// no trailing newline; a new file gets mode 0600, an existing one keeps its
// mode. The file is replaced atomically: a failed write leaves the old one.
func WriteTagsFile(path string, tags map[string]string) error {
	if tags == nil {
		tags = map[string]string{}
	}
	data, err := json.MarshalIndent(tags, "", "  ")
	if err != nil {
		return fmt.Errorf("Failed to encode tags: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("Failed to write tags file: %w", err)
	}
	return nil
}
