package router

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/routerfw"
	"github.com/humstack/humstack/internal/testenv"
)

// fakeHost records what the driver asks of the host.
type fakeHost struct {
	mu       sync.Mutex
	bridges  []string           // bridges on the node
	applied  map[string]Desired // by namespace
	removed  []string
	failNext error
}

func (f *fakeHost) CheckBridge(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.bridges, name) {
		return fmt.Errorf("bridge %s does not exist", name)
	}
	return nil
}

func (f *fakeHost) Apply(d Desired) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		return false, err
	}
	_, had := f.applied[d.Netns]
	f.applied[d.Netns] = d
	return !had, nil
}

func (f *fakeHost) Remove(ns, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.applied, ns)
	f.removed = append(f.removed, ns)
	return nil
}

func (f *fakeHost) get(ns string) (Desired, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.applied[ns]
	return d, ok
}

// fakeNetworks makes every network Available.
type fakeNetworks struct{}

func (fakeNetworks) Apply(context.Context, *api.Network, []string) error { return nil }
func (fakeNetworks) Remove(context.Context, *api.Network) error          { return nil }

var sc = client.Scope{Group: "g", Namespace: "ns"}

const node = "n1"

// env runs the Core controllers (external IPs) and node n1's system
// controllers with the router driver on a fake host.
func env(t *testing.T) (*testenv.Env, *fakeHost) {
	e := testenv.Start(t)
	fake := &fakeHost{bridges: []string{"exBr"}, applied: map[string]Desired{}}
	d := &Driver{node: node, prefix: "test-", client: e.Client, host: fake, events: record.Discard}
	e.Run(t, func(m *controller.Manager) error {
		d.events = m.Recorder("virtualrouter")
		if err := core.Setup(m, core.Options{}); err != nil {
			return err
		}
		return system.Setup(m, system.Options{Node: node, NetworkDriver: fakeNetworks{},
			Drivers: map[*api.Kind]system.Driver{api.VirtualRouterKind: d}})
	})
	for _, doc := range []string{
		"meta: {apiType: corev0/group, id: g}",
		"meta: {apiType: corev0/namespace, id: ns, group: g}",
		"meta: {apiType: corev0/externalippool, id: pool}\nspec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exBr, defaultGateway: 192.168.10.254}",
		"meta: {apiType: corev0/externalip, id: eip1, group: g, namespace: ns}\nspec: {poolID: pool, ipv4Address: 192.168.10.100}",
		"meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}",
	} {
		e.Create(t, doc)
	}
	return e, fake
}

func routerDoc(id, natGW, bind string, nics ...string) string {
	if len(nics) == 0 {
		nics = []string{"net1=10.0.0.254/24"}
	}
	var ns []string
	for _, n := range nics {
		net, addr, _ := strings.Cut(n, "=")
		ns = append(ns, fmt.Sprintf("{networkID: %s, ipv4Address: %s}", net, addr))
	}
	eips := ""
	if bind != "" {
		eips = fmt.Sprintf("externalIPs: [{externalIPID: eip1, bindInternalIPv4Address: %s}], ", bind)
	}
	gw := natGW[:strings.LastIndexByte(natGW, '.')] + ".254"
	return fmt.Sprintf(`meta: {apiType: systemv0/virtualrouter, id: %s, group: g, namespace: ns, annotations: {virtualrouterv0/node_name: %s}}
spec: {externalGateway: %s, %snatGatewayIP: %s, nics: [%s]}`, id, node, gw, eips, natGW, strings.Join(ns, ", "))
}

func get(t *testing.T, e *testenv.Env, id string) *api.VirtualRouter {
	t.Helper()
	vr, err := client.For[*api.VirtualRouter](e.Client).Get(context.Background(), sc, id)
	if err != nil {
		t.Fatal(err)
	}
	return vr
}

// waitState waits for the router's state and a message containing msg.
func waitState(t *testing.T, e *testenv.Env, id, state, msg string) *api.VirtualRouter {
	t.Helper()
	var vr *api.VirtualRouter
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		vr = get(t, e, id)
		return vr.Status.State == state && strings.Contains(vr.Status.Message, msg),
			fmt.Sprintf("router %s: %q %q, want %q containing %q", id, vr.Status.State, vr.Status.Message, state, msg)
	})
	return vr
}

func update(t *testing.T, e *testenv.Env, id string, edit func(*api.VirtualRouter)) {
	t.Helper()
	for {
		vr := get(t, e, id)
		edit(vr)
		_, err := client.For[*api.VirtualRouter](e.Client).Update(context.Background(), vr)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			t.Fatal(err)
		}
	}
}

func TestDriverRealizesTheSeedRouter(t *testing.T) {
	e, fake := env(t)
	e.Create(t, routerDoc("vr1", "192.168.10.200", "10.0.0.11"))
	vr := waitState(t, e, "vr1", StateRunning, "")
	conditionIs(t, vr, api.ConditionApplied, api.ConditionTrue, "Applied")
	conditionIs(t, vr, api.ConditionReady, api.ConditionTrue, StateRunning)
	k := Key("g", "ns", "vr1")
	ns := NetnsName("test-", k)
	if vr.Meta.Annotations[AnnotationNetns] != ns || !slices.Contains(vr.Meta.Finalizers, system.Finalizer(node)) {
		t.Fatalf("meta %+v", vr.Meta)
	}
	d, ok := fake.get(ns)
	if !ok {
		t.Fatal("nothing applied")
	}
	if len(d.Ports) != 2 || d.Ports[0].Inside != ExternalInside || d.Ports[0].Bridge != "exBr" || d.Ports[0].Host != externalHostName(k) {
		t.Fatalf("ports %+v", d.Ports)
	}
	want := []netip.Prefix{netip.MustParsePrefix("192.168.10.200/24"), netip.MustParsePrefix("192.168.10.100/24")}
	if !slices.Equal(d.Ports[0].Addrs, want) || d.Ports[1].Addrs[0] != netip.MustParsePrefix("10.0.0.254/24") {
		t.Fatalf("addresses %v / %v", d.Ports[0].Addrs, d.Ports[1].Addrs)
	}
	if d.Gateway != netip.MustParseAddr("192.168.10.254") || d.HostPrefix != hostPrefix(k) {
		t.Fatalf("gateway %s prefix %s", d.Gateway, d.HostPrefix)
	}
	got, err := routerfw.Render(d.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{
		"ip daddr 192.168.10.100 dnat to 10.0.0.11",
		`oifname "external" ip saddr 10.0.0.11 snat to 192.168.10.100`,
		`oifname "external" ip saddr 10.0.0.0/24 snat to 192.168.10.200`,
	} {
		if !strings.Contains(got, rule) {
			t.Errorf("rules lack %q:\n%s", rule, got)
		}
	}

	// The binding goes: no external IP, no 1:1 NAT; the namespace is the same.
	update(t, e, "vr1", func(vr *api.VirtualRouter) { vr.Spec.ExternalIPs = nil })
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ := fake.get(ns)
		return len(d.Rules.DNAT) == 0 && len(d.Ports[0].Addrs) == 1, fmt.Sprintf("still %+v", d)
	})

	// Deleting the router removes it from the host.
	if _, err := client.For[*api.VirtualRouter](e.Client).Delete(context.Background(), sc, "vr1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := client.For[*api.VirtualRouter](e.Client).Get(context.Background(), sc, "vr1")
		_, applied := fake.get(ns)
		return errors.Is(err, api.ErrNotFound) && !applied, fmt.Sprintf("router still there (%v) or not removed", err)
	})
}

func TestDriverWaitsAndRejects(t *testing.T) {
	e, fake := env(t)
	// A network that does not exist yet: Pending, nothing made; it comes,
	// the router runs.
	e.Create(t, routerDoc("vr1", "192.168.10.200", "", "net2=10.0.2.254/24"))
	vr := waitState(t, e, "vr1", StatePending, "waiting for network net2")
	conditionIs(t, vr, api.ConditionApplied, api.ConditionFalse, "WaitingForDependencies")
	conditionIs(t, vr, api.ConditionReady, api.ConditionFalse, StatePending)
	if _, ok := fake.get(NetnsName("test-", Key("g", "ns", "vr1"))); ok {
		t.Fatal("a waiting router was made")
	}
	e.Create(t, "meta: {apiType: systemv0/network, id: net2, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.2.0/24}")
	waitState(t, e, "vr1", StateRunning, "")

	// No pool contains the NAT gateway: Pending until one does.
	e.Create(t, routerDoc("vr2", "192.168.20.200", ""))
	waitState(t, e, "vr2", StatePending, "pool containing natGatewayIP 192.168.20.200")
	e.Create(t, "meta: {apiType: corev0/externalippool, id: pool2}\nspec: {ipv4CIDR: 192.168.20.0/24, bridgeName: exBr2}")
	// The pool's bridge is not on this node: Error naming it.
	waitState(t, e, "vr2", StateError, "external bridge exBr2 (of pool pool2) is missing on node n1")

	// An older router holds the NAT gateway.
	e.Create(t, routerDoc("vr3", "192.168.10.200", "", "net1=10.0.0.250/24")) // one router per address (IPAM)
	waitState(t, e, "vr3", StateError, "natGatewayIP 192.168.10.200 is already router g/ns/vr1's")

	// The NIC's address is not in its network: the API server's address
	// pool refuses it (the driver's own check is for objects stored
	// before it did).
	bad, err := api.Decode([]byte(routerDoc("vr4", "192.168.10.201", "", "net1=10.0.1.254/24")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Create(context.Background(), bad); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.nics[0].ipv4Address") {
		t.Fatalf("a NIC address outside its network: %v, want invalid spec.nics[0].ipv4Address", err)
	}

	// The NAT gateway is an external IP's address.
	e.Create(t, routerDoc("vr5", "192.168.10.100", "", "net1=10.0.0.249/24"))
	waitState(t, e, "vr5", StateError, "natGatewayIP 192.168.10.100 is external IP g/ns/eip1")
}

func TestDriverExternalIPs(t *testing.T) {
	e, fake := env(t)
	e.Create(t, routerDoc("vr1", "192.168.10.200", "10.0.0.11"))
	waitState(t, e, "vr1", StateRunning, "")

	// A younger router binding the same external IP runs without it.
	e.Create(t, routerDoc("vr2", "192.168.10.201", "10.0.0.12", "net1=10.0.0.252/24")) // .253: the network's DHCP server
	vr2 := waitState(t, e, "vr2", StateError, "external IP eip1 is bound by router g/ns/vr1")
	if !strings.HasPrefix(vr2.Status.Message, "running; left out: ") {
		t.Fatalf("message %q", vr2.Status.Message)
	}
	conditionIs(t, vr2, api.ConditionApplied, api.ConditionFalse, "PartlyApplied")
	d, _ := fake.get(NetnsName("test-", Key("g", "ns", "vr2")))
	if len(d.Rules.DNAT) != 0 || len(d.Ports[0].Addrs) != 1 {
		t.Fatalf("the second binder got the external IP: %+v", d)
	}
	// vr1 lets it go: vr2 takes it.
	update(t, e, "vr1", func(vr *api.VirtualRouter) { vr.Spec.ExternalIPs = nil })
	waitState(t, e, "vr2", StateRunning, "")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ := fake.get(NetnsName("test-", Key("g", "ns", "vr2")))
		return len(d.Rules.DNAT) == 1, fmt.Sprintf("vr2 rules %+v", d.Rules)
	})

	// A bind address outside the router's networks is refused by the API
	// (the agent would leave it out, named, if it got one).
	vr1 := get(t, e, "vr1")
	vr1.Spec.ExternalIPs = []api.VirtualRouterExternalIP{{ExternalIPID: "eip2", BindInternalIPv4Address: "10.9.0.1"}}
	if _, err := client.For[*api.VirtualRouter](e.Client).Update(context.Background(), vr1); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("bind address outside the networks: %v, want invalid", err)
	}

	// An external IP that does not exist yet: the rest runs, Pending names it.
	update(t, e, "vr1", func(vr *api.VirtualRouter) {
		vr.Spec.ExternalIPs = []api.VirtualRouterExternalIP{{ExternalIPID: "eip2", BindInternalIPv4Address: "10.0.0.13"}}
	})
	waitState(t, e, "vr1", StatePending, "running; left out: external IP eip2: not found")
	e.Create(t, "meta: {apiType: corev0/externalip, id: eip2, group: g, namespace: ns}\nspec: {poolID: pool, ipv4Address: 192.168.10.102}")
	waitState(t, e, "vr1", StateRunning, "")

	// An external IP the Core agent judged unusable is left out with its reason.
	e.Create(t, "meta: {apiType: corev0/externalip, id: eip3, group: g, namespace: ns}\nspec: {poolID: pool, ipv4Address: 192.168.10.254}")
	update(t, e, "vr1", func(vr *api.VirtualRouter) {
		vr.Spec.ExternalIPs = []api.VirtualRouterExternalIP{{ExternalIPID: "eip3", BindInternalIPv4Address: "10.0.0.11"}}
	})
	waitState(t, e, "vr1", StateError, "external IP eip3: 192.168.10.254 is the default gateway")
}

// TestDriverHostFailure: a failed apply is Error with the reason and is
// retried; the next attempt runs.
func TestDriverHostFailure(t *testing.T) {
	e, fake := env(t)
	fake.mu.Lock()
	fake.failNext = errors.New("boom")
	fake.mu.Unlock()
	e.Create(t, routerDoc("vr1", "192.168.10.200", ""))
	waitState(t, e, "vr1", StateRunning, "")
	if ev := e.WaitEvent(t, "vr1", "ApplyFailed"); ev.Spec.Type != api.EventWarning || ev.Spec.Message != "apply: boom" {
		t.Errorf("ApplyFailed event: %+v", ev.Spec)
	}
	if ev := e.WaitEvent(t, "vr1", "Applied"); !strings.Contains(ev.Spec.Message, "test-") {
		t.Errorf("Applied event: %+v, want the namespace named", ev.Spec)
	}
	e.WaitEvent(t, "vr1", "Scheduled")
}

// conditionIs fails unless vr has condition typ with status and reason,
// observed at its generation.
func conditionIs(t *testing.T, vr *api.VirtualRouter, typ string, status api.ConditionStatus, reason string) {
	t.Helper()
	c := conditions.Find(vr.Status.Conditions, typ)
	if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != vr.Meta.Generation {
		t.Fatalf("router %s: condition %s is %+v, want %s/%s at generation %d", vr.Meta.ID, typ, c, status, reason, vr.Meta.Generation)
	}
}

// TestDriverRouterNICMAC: a NIC's macAddress is the MAC of the router's
// interface on that network (environment copies share it); without it the
// derived one stays.
func TestDriverRouterNICMAC(t *testing.T) {
	e, fake := env(t)
	e.Create(t, "meta: {apiType: systemv0/network, id: net2, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.1.0.0/24}")
	doc := strings.Replace(routerDoc("vr1", "192.168.10.200", "", "net1=10.0.0.254/24", "net2=10.1.0.254/24"),
		"{networkID: net1, ipv4Address: 10.0.0.254/24}", "{networkID: net1, ipv4Address: 10.0.0.254/24, macAddress: 52:54:00:AA:BB:01}", 1)
	e.Create(t, doc)
	waitState(t, e, "vr1", StateRunning, "")
	k := Key("g", "ns", "vr1")
	d, _ := fake.get(NetnsName("test-", k))
	if len(d.Ports) != 3 || d.Ports[1].MAC.String() != "52:54:00:aa:bb:01" || d.Ports[2].MAC.String() != portMAC(k, "net2").String() {
		t.Fatalf("ports %+v", d.Ports)
	}
	update(t, e, "vr1", func(vr *api.VirtualRouter) { vr.Spec.NICs[0].MACAddress = "" })
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ := fake.get(NetnsName("test-", k))
		return d.Ports[1].MAC.String() == portMAC(k, "net1").String(), fmt.Sprintf("MAC %s", d.Ports[1].MAC)
	})
}
