package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

func TestUnknownKind(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{{"get", "vms2"}, {"watch", "foo"}, {"delete", "foo", "x"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := e.run(args...)
			if r.code != 1 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, `unknown kind "`+args[1]+`"`) {
				t.Fatalf("want one unknown-kind error line, got %v", r)
			}
			for _, k := range api.Kinds() {
				if !strings.Contains(r.stderr, k.Name) {
					t.Errorf("valid kind %s not listed: %s", k.Name, r.stderr)
				}
			}
			if !strings.Contains(r.stderr, "virtualmachine (vm)") {
				t.Errorf("aliases not listed: %s", r.stderr)
			}
		})
	}
}

// TestGetOutputRoundTrips: what get -o yaml/json prints decodes back into
// the same objects, and applying it changes nothing.
func TestGetOutputRoundTrips(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	tests := []struct {
		name string
		args []string
		want int // objects
		dec  func(string) ([]api.Object, error)
	}{
		{"one as yaml", []string{"get", "vm", "vm1", "-o", "yaml"}, 1, decodeDocs},
		{"one as json", []string{"get", "vm", "vm1", "-o", "json"}, 1, decodeDocs},
		{"list as yaml", []string{"get", "bs", "-o", "yaml"}, 2, decodeDocs},
		{"list as json", []string{"get", "bs", "-o", "json"}, 2, decodeJSONList},
		{"ids as json", []string{"get", "bs", "bs1", "bs2", "-o", "json"}, 2, decodeJSONList},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.mustRun(append(tc.args, "--g", "group1", "--n", "ns1")...)
			objs, err := tc.dec(r.stdout)
			if err != nil || len(objs) != tc.want {
				t.Fatalf("decoded %d objects (want %d): %v\n%s", len(objs), tc.want, err, r.stdout)
			}
			for _, o := range objs {
				m := o.GetMeta()
				if m.Group != "group1" || m.Namespace != "ns1" || m.ResourceVersion == "" || m.CreationTimestamp == nil {
					t.Errorf("meta not round-tripped: %+v", m)
				}
			}
			a := e.runStdin(r.stdout, "apply", "-f", "-")
			if a.code != 0 || strings.Count(a.stdout, " unchanged\n") != tc.want {
				t.Errorf("re-applying the output: %v", a)
			}
		})
	}
	t.Run("vm spec survives", func(t *testing.T) {
		objs, _ := decodeDocs(e.mustRun("get", "vm", "vm1", "-o", "yaml", "--g=group1", "--n=ns1").stdout)
		vm := objs[0].(*api.VirtualMachine)
		if vm.Spec.LimitVcpus != "1000m" || len(vm.Spec.LoginUsers) != 1 || vm.Spec.NICs[0].DefaultGateway != "10.0.0.254" {
			t.Errorf("spec changed: %+v", vm.Spec)
		}
	})
}

func decodeDocs(s string) ([]api.Object, error) {
	var out []api.Object
	for _, d := range api.SplitDocuments([]byte(s)) {
		o, err := api.Decode(d)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func decodeJSONList(s string) ([]api.Object, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raws); err != nil {
		return nil, err
	}
	return decodeDocs(string(joinDocs(raws)))
}

func joinDocs(raws []json.RawMessage) []byte {
	var b []byte
	for _, r := range raws {
		b = append(append(b, r...), "\n---\n"...)
	}
	return b
}

func TestGetTable(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	tests := []struct {
		name    string
		args    []string
		header  []string // first cells of the header
		rows    int
		absent  string
		stderr  string
		exitErr bool
	}{
		{"one scope", []string{"get", "vm", "--g=group1", "--n=ns1"}, []string{"ID", "STATE", "ACTION"}, 1, "NAMESPACE", "", false},
		{"all scopes", []string{"get", "vm", "-A"}, []string{"ID", "GROUP", "NAMESPACE", "STATE"}, 1, "", "", false},
		{"group kind, all scopes", []string{"get", "images", "--all-namespaces"}, []string{"ID", "GROUP", "TAGS"}, 1, "NAMESPACE", "", false},
		{"cluster kind ignores -A", []string{"get", "eippool", "-A"}, []string{"ID", "CIDR"}, 1, "GROUP", "", false},
		{"empty scope", []string{"get", "vm", "--g=group1", "--n=other"}, nil, 0, "", "No virtualmachines found in namespace group1/other.", false},
		{"one by id", []string{"get", "ns", "ns1", "--g=group1"}, []string{"ID", "NAME", "STATE", "MESSAGE", "AGE"}, 1, "", "", false},
		{"missing id", []string{"get", "ns", "ns1", "nope", "--g=group1"}, []string{"ID"}, 1, "", "error: namespace group1/nope not found", true},
		{"bad format", []string{"get", "vm", "-o", "xml"}, nil, 0, "", `error: -o "xml": want one of table, yaml, json`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(tc.args...)
			if (r.code != 0) != tc.exitErr || strings.TrimSpace(r.stderr) != tc.stderr {
				t.Fatalf("got %v", r)
			}
			ls := lines(r.stdout)
			if tc.header == nil {
				if len(ls) != 0 {
					t.Errorf("want no table, got:\n%s", r.stdout)
				}
				return
			}
			h := strings.Fields(ls[0])
			if strings.Join(h[:len(tc.header)], " ") != strings.Join(tc.header, " ") || h[len(h)-1] != "AGE" {
				t.Errorf("header %q, want it to start with %q and end with AGE", ls[0], tc.header)
			}
			if tc.absent != "" && strings.Contains(ls[0], tc.absent) {
				t.Errorf("header %q must not have %s", ls[0], tc.absent)
			}
			if len(ls)-1 != tc.rows {
				t.Errorf("want %d rows:\n%s", tc.rows, r.stdout)
			}
		})
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "0s"},
		{5 * time.Second, "5s"},
		{-time.Second, "0s"}, // clock skew: never negative
		{59 * time.Second, "59s"},
		{3*time.Minute + 10*time.Second, "3m"},
		{2*time.Hour + 59*time.Minute, "2h"},
		{4*24*time.Hour + time.Hour, "4d"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			ts := now.Add(-tc.ago)
			if got := age(&ts, now); got != tc.want {
				t.Errorf("age(%v) = %q, want %q", tc.ago, got, tc.want)
			}
		})
	}
	if age(nil, now) != "-" {
		t.Error("no timestamp must print -")
	}
}
