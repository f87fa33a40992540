package agent

import (
	"errors"
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestEveryBadKey: a config with several problems names every one of them
// in one error, field by field, with "did you mean" for misspelt keys.
func TestEveryBadKey(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string // "field: detail", in the error's order
	}{
		{"the issue's example", "agentMode: Al\nlimitMemory: 8X\nblockStorageAgentConfig:\n  parallelLimt: 4\n", []string{
			`blockStorageAgentConfig.parallelLimt: unknown field (did you mean "parallelLimit"?)`,
			`agentMode: "Al" is not one of Core, System, All`,
			`limitMemory: invalid size "8X" (want a whole number with an optional unit K, M, G, T)`,
		}},
		{"top-level misspellings", "parallelLimt: 4\nhartbeatSeconds: 3\nnodeGraceSecond: 9\nzzz: 1\n", []string{
			`hartbeatSeconds: unknown field (did you mean "heartbeatSeconds"?)`,
			`nodeGraceSecond: unknown field (did you mean "nodeGraceSeconds"?)`,
			`parallelLimt: unknown field`, // parallelLimit is not a top-level key
			`zzz: unknown field`,
		}},
		{"scheduler and bridges", "scheduler: {policy: packed}\nnetworkAgentConfig: {externalBridges: [exBr, \"a b\"]}\nresets: {perNode: 0, timeoutSeconds: 0}\n", []string{
			`networkAgentConfig.externalBridges[1]: "a b" is not a network interface name (at most 15 characters, no '/', ':' or spaces)`,
			`scheduler.policy: "packed" is not one of spread, pack`,
			`resets.perNode: 0 is out of range 1-64`,
			`resets.timeoutSeconds: 0 is out of range 1-86400`,
		}},
		{"nested and values", "networkAgentConfig: {vxlan: {devNmae: eth0, group: 10.0.0.1}}\napiServerPort: 0\naccel: KVM\n", []string{
			`networkAgentConfig.vxlan.devNmae: unknown field (did you mean "devName"?)`,
			`apiServerPort: 0 is out of range 1-65535`,
			`accel: "KVM" is not one of auto, kvm, tcg (did you mean "kvm"?)`,
			`networkAgentConfig.vxlan.group: "10.0.0.1" is not a multicast IP address (e.g. 239.0.0.1; leave it out for unicast VXLAN)`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseConfig([]byte(c.yaml), testHost)
			var ie *api.InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("error %v, want an InvalidError", err)
			}
			var got []string
			for _, f := range ie.Fields {
				got = append(got, f.Error())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("fields:\n%q\nwant:\n%q", got, c.want)
			}
		})
	}
}
