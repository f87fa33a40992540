package secgroup

import (
	"os"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/registry"
)

// TestExample: examples/network-services/securitygroup.yaml decodes and
// passes the API server's validation, and its VM's NIC is filtered.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("../../../examples/network-services/securitygroup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := view{groups: map[ref]*api.SecurityGroup{}, nets: map[ref]*api.Network{}}
	for _, doc := range api.SplitDocuments(data) {
		obj, err := api.Decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := api.KindOf(obj)
		s := registry.For(k)
		s.Default(obj)
		if err := s.Validate(obj); err != nil {
			t.Fatalf("%s: %v", k.Name, err)
		}
		switch x := obj.(type) {
		case *api.SecurityGroup:
			v.groups[ref{x.Meta.Group, x.Meta.Namespace, x.Meta.ID}] = x
		case *api.VirtualMachine:
			v.vms = append(v.vms, x)
		}
	}
	// The members the Core agent would write.
	for r, g := range v.groups {
		g.Status.Members = core.SecurityGroupMembers(r.group, r.namespace, r.id, v.vms)
	}
	nics, problems := resolve(v)
	if len(nics) != 1 || len(problems) != 0 || len(nics[0].Ingress) != 3 {
		t.Fatalf("nics %+v, problems %+v", nics, problems)
	}
}
