package cli

import (
	"context"
	"strings"
	"testing"
)

func TestConfigFile(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	good := writeFile(t, "humcli.yaml", "apiServerAddress: "+e.host+"\napiServerPort: "+e.port+
		"\ngroup: group1\nnamespace: ns1\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"config supplies server and scope", []string{"get", "vm", "--config", good}, 0, "vm1", ""},
		{"flag overrides config", []string{"get", "vm", "--config", good, "--n", "other"}, 0, "",
			"No virtualmachines found in namespace group1/other."},
		{"flag overrides config port", []string{"get", "vm", "--config", good, "--api-server-port", "1"}, 1, "",
			"connection refused"},
		{"unknown key", []string{"get", "vm", "--config", writeFile(t, "bad.yaml", "apiServerAddress: x\nnamesapce: ns1\n")}, 1, "",
			`unknown key "namesapce" (valid keys: apiServerAddress, apiServerPort, apiServers, group, namespace, token)`},
		{"wrong type", []string{"get", "vm", "--config", writeFile(t, "bad.yaml", "apiServerPort: eighty\n")}, 1, "",
			"apiServerPort"},
		{"missing file", []string{"get", "vm", "--config", "/nonexistent/humcli.yaml"}, 1, "",
			"config: open /nonexistent/humcli.yaml: no such file or directory"},
		{"not a mapping", []string{"get", "vm", "--config", writeFile(t, "bad.yaml", "- a\n")}, 1, "",
			"want a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// No --api-server-* flags: the config file is the only source.
			r := runRaw(context.Background(), "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("got %v\nwant exit %d, stdout with %q, stderr with %q", r, tc.code, tc.stdout, tc.stderr)
			}
			if tc.code != 0 && len(lines(r.stderr)) != 1 {
				t.Errorf("want one error line, got:\n%s", r.stderr)
			}
		})
	}
}
