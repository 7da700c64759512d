package command

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// columnize lays out lines whose cells are separated by "|" as aligned
// columns, the way Serf's members and keys output looks:
//   - every "|" splits, and each cell is trimmed of surrounding space;
//   - a column is as wide as its widest cell, counted in characters;
//   - every cell but the last of a line is padded to its column's width
//     and followed by two spaces; the last cell is printed as is.
//
// The result has no trailing newline. Callers trim the whole text, which
// removes the padding left at the end of the last line only.
func columnize(lines []string) string {
	rows := make([][]string, len(lines))
	var widths []int
	for i, line := range lines {
		cells := strings.Split(line, "|")
		for j, cell := range cells {
			cell = strings.TrimSpace(cell)
			cells[j] = cell
			if j == len(widths) {
				widths = append(widths, 0)
			}
			if n := utf8.RuneCountInString(cell); n > widths[j] {
				widths[j] = n
			}
		}
		rows[i] = cells
	}
	var b strings.Builder
	for i, cells := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, cell := range cells {
			b.WriteString(cell)
			if j < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell)))
				b.WriteString("  ")
			}
		}
	}
	return b.String()
}

// render formats data for the -format flag: "text" calls text, "json"
// gives Go's indented JSON (two spaces, HTML characters escaped, map keys
// sorted). Any other format is an error the caller prints as
// "Encoding error: ...".
func render(format string, data interface{}, text func() string) (string, error) {
	switch format {
	case "text":
		return text(), nil
	case "json":
		out, err := json.MarshalIndent(data, "", "  ")
		if err != nil {
			return "", err
		}
		return string(out), nil
	}
	return "", fmt.Errorf("Invalid output format %q", format)
}

// hostPort renders an address as the members output shows it: ip:port,
// with IPv6 addresses in brackets.
func hostPort(ip net.IP, port uint16) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}

// joinTags renders tags as key=value pairs separated by commas. Serf
// prints them in Go's random map order; sorting keeps the same shape and
// makes the output stable.
func joinTags(tags map[string]string) string {
	pairs := make([]string, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		pairs = append(pairs, k+"="+tags[k])
	}
	return strings.Join(pairs, ",")
}

// sortedKeys returns the keys of m in byte order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
