package cli

import (
	"strings"
	"testing"
)

func TestDeleteFromFiles(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	r := e.mustRun("delete", "-f", "../../examples/seed/")
	got := lines(r.stdout)
	if len(got) != len(seedObjects(t)) {
		t.Fatalf("want one line per object:\n%s", r.stdout)
	}
	// Reverse dependency order: what lives in the namespace before it,
	// the group last. Groups and namespaces carry the Core agent's cascade
	// finalizer, and no Core agent runs here: they stay, marked.
	if got[len(got)-1] != "group group1 marked for deletion" || got[len(got)-2] != "namespace group1/ns1 marked for deletion" {
		t.Errorf("owners must be deleted last:\n%s", r.stdout)
	}
	for _, l := range got[:len(got)-2] {
		if !strings.HasSuffix(l, " deleted") {
			t.Errorf("unexpected line %q", l)
		}
	}
	g := e.mustRun("get", "groups")
	if !strings.Contains(g.stdout, "waiting for core.humstack/cascade") {
		t.Errorf("get groups does not say what the deletion waits for: %v", g)
	}
	if ns := e.mustRun("--g", "group1", "get", "vm", "-A"); ns.stdout != "" {
		t.Errorf("objects left: %v", ns)
	}
}

func TestDeleteByID(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	s := []string{"--g", "group1", "--n", "ns1"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"two ids", []string{"delete", "bs", "bs1", "bs2"}, 0,
			"blockstorage group1/ns1/bs1 deleted\nblockstorage group1/ns1/bs2 deleted\n", ""},
		{"missing", []string{"delete", "bs", "bs1"}, 1, "", "error: blockstorage group1/ns1/bs1 not found\n"},
		{"missing ignored", []string{"delete", "bs", "bs1", "--ignore-not-found"}, 0, "", ""},
		{"continues past a failure", []string{"delete", "vm", "nope", "vm1"}, 1,
			"virtualmachine group1/ns1/vm1 deleted\n", "error: virtualmachine group1/ns1/nope not found\n"},
		{"bad id", []string{"delete", "vm", "VM1"}, 1, "", "error: virtualmachine group1/ns1/VM1: meta.id: invalid id \"VM1\" (want a DNS label)\n"},
		{"no target", []string{"delete"}, 1, "", "error: nothing to delete: want -f FILE, FILE... or KIND ID [ID...]\n"},
		{"kind without id", []string{"delete", "vm"}, 1, "", "error: nothing to delete: want -f FILE, FILE... or KIND ID [ID...]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(append(tc.args, s...)...)
			if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.stderr {
				t.Errorf("got %v\nwant exit %d, stdout %q, stderr %q", r, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestDeleteWithFinalizers: an object an agent must clean up is only
// marked; --force removes it anyway.
func TestDeleteWithFinalizers(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", writeFile(t, "g.yaml",
		"meta:\n  apiType: corev0/group\n  id: group1\n  finalizers: [test/agent]\n"))
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"delete", "group", "group1"}, "group group1 marked for deletion\n"},
		{[]string{"delete", "group", "group1"}, "group group1 marked for deletion\n"},
		{[]string{"delete", "group", "group1", "--force"}, "group group1 deleted\n"},
	}
	for i, s := range steps {
		r := e.mustRun(s.args...)
		if r.stdout != s.want {
			t.Errorf("step %d: got %q, want %q", i, r.stdout, s.want)
		}
		if i == 0 {
			g := e.mustRun("get", "groups")
			if h := strings.Fields(lines(g.stdout)[0]); h[len(h)-1] != "DELETING" || !strings.HasSuffix(lines(g.stdout)[1], "waiting for test/agent,core.humstack/cascade") {
				t.Errorf("no DELETING marker:\n%s", g.stdout)
			}
		}
	}
}

func TestDeleteHelpDocumentsForce(t *testing.T) {
	r := newEnv(t).mustRun("delete", "--help")
	for _, want := range []string{"--force", "finalizers", "gone for good", "stays behind", "--ignore-not-found"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("delete --help does not mention %q", want)
		}
	}
}
