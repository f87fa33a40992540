package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestParseLineRejects: the schema check refuses what the format forbids.
func TestParseLineRejects(t *testing.T) {
	good, _ := json.Marshal(event(1))
	if _, err := ParseLine(good); err != nil {
		t.Fatalf("a good line: %v", err)
	}
	for name, tc := range map[string]struct{ line, msg string }{
		"not json":      {`{"time":`, "unexpected"},
		"unknown field": {strings.Replace(string(good), `"event"`, `"extra":1,"event"`, 1), "unknown field"},
		"local time":    {strings.Replace(string(good), "Z\"", "+09:00\"", 1), "not RFC 3339 UTC"},
		"no time":       {`{"event":"audit.lost","lost":1}`, "not RFC 3339 UTC"},
		"unknown event": {strings.Replace(string(good), `"request"`, `"other"`, 1), "unknown event"},
		"no identity":   {strings.Replace(string(good), `"name":"alice"`, `"name":""`, 1), "identity.name"},
		"no code":       {strings.Replace(string(good), `"code":201`, `"code":0`, 1), "code"},
		"lost nothing":  {`{"time":"2026-12-03T07:00:00Z","event":"audit.lost"}`, "lost"},
	} {
		if _, err := ParseLine([]byte(tc.line)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.msg)
		}
	}
}
