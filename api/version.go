package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// FormatRevision renders a store revision as a resourceVersion.
func FormatRevision(rev int64) string { return strconv.FormatInt(rev, 10) }

// ParseRevision parses a resourceVersion; "" is 0 (none).
func ParseRevision(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, Invalid("resourceVersion", "must be a non-negative integer, got %q", s)
	}
	return n, nil
}

var metaOpen = []byte(`{"meta":{`)

// InjectResourceVersion returns stored object JSON with meta.resourceVersion
// set to rev. Objects are stored without their revision (the store assigns it
// at commit), and lists of thousands must not pay for a decode and re-encode
// each, so the field is spliced in: Meta's first field is resourceVersion and
// stored JSON always starts with {"meta":{ followed directly by a field
// other than resourceVersion (or by the closing brace). Anything else
// (whitespace, other layouts) takes the slow, general path.
func InjectResourceVersion(stored []byte, rev int64) ([]byte, error) {
	out, err := AppendResourceVersion(make([]byte, 0, len(stored)+42), stored, rev)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendResourceVersion appends what InjectResourceVersion returns to dst:
// a streamed list renders thousands of items into one reused buffer.
func AppendResourceVersion(dst, stored []byte, rev int64) ([]byte, error) {
	rest := stored[min(len(stored), len(metaOpen)):]
	if fast := bytes.HasPrefix(stored, metaOpen) && len(rest) > 0 && (rest[0] == '"' || rest[0] == '}'); fast &&
		!bytes.HasPrefix(rest, []byte(`"resourceVersion"`)) {
		dst = append(dst, metaOpen...)
		dst = append(dst, `"resourceVersion":"`...)
		dst = strconv.AppendInt(dst, rev, 10)
		dst = append(dst, '"')
		if rest[0] == '"' { // another field follows
			dst = append(dst, ',')
		}
		return append(dst, rest...), nil
	}
	out, err := injectSlow(stored, rev)
	if err != nil {
		return dst, err
	}
	return append(dst, out...), nil
}

// injectSlow sets meta.resourceVersion by decoding and encoding.
func injectSlow(stored []byte, rev int64) ([]byte, error) {
	rv := FormatRevision(rev)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(stored, &m); err != nil {
		return nil, fmt.Errorf("stored object is not JSON: %w", err)
	}
	var meta map[string]any
	if err := json.Unmarshal(m["meta"], &meta); err != nil || meta == nil {
		return nil, fmt.Errorf("stored object has no meta")
	}
	meta["resourceVersion"] = rv
	mb, _ := json.Marshal(meta)
	m["meta"] = mb
	return json.Marshal(m)
}
