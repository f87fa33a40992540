package agent

import (
	"errors"
	"os"
	"testing"

	"github.com/humstack/humstack/api"
)

// FuzzConfig: any config file either parses into a config that passes its
// own validation again, or fails with a field error (ErrInvalid) — never a
// panic, never a config that validation would refuse.
func FuzzConfig(f *testing.F) {
	if seed, err := os.ReadFile("testdata/seed-config.yaml"); err == nil {
		f.Add(seed)
	}
	f.Add([]byte("agentMode: Al\nlimitMemory: 8X\nblockStorageAgentConfig:\n  parallelLimt: 2\n"))
	f.Add([]byte("apiServers: [a:1, 'b:2']\nnodeName: n1\naccel: tcg\n"))
	f.Add([]byte("networkAgentConfig: {vxlan: {devName: eth0, group: 239.0.0.1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := testHost
		cfg, err := parseConfig(data, h)
		if err != nil {
			if !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("error is not ErrInvalid: %v", err)
			}
			return
		}
		var fe api.FieldErrors
		cfg.validate(&fe)
		if err := fe.Err(); err != nil {
			t.Fatalf("accepted config fails its own validation: %v", err)
		}
	})
}
