package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.json", "a.yaml", "notes.txt", "sub/c.yml"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	tests := []struct {
		name  string
		flags fileFlags
		want  string // source names, relative to dir
		err   string
	}{
		{"directory, sorted, not recursive", fileFlags{files: []string{dir}}, "a.yaml b.json", ""},
		{"directory, recursive", fileFlags{files: []string{dir}, recursive: true}, "a.yaml b.json sub/c.yml", ""},
		{"file and stdin", fileFlags{files: []string{filepath.Join(dir, "notes.txt"), "-"}}, "notes.txt (stdin)", ""},
		{"stdin twice", fileFlags{files: []string{"-", "-"}}, "", "-f - given more than once"},
		{"empty directory", fileFlags{files: []string{empty}}, "", "no *.yaml, *.yml or *.json files"},
		{"missing", fileFlags{files: []string{filepath.Join(dir, "nope.yaml")}}, "", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := readSources(tc.flags, strings.NewReader("stdin"))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range srcs {
				rel, _ := filepath.Rel(dir, s.name)
				if s.name == "(stdin)" {
					rel = s.name
				}
				names = append(names, filepath.ToSlash(rel))
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecodeList: a JSON or YAML list (get -o json of a list) is read as
// its items, and a bad item is named by document and item.
func TestDecodeList(t *testing.T) {
	tests := []struct {
		name, doc string
		n         int
		err       string
	}{
		{"json array", `[{"meta":{"apiType":"corev0/group","id":"a"}},{"meta":{"apiType":"corev0/group","id":"b"}}]`, 2, ""},
		{"yaml sequence", "- meta: {apiType: corev0/group, id: a}\n", 1, ""},
		{"bad item", `[{"meta":{"apiType":"corev0/group","id":"a"}},{"meta":{"apiType":"corev0/group"}}]`, 0,
			"f.json (document 1, item 2): group : meta.id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, errs := decodeAll([]source{{name: "f.json", data: []byte(tc.doc)}}, decodeOptions{validate: true})
			if tc.err != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, errs)
				}
				return
			}
			if len(errs) != 0 || len(ms) != tc.n {
				t.Fatalf("got %d objects, errors %v", len(ms), errs)
			}
		})
	}
}
