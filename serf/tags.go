package serf

import "fmt"

// tagMagicByte starts a node meta that holds a msgpack map of tags. Older
// meta (protocol 2) is the bare role string.
const tagMagicByte uint8 = 0xff

// encodeTags returns the node meta for tags as a node speaking the given
// Serf protocol sends it: protocol 2 carries only the role.
func encodeTags(tags map[string]string, protocolVersion uint8) ([]byte, error) {
	if protocolVersion < 3 {
		return []byte(tags["role"]), nil
	}
	if tags == nil {
		// A nil map would encode as msgpack nil; Serf always sends a map.
		tags = map[string]string{}
	}
	buf, err := encodeWithPrefix([]byte{tagMagicByte}, tags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	return buf, nil
}

// ValidateTags reports whether tags fit in the node meta a member of the
// given protocol gossips, with the error SetTags would return. Callers
// that persist tags (the agent's tags file) check first, so a refused
// change is never written down.
func ValidateTags(tags map[string]string, protocolVersion uint8) error {
	_, err := encodeTagsChecked(tags, protocolVersion)
	return err
}

// encodeTagsChecked is encodeTags plus the node meta size limit.
func encodeTagsChecked(tags map[string]string, protocolVersion uint8) ([]byte, error) {
	meta, err := encodeTags(tags, protocolVersion)
	if err != nil {
		return nil, err
	}
	if len(meta) > MetaMaxSize {
		return nil, fmt.Errorf("Encoded length of tags exceeds limit of %d bytes", MetaMaxSize)
	}
	return meta, nil
}

// decodeTags reads node meta. Meta that is empty or lacks the magic byte is
// a legacy role string, so empty meta yields {"role": ""} as in Serf.
func decodeTags(buf []byte) (map[string]string, error) {
	if len(buf) == 0 || buf[0] != tagMagicByte {
		return map[string]string{"role": string(buf)}, nil
	}
	tags := make(map[string]string)
	if err := decodeMessage(buf[1:], &tags); err != nil {
		return tags, fmt.Errorf("decode tags: %w", err)
	}
	return tags, nil
}
