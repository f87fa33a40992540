package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// ParseLine decodes one audit line and checks it against the documented
// format: no unknown fields, time in RFC 3339 UTC, a known event, and the
// fields every event of its kind carries. Tools reading the log (and the
// tests) use it.
func ParseLine(b []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("audit line %q: %w", b, err)
	}
	var raw struct {
		Time string `json:"time"`
	}
	_ = json.Unmarshal(b, &raw)
	if t, err := time.Parse(time.RFC3339Nano, raw.Time); err != nil || !strings.HasSuffix(raw.Time, "Z") || t.IsZero() {
		return e, fmt.Errorf("audit line %q: time %q is not RFC 3339 UTC", b, raw.Time)
	}
	var missing []string
	need := func(name string, ok bool) {
		if !ok {
			missing = append(missing, name)
		}
	}
	switch e.Event {
	case EventLost:
		need("lost", e.Lost > 0)
	case EventRequest, EventConsoleStart, EventConsoleEnd:
		need("identity.name", e.Identity.Name != "")
		need("identity.kind", e.Identity.Kind != "")
		need("identity.via", e.Identity.Via != "")
		need("requestID", e.RequestID != "")
		need("verb", e.Verb != "")
		need("method", e.Method != "")
		need("path", e.Path != "")
		need("code", e.Code > 0)
		need("sourceAddress", e.SourceAddress != "")
	default:
		return e, fmt.Errorf("audit line %q: unknown event %q", b, e.Event)
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("audit line %q: missing %s", b, strings.Join(missing, ", "))
	}
	return e, nil
}

// ReadAll parses every line of an audit log.
func ReadAll(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		e, err := ParseLine(sc.Bytes())
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
