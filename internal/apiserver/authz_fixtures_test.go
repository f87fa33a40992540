package apiserver_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// The authorization matrix's fixtures: one object of every kind.

// fixture is one kind's object: its key and id, its JSON for updates, and
// a create body with a fresh id (@fresh@).
type fixture struct {
	key, id, body, fresh string
	obj                  api.Object
}

// fixtures makes one valid object of every kind, in g1/ns1 where scoped,
// placed on node-a where placed.
func fixtures(t *testing.T) map[*api.Kind]fixture {
	objs := []api.Object{}
	for _, name := range []string{"group", "namespace", "externalippool", "externalip", "network", "virtualrouter",
		"imageentity", "image", "blockstorage", "virtualmachine"} {
		objs = append(objs, seedFixture(t, name))
	}
	node := api.NodeKind.New().(*api.Node)
	node.Meta.ID, node.Spec.Address = "node-a", "172.31.0.2"
	lease := api.LeaseKind.New().(*api.Lease)
	lease.Meta.ID, lease.Spec.HolderIdentity = "core-controllers", "node-a"
	tok := api.TokenKind.New().(*api.Token)
	tok.Meta.ID, tok.Spec.Owner = "t1", "someone"
	_, tok.Status.Salt, tok.Status.Hash, _ = auth.IssueToken("t1")
	role := api.RoleKind.New().(*api.Role)
	role.Meta.ID = "r1"
	role.Spec.Rules = []api.PolicyRule{{Kinds: []string{"virtualmachine"}, Verbs: []string{"get"}}}
	rb := api.RoleBindingKind.New().(*api.RoleBinding)
	rb.Meta.ID, rb.Spec.Role = "rb1", "r1"
	rb.Spec.Subjects = []api.Subject{{Kind: api.SubjectUser, Name: "nobody"}}
	crb := api.ClusterRoleBindingKind.New().(*api.ClusterRoleBinding)
	crb.Meta.ID, crb.Spec.Role = "crb1", "r1"
	crb.Spec.Subjects = rb.Spec.Subjects
	link := api.ConsoleLinkKind.New().(*api.ConsoleLink)
	link.Meta.ID = "l1"
	link.Spec = api.ConsoleLinkSpec{VirtualMachineID: objs[len(objs)-1].GetMeta().ID, ExpiresAt: "2100-01-01T00:00:00Z"}
	mig := api.MigrationKind.New().(*api.Migration)
	mig.Meta.ID = "m1"
	mig.Spec.VirtualMachineID = link.Spec.VirtualMachineID
	mig.Status = api.MigrationStatus{Phase: api.MigrationStopping, SourceNode: "node-a", TargetNode: "node-a"}
	ev := api.EventKind.New().(*api.Event)
	ev.Meta.ID = "ev1"
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev.Spec = api.EventSpec{Type: api.EventWarning, Reason: "StartFailed", Message: "no", Count: 1,
		FirstTimestamp: at, LastTimestamp: at, Source: api.EventSource{Component: "vm", Node: "node-a"},
		InvolvedObject: api.ObjectReference{APIType: api.VirtualMachineKind.APIType, Group: "g1", Namespace: "ns1",
			ID: link.Spec.VirtualMachineID}}
	quota := api.QuotaKind.New().(*api.Quota)
	quota.Meta.ID = "q1"
	quota.Spec.Hard.VirtualMachines = new(int64(1000))
	sg := api.SecurityGroupKind.New().(*api.SecurityGroup)
	sg.Meta.ID = "sg1"
	sg.Spec.Rules = []api.SecurityGroupRule{{Direction: api.DirectionIngress, Protocol: api.ProtocolTCP, Ports: "22"}}
	objs = append(objs, node, lease, tok, role, rb, crb, link, mig, ev, quota, sg)
	objs = append(objs, envFixtures(link.Spec.VirtualMachineID)...)

	out := map[*api.Kind]fixture{}
	for _, o := range objs {
		k, err := api.KindOf(o)
		if err != nil {
			t.Fatal(err)
		}
		m := o.GetMeta()
		switch k {
		case api.GroupKind:
			m.ID = "g1"
		case api.NamespaceKind:
			m.ID = "ns1"
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			m.Annotations[api.AnnotationEnvironment], m.Annotations[api.AnnotationEnvironmentCopy] = "e1", "0"
		}
		if k.Scope >= api.ScopeGroup {
			m.Group = "g1"
		}
		if k.Scope == api.ScopeNamespace {
			m.Namespace = "ns1"
		}
		for _, a := range []string{api.AnnotationVirtualMachineNode, api.AnnotationBlockStorageNode, api.AnnotationRouterNode} {
			if _, ok := m.Annotations[a]; ok {
				m.Annotations[a] = "node-a"
			}
		}
		if ie, ok := o.(*api.ImageEntity); ok {
			ie.Status.Node = "node-a"
		}
		body, err := api.Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		id := m.ID
		m.ID = "@fresh@"
		fresh, _ := api.Encode(o)
		m.ID = id
		out[k] = fixture{key: key(k, m), id: id, body: string(body), fresh: string(fresh), obj: o}
	}
	for _, k := range api.Kinds() {
		if _, ok := out[k]; !ok {
			t.Errorf("no matrix fixture for kind %s", k.Name)
		}
	}
	return out
}

// envFixtures are the environment kinds' objects: a VM snapshot taken on
// node-a, a template of one network, an environment of it and a finished
// reset (an unfinished one would make the API server refuse the next
// reset in ns1: the rate limit). ns1 is the environment's copy "0" (the
// namespace fixture's annotations), so resets may be created there.
func envFixtures(vm string) []api.Object {
	snap := api.SnapshotKind.New().(*api.Snapshot)
	snap.Meta.ID, snap.Spec.VirtualMachineID = "s1", vm
	snap.Status = api.SnapshotStatus{State: api.SnapshotReady, Node: "node-a"}
	tpl := api.TemplateKind.New().(*api.Template)
	tpl.Meta.ID = "t1"
	tpl.Spec.Parameters = []api.TemplateParameter{{Name: "vni", Range: "100-199"}}
	tpl.Spec.Resources = []json.RawMessage{json.RawMessage(`{"meta":{"apiType":"systemv0/network","id":"net1",` +
		`"annotations":{"networkv0/network_type":"VXLAN"}},"spec":{"id":"${vni}","ipv4CIDR":"10.0.0.0/24"}}`)}
	env := api.EnvironmentKind.New().(*api.Environment)
	env.Meta.ID, env.Spec.TemplateID, env.Spec.Count = "e1", "t1", 1
	reset := api.ResetKind.New().(*api.Reset)
	reset.Meta.ID = "r1"
	reset.Status = api.ResetStatus{Phase: api.ResetSucceeded, Environment: "e1", Copy: "0"}
	return []api.Object{snap, tpl, env, reset}
}

func key(k *api.Kind, m *api.Meta) string {
	switch k.Scope {
	case api.ScopeGroup:
		return "/" + k.Plural + "/" + m.Group + "/" + m.ID
	case api.ScopeNamespace:
		return "/" + k.Plural + "/" + m.Group + "/" + m.Namespace + "/" + m.ID
	}
	return "/" + k.Plural + "/" + m.ID
}
