package registry

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

const seedDir = "testdata/seed"

// seedFiles lists the README's examples.
func seedFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(seedDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed files in %s: %v", seedDir, err)
	}
	return files
}

// decodeFile decodes the single object of a YAML file.
func decodeFile(t testing.TB, path string) api.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := api.SplitDocuments(data)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", path, len(docs))
	}
	obj, err := api.Decode(docs[0])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

// base returns a fresh valid object: a seed example by file name, or for
// kinds the README has no example of, one built here.
func base(t testing.TB, name string) api.Object {
	t.Helper()
	if name == "node" {
		return &api.Node{
			Meta:   api.Meta{ID: "worker1", APIType: api.NodeKind.APIType},
			Spec:   api.NodeSpec{Address: "192.168.10.1", LimitMemory: "8G", LimitVcpus: "8000m", AgentMode: "All"},
			Status: api.NodeStatus{State: api.NodeReady},
		}
	}
	return decodeFile(t, filepath.Join(seedDir, name+".yaml"))
}

func strategyOf(t testing.TB, obj api.Object) Strategy {
	t.Helper()
	k, err := api.KindOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	s := For(k)
	if s == nil {
		t.Fatalf("no strategy for %s", k.APIType)
	}
	return s
}

// edit turns a typed mutation into one on api.Object, so table rows read
// edit(func(n *api.Network) { ... }).
func edit[R any](f func(*R)) func(api.Object) {
	return func(o api.Object) { f(any(o).(*R)) }
}

// fieldsOf lists the fields named by errors.
func fieldsOf(fe api.FieldErrors) []string {
	var fs []string
	for _, e := range fe {
		fs = append(fs, e.Field)
	}
	return fs
}

// expectField checks that fe is empty when want is "", else that every
// error names want (so a rule reports its own field and nothing else fires).
func expectField(t *testing.T, fe api.FieldErrors, want string) {
	t.Helper()
	switch {
	case want == "" && len(fe) > 0:
		t.Errorf("want valid, got %v", fe.Err())
	case want != "" && len(fe) == 0:
		t.Errorf("want an error on %s, got none", want)
	case want != "" && slices.ContainsFunc(fieldsOf(fe), func(f string) bool { return f != want }):
		t.Errorf("want errors only on %s, got %v (%v)", want, fieldsOf(fe), fe.Err())
	}
}

func setAnnotation(m *api.Meta, key, value string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = value
}

func long(n int) string { return strings.Repeat("a", n) }
