package uitest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestContestDecodes checks without a lab that every document of
// testdata/contest.yaml decodes strictly as its kind, the template's
// resources too with sample values: a typo fails here, not a minute into
// a lab run.
func TestContestDecodes(t *testing.T) {
	b, err := os.ReadFile("testdata/contest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sample := strings.NewReplacer("${vni}", "4300", "${copy}", "team-a",
		"IMAGE_URL", "http://172.31.0.254/disk.qcow2", "SSH_KEY", "ssh-ed25519 AAAA test")
	kinds := map[string]int{}
	for i, doc := range strings.Split(string(b), "\n---\n") {
		obj, err := api.Decode([]byte(sample.Replace(doc)))
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		k, _ := api.KindOf(obj)
		kinds[k.Name]++
		tp, ok := obj.(*api.Template)
		if !ok {
			continue
		}
		for j, raw := range tp.Spec.Resources {
			r, err := api.DecodeJSON([]byte(sample.Replace(string(raw))))
			if err != nil {
				t.Fatalf("template %s: spec.resources[%d]: %v", tp.Meta.ID, j, err)
			}
			k, _ := api.KindOf(r)
			kinds["template "+k.Name]++
		}
	}
	want := map[string]int{"group": 1, "namespace": 1, "blockstorage": 1, "imageentity": 1, "image": 1, "template": 1,
		"environment": 1, "template network": 1, "template blockstorage": 1, "template virtualmachine": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}
