package cli

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestErrors: every failure is one line on stderr naming the object, exit
// code 1, no usage dump, and a multi-object command goes on past it.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/01-group.yaml")
	vmInMissingNS := mixedOrder[:strings.Index(mixedOrder, "---")]
	netInMissingNS := writeFile(t, "net.yaml", strings.Replace(readFile(t, "../../examples/seed/05-network.yaml"), "namespace: ns1", "namespace: nope", 1))
	tests := []struct {
		name   string
		stdin  string
		args   []string
		stdout string
		stderr []string // substrings, one per expected line
	}{
		{"already exists", "", []string{"create", "-f", "../../examples/seed/01-group.yaml"}, "",
			[]string{"error: group group1 already exists"}},
		{"missing namespace", vmInMissingNS, []string{"create", "-f", "-", "--g=group1", "--n=nope"}, "",
			[]string{"error: virtualmachine group1/nope/vm1: namespace group1/nope not found"}},
		{"continues past a failing object", "", []string{"apply", "-f", "../../examples/seed/09-blockstorage.yaml", "-f", netInMissingNS,
			"-f", "../../examples/seed/02-namespace.yaml", "-f", "../../examples/seed/01-group.yaml"},
			"group group1 unchanged\nnamespace group1/ns1 created\nblockstorage group1/ns1/bs1 created\n",
			[]string{"error: network group1/nope/net1: namespace group1/nope not found"}},
		{"missing file", "", []string{"create", "-f", "nope.yaml"}, "", []string{"error: stat nope.yaml: no such file or directory"}},
		{"no -f", "", []string{"apply"}, "", []string{"error: no objects given: use -f FILE"}},
		{"empty stdin", "", []string{"apply", "-f", "-"}, "", []string{"error: no objects found in -"}},
		{"unknown flag", "", []string{"get", "vm", "--colour"}, "", []string{"error: unknown flag: --colour"}},
		{"unknown command", "", []string{"frobnicate"}, "", []string{`error: unknown command "frobnicate" for "humstack"`}},
		{"get without kind", "", []string{"get"}, "", []string{"error: get needs a KIND, e.g. get vm"}},
		{"watch with an id", "", []string{"watch", "vm", "vm1"}, "", []string{`error: watch takes only a KIND, got extra arguments ["vm1"]`}},
		{"create with arguments", "", []string{"create", "vm", "-f", "-"}, "", []string{`error: create takes files (FILE... or -f FILE), not a kind: "vm" is a kind`}},
		{"bad --g", "", []string{"get", "vm", "--g", "Group_1"}, "", []string{`error: --g "Group_1": want a group id`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runStdin(tc.stdin, tc.args...)
			if r.code == 0 && tc.stderr != nil {
				t.Fatalf("want failure, got %v", r)
			}
			if r.stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tc.stdout)
			}
			got := lines(r.stderr)
			if len(got) != len(tc.stderr) {
				t.Fatalf("want %d stderr lines, got %v", len(tc.stderr), r)
			}
			for i, w := range tc.stderr {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("stderr line %q, want prefix %q", got[i], w)
				}
			}
			if strings.Contains(r.stderr, "Usage:") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("usage or stack printed: %s", r.stderr)
			}
		})
	}
}

// TestServerValidationError: what only the server can check (a frozen
// field of a stored object) comes back as one line naming object and field.
func TestServerValidationError(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/01-group.yaml", "-f", "../../examples/seed/02-namespace.yaml", "-f", "../../examples/seed/05-network.yaml")
	changed := strings.Replace(readFile(t, "../../examples/seed/05-network.yaml"), `id: "100"`, `id: "200"`, 1)
	for _, verb := range []string{"apply", "update"} {
		t.Run(verb, func(t *testing.T) {
			r := e.runStdin(changed, verb, "-f", "-")
			want := "error: network group1/ns1/net1: spec.id: is immutable\n"
			if r.code != 1 || r.stdout != "" || r.stderr != want {
				t.Errorf("got %v\nwant stderr %q", r, want)
			}
		})
	}
}

// TestUnreachable: with no server, the first failure says so and the
// remaining objects are not tried one by one.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"get", "vm"}, []string{"error: list virtualmachines: GET /api/v0/groups/default/namespaces/default/virtualmachines: dial tcp"}},
		{[]string{"create", "-f", "../../examples/seed/"}, []string{"error: group group1: POST /api/v0/groups: dial tcp", "error: 10 more object(s) not attempted"}},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			r := runRaw(context.Background(), "", append(tc.args, "--api-server-address=127.0.0.1", "--api-server-port="+port)...)
			got := lines(r.stderr)
			if r.code != 1 || len(got) != len(tc.want) {
				t.Fatalf("got %v", r)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("stderr line %q, want prefix %q", got[i], w)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r := runRaw(context.Background(), "", "--help")
	for _, want := range []string{
		"humstack cli", "Usage:\n  humstack [command]",
		"create", "apply", "update", "delete", "get", "watch", "help",
		`--api-server-address string   apiserver address (default "localhost")`,
		"--api-server-port int32       apiserver Port (default 8080)",
		"--config string               config file",
		`-g, --g string                    group id (also --group) (default "default")`,
		`-n, --n string                    namespace id (also --namespace) (default "default")`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
}
