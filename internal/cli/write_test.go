package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

const scoped = "--g=group1"

// TestSeedExamples applies every YAML example of the seed README into a
// fresh server and finds each object with get.
func TestSeedExamples(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("create", "-f", "../../examples/seed/")
	objs := seedObjects(t)
	if got := lines(r.stdout); len(got) != len(objs) {
		t.Fatalf("want %d created lines, got:\n%s", len(objs), r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "group group1 created\n") {
		t.Errorf("the group must be created first:\n%s", r.stdout)
	}
	for _, o := range objs {
		k, _ := api.KindOf(o)
		m := o.GetMeta()
		t.Run(k.Name+"/"+m.ID, func(t *testing.T) {
			if !strings.Contains(r.stdout, objectName(k, m)+" created\n") {
				t.Errorf("no created line for %s:\n%s", objectName(k, m), r.stdout)
			}
			for _, name := range append([]string{k.Name, k.Plural, k.APIType}, k.Aliases...) {
				g := e.mustRun("get", name, "--g", "group1", "--n", "ns1")
				if !hasRow(g.stdout, m.ID) {
					t.Errorf("get %s: no row for %s:\n%s", name, m.ID, g.stdout)
				}
			}
		})
	}
}

// hasRow reports whether a table has a row whose first cell is id.
func hasRow(table, id string) bool {
	for _, l := range lines(table)[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[0] == id {
			return true
		}
	}
	return false
}

func TestApplyIsIdempotent(t *testing.T) {
	e := newEnv(t)
	n := len(seedObjects(t))
	steps := []struct {
		name string
		want string
	}{
		{"first apply creates", "created"},
		{"second apply changes nothing", "unchanged"},
		{"third apply still changes nothing", "unchanged"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.mustRun("apply", "-f", "../../examples/seed/")
			if c := strings.Count(r.stdout, " "+s.want+"\n"); c != n {
				t.Errorf("want %d %q lines, got:\n%s", n, s.want, r.stdout)
			}
		})
	}
	t.Run("changed spec is configured", func(t *testing.T) {
		data, _ := os.ReadFile("../../examples/seed/11-virtualmachine.yaml")
		changed := strings.Replace(string(data), "actionState: PowerOn", "actionState: PowerOff", 1)
		r := e.mustRun("apply", "-f", writeFile(t, "vm.yaml", changed))
		if r.stdout != "virtualmachine group1/ns1/vm1 configured\n" {
			t.Errorf("got %q", r.stdout)
		}
		g := e.mustRun("get", "vm", "vm1", scoped, "--n=ns1")
		if !strings.Contains(g.stdout, "PowerOff") {
			t.Errorf("spec not updated:\n%s", g.stdout)
		}
	})
}

// TestApplyKeepsSystemAnnotations: an annotation an agent set survives a
// re-apply of a file that does not mention it.
func TestApplyKeepsSystemAnnotations(t *testing.T) {
	e := newEnv(t)
	e.mustRun("apply", "-f", "../../examples/seed/")
	// Play the agent: add the bridge name, as `update` from a full object.
	y := e.mustRun("get", "network", "net1", scoped, "--n=ns1", "-o", "yaml").stdout
	y = strings.Replace(y, "networkv0/network_type: VXLAN", "networkv0/bridge_name: hbr-net1\n    networkv0/network_type: VXLAN", 1)
	if r := e.mustRun("update", "-f", writeFile(t, "net.yaml", y)); !strings.Contains(r.stdout, "updated") {
		t.Fatalf("update: %v", r)
	}
	r := e.mustRun("apply", "-f", "../../examples/seed/05-network.yaml")
	if r.stdout != "network group1/ns1/net1 unchanged\n" {
		t.Errorf("apply: got %q", r.stdout)
	}
	g := e.mustRun("get", "net", "net1", scoped, "--n=ns1")
	if !strings.Contains(g.stdout, "hbr-net1") {
		t.Errorf("bridge annotation lost:\n%s", g.stdout)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, file string
		code       int
		want       string
	}{
		{"missing object", "../../examples/seed/01-group.yaml", 1, "error: group group1 not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run("update", "-f", tc.file)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("want exit %d and %q, got %v", tc.code, tc.want, r)
			}
		})
	}
	e.mustRun("create", "-f", "../../examples/seed/01-group.yaml")
	if r := e.mustRun("update", "-f", "../../examples/seed/01-group.yaml"); r.stdout != "group group1 unchanged\n" {
		t.Errorf("update of an identical group: %q", r.stdout)
	}
}

const mixedOrder = `# a VM before the disk, network, namespace and group it needs
meta:
  apiType: systemv0/virtualmachine
  id: vm1
  annotations:
    virtualmachinev0/node_name: node1
spec:
  requestVcpus: 1000m
  limitVcpus: 1000m
  requestMemory: 1G
  limitMemory: 1G
  blockStorageIDs: [bs1]
  nics:
    - networkID: net1
      ipv4Address: 10.0.0.1
---
meta:
  apiType: systemv0/blockstorage
  id: bs1
  annotations:
    blockstoragev0/type: Local
    blockstoragev0/node_name: node1
spec:
  requestSize: 1G
  limitSize: 1G
  from:
    type: Empty
---
meta:
  apiType: systemv0/network
  id: net1
  annotations:
    networkv0/network_type: Bridge
spec:
  ipv4CIDR: 10.0.0.0/24
---
meta:
  apiType: corev0/namespace
  id: ns1
---
meta:
  apiType: corev0/group
  id: group1
`

// TestMultiDocument: documents in any order are sent owners first, and
// missing group/namespace come from --g/--n.
func TestMultiDocument(t *testing.T) {
	want := "group group1 created\n" +
		"namespace group1/ns1 created\n" +
		"network group1/ns1/net1 created\n" +
		"blockstorage group1/ns1/bs1 created\n" +
		"virtualmachine group1/ns1/vm1 created\n"
	tests := []struct {
		name  string
		stdin string
		args  func(t *testing.T) []string
	}{
		{"file", "", func(t *testing.T) []string { return []string{"-f", writeFile(t, "all.yaml", mixedOrder)} }},
		{"stdin", mixedOrder, func(*testing.T) []string { return []string{"-f", "-"} }},
		{"directory", "", func(t *testing.T) []string {
			return []string{"-f", filepath.Dir(writeFile(t, "all.yml", mixedOrder))}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.runStdin(tc.stdin, append([]string{"create", "--g", "group1", "--n", "ns1"}, tc.args(t)...)...)
			if r.code != 0 || r.stdout != want {
				t.Errorf("got %v\nwant stdout:\n%s", r, want)
			}
		})
	}
}

// TestBadDocument: one bad document stops the whole invocation before
// anything is sent, and each bad one is named by file and number.
func TestBadDocument(t *testing.T) {
	docs := []string{
		"meta:\n  apiType: corev0/group\n  id: group1\n",
		"meta:\n  apiType: corev0/namespace\n  id: ns1\n  group: group1\n  colour: red\n",
		"meta:\n  apiType: corev0/group\n  id: Bad_ID\n",
		"meta:\n  apiType: corev0/nothing\n  id: x\n",
		"meta: [unclosed\n",
		strings.Replace(mixedOrder[:strings.Index(mixedOrder, "---")], "limitVcpus: 1000m", "limitVcpus: 0m", 1),
	}
	e := newEnv(t)
	f := writeFile(t, "bad.yaml", strings.Join(docs, "---\n"))
	r := e.run("apply", "-f", f, "--g", "group1", "--n", "ns1")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("want exit 1 and no output, got %v", r)
	}
	wantErr := []string{
		"(document 2): meta.colour: unknown field",
		"(document 3): group bad_id",
		"(document 4): meta.apiType: unknown apiType",
		"(document 5): (document): malformed YAML",
		"(document 6): virtualmachine group1/ns1/vm1: spec.limitVcpus",
	}
	got := lines(r.stderr)
	if len(got) != len(wantErr) {
		t.Fatalf("want %d error lines, got:\n%s", len(wantErr), r.stderr)
	}
	for i, w := range wantErr {
		t.Run(w, func(t *testing.T) {
			if !strings.HasPrefix(got[i], "error: "+f+" ") || !strings.Contains(strings.ToLower(got[i]), strings.ToLower(w)) {
				t.Errorf("line %d: want %q, got %q", i, w, got[i])
			}
		})
	}
	if g := e.run("get", "groups"); hasRowSafe(g.stdout, "group1") {
		t.Errorf("document 1 was sent although others were bad:\n%s", g.stdout)
	}
}

func hasRowSafe(table, id string) bool { return len(lines(table)) > 1 && hasRow(table, id) }
