package core_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

const ctfEnv = "meta: {apiType: corev0/environment, id: ctf, group: contest}\nspec: {templateID: lab, count: 3}"

// TestEnvironmentStampsCopies: three copies of the example template, each
// in its namespace with every resource, distinct network ids and external
// addresses (never one already in use), the same internal addresses and
// MACs; the controller re-makes what is missing and never overwrites.
func TestEnvironmentStampsCopies(t *testing.T) {
	l := startEnvLab(t)
	// VNI 10000 is taken by a network outside any environment, and
	// 192.168.10.1 by an external IP: neither is handed out.
	l.Create(t, "meta: {apiType: corev0/namespace, id: other, group: contest}")
	l.Create(t, "meta: {apiType: systemv0/network, id: n, group: contest, namespace: other, annotations: {networkv0/network_type: VXLAN}}\nspec: {id: \"10000\", ipv4CIDR: 10.9.0.0/24}")
	l.Create(t, "meta: {apiType: corev0/externalip, id: e, group: contest, namespace: other}\nspec: {poolID: eippool, ipv4Address: 192.168.10.1}")
	l.Create(t, ctfEnv)
	env := l.readyWith(t, "ctf", 3)

	vnis, addrs := map[string]string{}, map[string]string{}
	var macs []string
	for i, c := range env.Status.Copies {
		if c.Name != strconv.Itoa(i) || c.Index != i || c.Namespace != "ctf-"+c.Name || c.State != api.EnvReady {
			t.Fatalf("copy %d: %+v", i, c)
		}
		ns, err := client.For[*api.Namespace](l.Client).Get(context.Background(), client.Scope{Group: "contest"}, c.Namespace)
		if err != nil || ns.Meta.Annotations[api.AnnotationEnvironment] != "ctf" || ns.Meta.Annotations[api.AnnotationEnvironmentCopy] != c.Name {
			t.Fatalf("namespace %s: %v %v", c.Namespace, err, ns)
		}
		v := c.Values
		for _, u := range []struct {
			seen map[string]string
			val  string
		}{{vnis, v["vni"]}, {addrs, v["eip"]}, {addrs, v["natip"]}} {
			if prev, dup := u.seen[u.val]; dup {
				t.Fatalf("copy %s value %s also copy %s's", c.Name, u.val, prev)
			}
			u.seen[u.val] = c.Name
		}
		if v["vni"] == "10000" || v["eip"] == "192.168.10.1" || v["natip"] == "192.168.10.1" || v["image"] != "tiny" {
			t.Fatalf("copy %s values %v", c.Name, v)
		}
		nets := inCopy[*api.Network](t, l.Client, c.Namespace)
		eips := inCopy[*api.ExternalIP](t, l.Client, c.Namespace)
		vrs := inCopy[*api.VirtualRouter](t, l.Client, c.Namespace)
		vms := inCopy[*api.VirtualMachine](t, l.Client, c.Namespace)
		disks := inCopy[*api.BlockStorage](t, l.Client, c.Namespace)
		if len(nets) != 1 || len(eips) != 1 || len(vrs) != 1 || len(vms) != 2 || len(disks) != 2 {
			t.Fatalf("copy %s holds %d networks, %d eips, %d routers, %d VMs, %d disks", c.Name, len(nets), len(eips), len(vrs), len(vms), len(disks))
		}
		if nets["net"].Spec.ID != v["vni"] || eips["eip"].Spec.IPv4Address != v["eip"] || vrs["router"].Spec.NATGatewayIP != v["natip"] {
			t.Fatalf("copy %s objects do not carry its values %v", c.Name, v)
		}
		vm1 := vms["vm1"]
		if vm1.Spec.NICs[0].IPv4Address != "10.0.0.1" || vm1.Spec.Hostname != "vm1-"+c.Name ||
			vm1.Meta.Annotations[api.AnnotationTemplateResource] != "virtualmachine/vm1" || vm1.Meta.Annotations[api.AnnotationVirtualMachineNode] != "" {
			t.Fatalf("copy %s vm1 %+v", c.Name, vm1.Meta)
		}
		copyMACs := fmt.Sprint(vm1.Spec.NICs[0].MACAddress, vms["vm2"].Spec.NICs[0].MACAddress, vrs["router"].Spec.NICs[0].MACAddress)
		if i > 0 && copyMACs != macs[0] {
			t.Fatalf("copy %s MACs %s, copy 0's %s", c.Name, copyMACs, macs[0])
		}
		macs = append(macs, copyMACs)
		if vm1.Spec.NICs[0].MACAddress == "" || vm1.Spec.NICs[0].MACAddress == vms["vm2"].Spec.NICs[0].MACAddress {
			t.Fatalf("MACs %s", copyMACs)
		}
	}
	for a := range addrs {
		if !netip.MustParsePrefix("192.168.10.0/24").Contains(netip.MustParseAddr(a)) || a == "192.168.10.254" || a == "192.168.10.0" {
			t.Fatalf("address %s", a)
		}
	}
	t.Logf("values: %v", valuesOf(env))
	if !conditions.IsTrue(env.Status.Conditions, api.ConditionReady) {
		t.Fatalf("conditions %+v", env.Status.Conditions)
	}

	// A team changes vm1 and deletes vm2 of copy 1: vm1 stays as changed,
	// vm2 is made again, with its MAC.
	vm1 := inCopy[*api.VirtualMachine](t, l.Client, "ctf-1")["vm1"]
	if _, err := controller.Update(context.Background(), l.Client, vm1, func(v *api.VirtualMachine) bool {
		v.Spec.NICs[0].IPv4Address = "10.0.0.9"
		return true
	}); err != nil {
		t.Fatal(err)
	}
	oldVM2 := inCopy[*api.VirtualMachine](t, l.Client, "ctf-1")["vm2"]
	if _, err := l.Client.Delete(context.Background(), api.VirtualMachineKind, client.Scope{Group: "contest", Namespace: "ctf-1"}, "vm2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		vm2, ok := inCopy[*api.VirtualMachine](t, l.Client, "ctf-1")["vm2"]
		return ok && vm2.Meta.UID != oldVM2.Meta.UID && vm2.Spec.NICs[0].MACAddress == oldVM2.Spec.NICs[0].MACAddress, "vm2 not made again"
	})
	if got := inCopy[*api.VirtualMachine](t, l.Client, "ctf-1")["vm1"].Spec.NICs[0].IPv4Address; got != "10.0.0.9" {
		t.Fatalf("vm1 overwritten: %s", got)
	}

	// A second environment of the same template takes other values.
	l.Create(t, "meta: {apiType: corev0/environment, id: b, group: contest}\nspec: {templateID: lab, copies: [team-x]}")
	b := l.readyWith(t, "b", 1)
	for _, v := range valuesOf(env) {
		for _, name := range []string{"vni", "eip", "natip"} {
			if v[name] == b.Status.Copies[0].Values[name] {
				t.Fatalf("environment b's %s %s is also ctf's", name, v[name])
			}
		}
	}
}

func valuesOf(env *api.Environment) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, c := range env.Status.Copies {
		out[c.Name] = c.Values
	}
	return out
}

// TestEnvironmentGrowAndShrink: adding copies leaves the others alone
// (values and objects untouched); removing copies deletes their
// namespaces and forgets them, the rest keep their values.
func TestEnvironmentGrowAndShrink(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, ctfEnv)
	before := valuesOf(l.readyWith(t, "ctf", 3))
	vm := inCopy[*api.VirtualMachine](t, l.Client, "ctf-2")["vm1"]
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Count = 5 }); err != nil {
		t.Fatal(err)
	}
	grown := valuesOf(l.readyWith(t, "ctf", 5))
	for name, v := range before {
		if !maps.Equal(v, grown[name]) {
			t.Fatalf("copy %s values changed: %v -> %v", name, v, grown[name])
		}
	}
	if now := inCopy[*api.VirtualMachine](t, l.Client, "ctf-2")["vm1"]; now.Meta.ResourceVersion != vm.Meta.ResourceVersion {
		t.Fatalf("copy 2's vm1 was written while copies were added")
	}
	kept := inCopy[*api.VirtualMachine](t, l.Client, "ctf-0")["vm1"]
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Count = 2 }); err != nil {
		t.Fatal(err)
	}
	shrunk := valuesOf(l.readyWith(t, "ctf", 2))
	if now := inCopy[*api.VirtualMachine](t, l.Client, "ctf-0")["vm1"]; now.Meta.ResourceVersion != kept.Meta.ResourceVersion {
		t.Fatalf("copy 0's vm1 was written while copies were removed")
	}
	for _, ns := range []string{"ctf-2", "ctf-3", "ctf-4"} {
		_, err := l.Client.Get(context.Background(), api.NamespaceKind, client.Scope{Group: "contest"}, ns)
		if !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("namespace %s: %v", ns, err)
		}
	}
	if !maps.Equal(shrunk["0"], before["0"]) || !maps.Equal(shrunk["1"], before["1"]) {
		t.Fatalf("values changed: %v -> %v", before, shrunk)
	}
	l.WaitEvent(t, "ctf", "CopyRemoved")
}

// TestEnvironmentDeletion: deleting the environment deletes every copy's
// namespace with what it holds, then the environment goes.
func TestEnvironmentDeletion(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, ctfEnv)
	l.readyWith(t, "ctf", 3)
	if _, err := l.Client.Delete(context.Background(), api.EnvironmentKind, client.Scope{Group: "contest"}, "ctf", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		_, err := l.Client.Get(context.Background(), api.EnvironmentKind, client.Scope{Group: "contest"}, "ctf")
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("environment still there: %v", err)
	})
	nss, _, _ := l.Client.List(context.Background(), api.NamespaceKind, client.Scope{Group: "contest"})
	vms, _, _ := l.Client.List(context.Background(), api.VirtualMachineKind, client.Scope{Group: "contest"})
	if len(nss) != 0 || len(vms) != 0 {
		t.Fatalf("left: %d namespaces, %d VMs", len(nss), len(vms))
	}
}

// TestEnvironmentParameterErrors: an environment whose parameters do not
// fit its template is in Error, naming the parameter, and stamps nothing.
func TestEnvironmentParameterErrors(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, "meta: {apiType: corev0/environment, id: bad, group: contest}\nspec: {templateID: lab, count: 1, parameters: {vni: \"5\", imag: x}}")
	env := l.waitEnv(t, "bad", "Error", func(e *api.Environment) bool { return e.Status.State == api.EnvError })
	t.Logf("message: %s", env.Status.Message)
	for _, want := range []string{"spec.parameters.vni", "spec.parameters.imag"} {
		if !strings.Contains(env.Status.Message, want) {
			t.Errorf("message %q does not name %s", env.Status.Message, want)
		}
	}
	nss, _, _ := l.Client.List(context.Background(), api.NamespaceKind, client.Scope{Group: "contest"})
	if len(nss) != 0 {
		t.Fatalf("%d namespaces made", len(nss))
	}
	// The API server refuses a template with an unknown parameter, naming
	// the field.
	bad, err := api.Decode([]byte("meta: {apiType: corev0/template, id: t2, group: contest}\nspec:\n  resources:\n" +
		"  - {meta: {apiType: systemv0/network, id: net, annotations: {networkv0/network_type: VXLAN}}, spec: {id: \"${vni}\", ipv4CIDR: 10.0.0.0/24}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Client.Create(context.Background(), bad)
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.resources[0].spec.id: unknown parameter ${vni}") {
		t.Fatalf("template with an unknown parameter: %v", err)
	}
}

// TestEnvironmentCopyStates: a stopped VM makes its copy Degraded and
// names it, and the copy is Ready again when it runs (reset jobs:
// TestCopyStateOfResets).
func TestEnvironmentCopyStates(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, ctfEnv)
	l.readyWith(t, "ctf", 3)
	l.node.setBroken("ctf-2/vm2", true)
	env := l.waitEnv(t, "ctf", "Degraded", func(e *api.Environment) bool { return e.Status.State == api.EnvDegraded })
	if c := env.Status.Copies[2]; c.State != api.EnvDegraded || c.Message != "vm2 is Stopped" || c.VMsReady != 1 || env.Status.VMsReady != 5 {
		t.Fatalf("copy 2 %+v, whole %d/%d", c, env.Status.VMsReady, env.Status.VMsTotal)
	}
	l.node.setBroken("ctf-2/vm2", false)
	l.readyWith(t, "ctf", 3)
}

// TestEnvironmentsAllocateConcurrently: environments created at once
// (reconciled by parallel workers) never get the same network id or
// external address.
func TestEnvironmentsAllocateConcurrently(t *testing.T) {
	l := startEnvLab(t)
	const envs = 6
	for i := range envs {
		l.Create(t, fmt.Sprintf("meta: {apiType: corev0/environment, id: e%d, group: contest}\nspec: {templateID: lab, count: 2}", i))
	}
	seen := map[string]string{}
	for i := range envs {
		id := fmt.Sprintf("e%d", i)
		env := l.readyWith(t, id, 2)
		for _, c := range env.Status.Copies {
			for _, name := range []string{"vni", "eip", "natip"} {
				v := c.Values[name]
				if prev, dup := seen[v]; dup {
					t.Fatalf("%s copy %s %s=%s is also %s's", id, c.Name, name, v, prev)
				}
				seen[v] = id + "/" + c.Name
			}
		}
	}
}

// TestEnvironmentNamedCopies: copies named by spec.copies keep their
// index (${index}) and values when others around them go and come.
func TestEnvironmentNamedCopies(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, "meta: {apiType: corev0/environment, id: cls, group: contest}\nspec: {templateID: lab, copies: [team-a, team-b, team-c]}")
	before := l.readyWith(t, "cls", 3).Status.Copies
	if err := l.setSpec(t, "cls", func(s *api.EnvironmentSpec) { s.Copies = []string{"team-a", "team-c", "team-d"} }); err != nil {
		t.Fatal(err)
	}
	after := l.waitEnv(t, "cls", "with team-d ready, team-b gone", func(e *api.Environment) bool {
		c := e.Status.Copies
		return e.Status.State == api.EnvReady && len(c) == 3 && c[2].Name == "team-d" && c[2].State == api.EnvReady
	}).Status.Copies
	if after[0].Name != "team-a" || after[1].Name != "team-c" || after[2].Name != "team-d" {
		t.Fatalf("copies %+v", after)
	}
	if after[1].Index != before[2].Index || !maps.Equal(after[1].Values, before[2].Values) {
		t.Fatalf("team-c changed: %+v -> %+v", before[2], after[1])
	}
	if after[2].Index == after[0].Index || after[2].Index == after[1].Index {
		t.Fatalf("team-d index %d taken", after[2].Index)
	}
	vm := inCopy[*api.VirtualMachine](t, l.Client, "cls-team-d")["vm1"]
	if vm.Spec.Hostname != "vm1-team-d" {
		t.Fatalf("team-d vm1 hostname %s", vm.Spec.Hostname)
	}
}

// TestEnvironmentStampsManyCopies: 20 copies (140 objects) are made and
// reported Ready; the time is logged (control plane only, fake node).
func TestEnvironmentStampsManyCopies(t *testing.T) {
	l := startEnvLab(t)
	start := time.Now()
	l.Create(t, "meta: {apiType: corev0/environment, id: big, group: contest}\nspec: {templateID: lab, count: 20}")
	env := l.readyWith(t, "big", 20)
	t.Logf("20 copies x 7 objects stamped and Ready in %v", time.Since(start).Round(time.Millisecond))
	if env.Status.VMsTotal != 40 {
		t.Fatalf("%d VMs", env.Status.VMsTotal)
	}
}
