package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

// TestWatch runs watch in the background, makes changes, and checks that
// each shows up and that cancelling (SIGINT in main) ends it cleanly.
func TestWatch(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		ready func(out, errout string) bool
		check func(t *testing.T, out string) bool
	}{
		{
			name:  "table",
			args:  []string{"watch", "vm", "--g=group1", "--n=ns1"},
			ready: func(out, _ string) bool { return strings.HasPrefix(out, "TYPE") },
			check: func(t *testing.T, out string) bool {
				return hasEvent(out, "ADDED", "vm1") && hasEvent(out, "MODIFIED", "vm1") && hasEvent(out, "DELETED", "vm1")
			},
		},
		{
			name: "json, all namespaces",
			args: []string{"watch", "virtualmachines", "-A", "-o", "json"},
			// No header in JSON: stdout is events only; stderr says when.
			ready: func(_, errout string) bool {
				return strings.HasPrefix(errout, "watching virtualmachines in all namespaces")
			},
			check: func(t *testing.T, out string) bool {
				var types []string
				for _, l := range lines(out) {
					var ev struct {
						Type            string
						ResourceVersion string
						Object          json.RawMessage
					}
					if err := json.Unmarshal([]byte(l), &ev); err != nil {
						t.Fatalf("not one JSON event per line: %q: %v", l, err)
					}
					if !strings.Contains(string(ev.Object), `"id":"vm1"`) || ev.ResourceVersion == "" {
						t.Fatalf("bad event %s", l)
					}
					types = append(types, ev.Type)
				}
				return strings.Join(types, ",") == "ADDED,MODIFIED,DELETED"
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.mustRun("create", "-f", "../../examples/seed/01-group.yaml", "-f", "../../examples/seed/02-namespace.yaml")
			out, errout := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() {
				done <- Main(ctx, e.args(tc.args...), strings.NewReader(""), out, errout)
			}()
			waitFor(t, "watch to start", func() bool { return tc.ready(out.String(), errout.String()) })
			e.mustRun("create", "-f", "../../examples/seed/11-virtualmachine.yaml")
			vm := strings.Replace(readFile(t, "../../examples/seed/11-virtualmachine.yaml"), "PowerOn", "PowerOff", 1)
			e.mustRun("apply", "-f", writeFile(t, "vm.yaml", vm))
			e.mustRun("delete", "vm", "vm1", "--g=group1", "--n=ns1")
			waitFor(t, "three events:\n"+out.String(), func() bool { return tc.check(t, out.String()) })
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("watch exit %d after cancel, output:\n%s%s", code, out.String(), errout.String())
			}
		})
	}
}

// hasEvent reports whether watch's table output has an event line.
func hasEvent(out, typ, id string) bool {
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == typ && f[2] == id {
			return true
		}
	}
	return false
}
