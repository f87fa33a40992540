package envlab_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/humstack/humstack/api"
)

// TestTestdataDecodes checks, without a lab, that every document of the
// testdata decodes strictly as its kind, and that every resource of the
// templates does too once its parameters are replaced by sample values:
// a typo in a YAML file fails here rather than minutes into a lab run.
func TestTestdataDecodes(t *testing.T) {
	docs := map[string]string{}
	for _, f := range []string{"base.yaml", "team.yaml", "team-env.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = string(b)
	}
	tpl, err := template.ParseFiles(filepath.Join("testdata", "fleet.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, map[string]any{"ID": "fleet", "VMs": 2, "Names": []string{"vm01", "vm02"},
		"Host": map[string]int{"vm01": 1, "vm02": 2}}); err != nil {
		t.Fatal(err)
	}
	docs["fleet.yaml.tmpl"] = b.String()
	sample := strings.NewReplacer("${vni}", "4100", "${eip}", "192.168.10.10", "${natgw}", "192.168.10.11",
		"${copy}", "0", "IMAGE_URL", "http://172.31.0.254/disk.qcow2", "SSH_KEY", "ssh-ed25519 AAAA test")
	kinds := map[string]int{}
	for name, text := range docs {
		for i, doc := range strings.Split(text, "\n---\n") {
			obj, err := api.Decode([]byte(doc))
			if err != nil {
				t.Fatalf("%s document %d: %v", name, i, err)
			}
			tp, ok := obj.(*api.Template)
			if !ok {
				continue
			}
			for j, raw := range tp.Spec.Resources {
				r, err := api.DecodeJSON([]byte(sample.Replace(string(raw))))
				if err != nil {
					t.Fatalf("%s: spec.resources[%d]: %v", name, j, err)
				}
				k, _ := api.KindOf(r)
				kinds[k.Name]++
				if strings.Contains(string(raw), `"group"`) || strings.Contains(string(raw), `"namespace":`) {
					t.Errorf("%s: spec.resources[%d] sets meta.group or meta.namespace", name, j)
				}
			}
		}
	}
	want := map[string]int{"network": 2, "externalip": 1, "virtualrouter": 1, "blockstorage": 4, "virtualmachine": 4}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("templates hold %d %s resources, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}
