package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// traceRequest is one request of the original humcli v0.3.4's recording
// (internal/apiserver/testdata/humcli-v0.3.4-trace.jsonl).
type traceRequest struct {
	Method, Path, ContentType, Body string
	Status                          int
}

// writePart is the trace up to its deletes: the seed's examples created and
// then updated by the original client, and listed.
func writePart(t *testing.T) []traceRequest {
	t.Helper()
	f, err := os.Open("../apiserver/testdata/humcli-v0.3.4-trace.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []traceRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r traceRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Method == http.MethodDelete || strings.Contains(r.Body, `"deleteState":"Delete"`) {
			break
		}
		out = append(out, r)
	}
	if len(out) < 40 {
		t.Fatalf("trace write part has %d requests", len(out))
	}
	return out
}

func (e *env) send(r traceRequest) int {
	e.t.Helper()
	req, err := http.NewRequest(r.Method, "http://"+e.host+":"+e.port+r.Path, bytes.NewBufferString(r.Body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", r.ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOriginalClientsObjectsReadBack: after the original humcli has
// written the seed's examples (its recorded requests, replayed), humcli
// reads every one back as the example file has it, with the seed's
// spellings (--g/--n) and the original's (-g/-n, --group/--namespace).
// Networks are not in the recording (see its README); the seed's network
// is created with humcli from its file, given as an argument.
func TestOriginalClientsObjectsReadBack(t *testing.T) {
	e := newEnv(t)
	for i, r := range writePart(t) {
		if code := e.send(r); (r.Status/100 == 2) != (code/100 == 2) {
			t.Logf("#%d %s %s: original %d, here %d", i, r.Method, r.Path, r.Status, code)
			if r.Status/100 == 2 {
				t.Errorf("#%d %s %s: the original accepted it, here %d", i, r.Method, r.Path, code)
			}
		}
	}
	e.mustRun("apply", "../../examples/seed/05-network.yaml")
	spellings := [][]string{{"--g", "group1", "--n", "ns1"}, {"-g", "group1", "-n", "ns1"}, {"--group", "group1", "--namespace", "ns1"}, {"--group=group1", "--namespace=ns1"}}
	for _, want := range seedObjects(t) {
		k, _ := api.KindOf(want)
		m := want.GetMeta()
		t.Run(k.Name+"/"+m.ID, func(t *testing.T) {
			for _, sp := range spellings {
				if g := e.mustRun(append([]string{"get", k.Name}, sp...)...); !hasRow(g.stdout, m.ID) {
					t.Errorf("get %s %v: no row for %s:\n%s", k.Name, sp, m.ID, g.stdout)
				}
			}
			out := e.mustRun(append([]string{"get", k.Name, m.ID, "-o", "yaml"}, spellings[1]...)...)
			got, err := api.Decode([]byte(out.stdout))
			if err != nil {
				t.Fatalf("get -o yaml does not decode: %v\n%s", err, out.stdout)
			}
			gm := got.GetMeta()
			if gm.ID != m.ID || gm.Name != m.Name || gm.Group != m.Group || gm.Namespace != m.Namespace {
				t.Errorf("meta %+v, the file's %+v", gm, m)
			}
			for key, v := range m.Annotations {
				if gm.Annotations[key] != v {
					t.Errorf("annotation %s = %q, the file's %q", key, gm.Annotations[key], v)
				}
			}
			if n, ok := got.(*api.Network); ok && want.(*api.Network).Spec.DHCP == nil && n.Spec.DHCP != nil {
				// The DHCP server's address, assigned by the API server's
				// pool (docs/network-services.md).
				if n.Spec.DHCP.Address != "10.0.0.253" {
					t.Errorf("DHCP server address %q, want 10.0.0.253", n.Spec.DHCP.Address)
				}
				n.Spec.DHCP = nil
			}
			if ws, gs := specOf(t, want), specOf(t, got); !reflect.DeepEqual(ws, gs) {
				t.Errorf("spec read back %v, the file's %v", gs, ws)
			}
		})
	}
}

// specOf is an object's spec as generic JSON, defaults of the server
// applied to the file's side too (the original client sends them empty).
func specOf(t *testing.T, o api.Object) any {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Spec any }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Spec
}

// TestFilesAsArguments: create, apply, update and delete take files as
// arguments like the original humcli, next to -f.
func TestFilesAsArguments(t *testing.T) {
	e := newEnv(t)
	files := []string{"../../examples/seed/01-group.yaml", "../../examples/seed/02-namespace.yaml"}
	r := e.mustRun(append([]string{"create"}, files...)...)
	if r.stdout != "group group1 created\nnamespace group1/ns1 created\n" {
		t.Fatalf("create FILE FILE:\n%s", r.stdout)
	}
	r = e.mustRun("apply", files[1], "-f", files[0])
	if r.stdout != "group group1 unchanged\nnamespace group1/ns1 unchanged\n" {
		t.Fatalf("apply FILE -f FILE:\n%s", r.stdout)
	}
	net := "../../examples/seed/05-network.yaml"
	e.mustRun("create", net)
	e.mustRun("update", net)
	if r := e.mustRun("delete", net); r.stdout != "network group1/ns1/net1 deleted\n" {
		t.Fatalf("delete FILE:\n%s", r.stdout)
	}
	// A kind where a file was meant, and a missing file, are named.
	if r := e.run("create", "vm"); r.code != 1 || !strings.Contains(r.stderr, `not a kind: "vm" is a kind`) {
		t.Errorf("create vm: %v", r)
	}
	if r := e.run("apply", "missing.yaml"); r.code != 1 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("apply missing.yaml: %v", r)
	}
	if r := e.run("delete", "missing.yaml"); r.code != 1 || !strings.Contains(r.stderr, "missing.yaml: no such file") {
		t.Errorf("delete missing.yaml: %v", r)
	}
}

// TestScopeSpellingsAreOneFlag: -g, --g and --group set one flag, so the
// config file's group yields to any of them.
func TestScopeSpellingsAreOneFlag(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	cfg := writeFile(t, "humcli.yaml", "group: nosuch\nnamespace: nosuch\n")
	for _, sp := range [][]string{{"--g", "group1", "--n", "ns1"}, {"-g", "group1", "-n", "ns1"}, {"--group", "group1", "--namespace", "ns1"}} {
		r := e.mustRun(append([]string{"get", "vm", "--config", cfg}, sp...)...)
		if !hasRow(r.stdout, "vm1") {
			t.Errorf("get vm %v with a config naming another scope:\n%s", sp, r.stdout)
		}
	}
	if r := e.run("get", "vm", "--group", "Bad_Group"); r.code != 1 || !strings.Contains(r.stderr, `"Bad_Group": want a group id`) {
		t.Errorf("--group with a bad id: %v", r)
	}
}
