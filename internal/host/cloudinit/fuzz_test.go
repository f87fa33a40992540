package cloudinit

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"

	"github.com/humstack/humstack/api"
)

// keysOf parses doc as a YAML mapping and returns its keys, sorted.
func keysOf(t *testing.T, doc []byte, into any) []string {
	t.Helper()
	if err := yaml.Unmarshal(doc, into); err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, doc)
	}
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatalf("output is not a mapping: %v\n%s", err, doc)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func FuzzUserData(f *testing.F) {
	f.Add("alice", keyEd, keyRSA)
	f.Add("bob", "x: y\nusers: []", "#cloud-config")
	f.Add("_a-1", "'\"{[&*!|>%@`", "ssh-rsa AAAA  two  spaces ")
	f.Fuzz(func(t *testing.T, name, k1, k2 string) {
		in := []api.LoginUser{{Username: name, SSHAuthorizedKeys: []string{k1, k2}}}
		out, err := UserData(in)
		if err != nil {
			return // rejected input: the renderer's checks are tested elsewhere
		}
		if !strings.HasPrefix(string(out), cloudConfigHeader) {
			t.Fatalf("no #cloud-config header:\n%s", out)
		}
		var got cloudConfig
		if keys := keysOf(t, out, &got); !reflect.DeepEqual(keys, []string{"ssh_pwauth", "users"}) {
			t.Fatalf("top-level keys %v:\n%s", keys, out)
		}
		want := cloudConfig{Users: []cloudUser{{Name: name, SSHAuthorizedKeys: []string{k1, k2}, Sudo: userSudo, Shell: userShell}}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip: got %+v, want %+v\n%s", got, want, out)
		}
		var raw struct {
			Users []map[string]any `yaml:"users"`
		}
		keysOf(t, out, &raw)
		if len(raw.Users) != 1 || len(raw.Users[0]) != 4 {
			t.Fatalf("user entry has other keys: %v\n%s", raw.Users, out)
		}
	})
}

func FuzzMetaData(f *testing.F) {
	f.Add("3f2b8c1e-6a43-4e0f-9d1c-2b7d5e8a9c10", "web-1")
	f.Add("yes", "on")
	f.Add("i: x\nlocal-hostname: evil", "1e3")
	f.Fuzz(func(t *testing.T, id, host string) {
		out, err := MetaData(id, host)
		if err != nil {
			return
		}
		var got metaData
		if keys := keysOf(t, out, &got); !reflect.DeepEqual(keys, []string{"instance-id", "local-hostname"}) {
			t.Fatalf("keys %v:\n%s", keys, out)
		}
		if got != (metaData{InstanceID: id, LocalHostname: host}) {
			t.Fatalf("round trip: got %+v\n%s", got, out)
		}
	})
}
