package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/registry"
)

// fileFlags are the -f/-R flags of commands that read manifests.
type fileFlags struct {
	files     []string
	recursive bool
}

func (f *fileFlags) register(cmd *cobra.Command, verb string) {
	// StringArray, not StringSlice: a comma is a legal file-name character.
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil,
		"file, directory (its *.yaml, *.yml, *.json) or - for stdin holding the objects to "+verb+"; repeatable")
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "read directories given with -f recursively")
}

// manifest is one object read from a file, with where it came from so an
// error can point at it.
type manifest struct {
	obj    api.Object
	kind   *api.Kind
	origin string // e.g. "vm.yaml (document 2)"
}

func (m manifest) name() string { return objectName(m.kind, m.obj.GetMeta()) }

// source is the content of one file (or stdin).
type source struct {
	name string
	data []byte
}

// readSources expands -f arguments into file contents, directories in
// sorted order so a numbered directory applies predictably.
func readSources(f fileFlags, stdin io.Reader) ([]source, error) {
	var out []source
	usedStdin := false
	for _, p := range f.files {
		if p == "-" {
			if usedStdin {
				return nil, fmt.Errorf("-f - given more than once")
			}
			usedStdin = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read stdin: %w", err)
			}
			out = append(out, source{name: "(stdin)", data: data})
			continue
		}
		srcs, err := readPath(p, f.recursive)
		if err != nil {
			return nil, err
		}
		out = append(out, srcs...)
	}
	return out, nil
}

func readPath(p string, recursive bool) ([]source, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		data, err := os.ReadFile(p)
		return []source{{name: p, data: data}}, err
	}
	files, err := manifestFiles(p, recursive)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json files", p)
	}
	var out []source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, source{name: f, data: data})
	}
	return out, nil
}

// manifestFiles lists a directory's manifest files, sorted.
func manifestFiles(dir string, recursive bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// decodeOptions say how much to check before anything is sent.
type decodeOptions struct {
	group, namespace string
	// validate runs the kind's own validation, as the server will; delete
	// needs only the object's identity.
	validate bool
}

// decodeAll decodes every document of every source. It returns all
// manifests and one error line per bad document; the caller sends nothing
// unless the error list is empty.
func decodeAll(srcs []source, opts decodeOptions) ([]manifest, []error) {
	var out []manifest
	var errs []error
	for _, src := range srcs {
		for i, doc := range api.SplitDocuments(src.data) {
			origin := fmt.Sprintf("%s (document %d)", src.name, i+1)
			ms, err := decodeDocument(doc, origin, opts)
			if err != nil {
				errs = append(errs, err)
			}
			out = append(out, ms...)
		}
	}
	return out, errs
}

// decodeDocument decodes one document: an object, or a list of objects as
// `get -o json` prints for a list.
func decodeDocument(doc []byte, origin string, opts decodeOptions) ([]manifest, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(js), []byte("[")) {
		m, err := decodeObject(func() (api.Object, error) { return api.Decode(doc) }, origin, opts)
		return []manifest{m}, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(js, &items); err != nil {
		return nil, fmt.Errorf("%s: %v", origin, err)
	}
	var out []manifest
	for j, item := range items {
		o := fmt.Sprintf("%s, item %d)", strings.TrimSuffix(origin, ")"), j+1)
		m, err := decodeObject(func() (api.Object, error) { return api.DecodeJSON(item) }, o, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func decodeObject(decode func() (api.Object, error), origin string, opts decodeOptions) (manifest, error) {
	obj, err := decode()
	if err != nil {
		return manifest{}, fmt.Errorf("%s: %v", origin, err)
	}
	k, err := api.KindOf(obj)
	if err != nil {
		return manifest{}, fmt.Errorf("%s: %v", origin, err)
	}
	defaultScope(k, obj.GetMeta(), opts)
	m := manifest{obj: obj, kind: k, origin: origin}
	if err := check(k, obj, opts.validate); err != nil {
		return manifest{}, fmt.Errorf("%s: %s: %v", origin, m.name(), err)
	}
	return m, nil
}

// defaultScope fills the group and namespace a file left out from --g/--n,
// only where the kind's scope has them.
func defaultScope(k *api.Kind, m *api.Meta, opts decodeOptions) {
	if k.Scope >= api.ScopeGroup && m.Group == "" {
		m.Group = opts.group
	}
	if k.Scope == api.ScopeNamespace && m.Namespace == "" {
		m.Namespace = opts.namespace
	}
}

// check validates an object client-side so a bad document stops the whole
// invocation before anything is written. The kind's strategy runs on a
// copy: defaulting must not change what is sent.
func check(k *api.Kind, obj api.Object, full bool) error {
	if !full {
		return checkIdentity(k, obj.GetMeta())
	}
	cp, err := clone(k, obj)
	if err != nil {
		return err
	}
	// Status is the agents'; the server ignores what a file says about it.
	cp.SetStatusFrom(k.New())
	st := registry.For(k)
	st.Default(cp)
	return st.Validate(cp).Err()
}

// checkIdentity checks only what addresses the object.
func checkIdentity(k *api.Kind, m *api.Meta) error {
	var fe api.FieldErrors
	field := func(name, v string, needed bool) {
		if needed && !api.IsID(v) {
			fe.Add(name, "invalid id %q (want a DNS label)", v)
		}
	}
	field("meta.id", m.ID, true)
	field("meta.group", m.Group, k.Scope >= api.ScopeGroup)
	field("meta.namespace", m.Namespace, k.Scope == api.ScopeNamespace)
	return fe.Err()
}

// sortByRank orders manifests so owners come before what they own (create)
// or after (delete); objects of one rank keep file order.
func sortByRank(ms []manifest, reverse bool) {
	sort.SliceStable(ms, func(i, j int) bool {
		if reverse {
			return ms[i].kind.Rank > ms[j].kind.Rank
		}
		return ms[i].kind.Rank < ms[j].kind.Rank
	})
}

// loadManifests reads and decodes -f, printing each bad document; it fails
// as a whole if any document is bad, so nothing half-applies.
func (a *app) loadManifests(f fileFlags, validate bool) ([]manifest, error) {
	if len(f.files) == 0 {
		return nil, fmt.Errorf("no objects given: use -f FILE or FILE... (a file, a directory, or - for stdin)")
	}
	srcs, err := readSources(f, a.stdin)
	if err != nil {
		return nil, err
	}
	ms, errs := decodeAll(srcs, decodeOptions{group: a.global.group, namespace: a.global.namespace, validate: validate})
	for _, err := range errs {
		a.errorf("%s", message(err))
	}
	if len(errs) > 0 {
		return nil, errReported
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no objects found in %s", strings.Join(f.files, ", "))
	}
	return ms, nil
}
