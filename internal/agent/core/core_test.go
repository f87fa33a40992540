package core_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/system/systemtest"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

const wait = 15 * time.Second

// objectsIn returns one object of every namespaced kind, placed on node w1.
func objectsIn(g, ns string, n int) []string {
	m := func(apiType, id, ann string) string {
		s := fmt.Sprintf("meta:\n  apiType: %s\n  id: %s\n  group: %s\n  namespace: %s\n", apiType, id, g, ns)
		if ann != "" {
			s += "  annotations: {" + ann + ": w1}\n"
		}
		return s
	}
	return []string{
		m("corev0/externalip", "eip", "") + fmt.Sprintf("spec: {poolID: pool, ipv4Address: 192.168.10.%d}\n", 10+n),
		m("systemv0/network", "net", "") + "spec: {ipv4CIDR: 10.0.0.0/24}\n",
		m("systemv0/blockstorage", "bs", api.AnnotationBlockStorageNode) + "spec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}\n",
		m("systemv0/virtualrouter", "vr", api.AnnotationRouterNode) + "spec: {nics: [{networkID: net, ipv4Address: 10.0.0.254/24}]}\n",
		m("systemv0/virtualmachine", "vm", api.AnnotationVirtualMachineNode) + "spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 1G, limitMemory: 1G}\n",
	}
}

var addrs int // unique external addresses across populate calls

func populate(t *testing.T, e *testenv.Env, g string, nss ...string) {
	e.Create(t, "meta: {apiType: corev0/group, id: "+g+"}")
	e.Create(t, "meta: {apiType: systemv0/imageentity, id: ie, group: "+g+"}\nspec: {source: {namespace: "+nss[0]+", blockStorageID: bs}}")
	e.Create(t, "meta: {apiType: systemv0/image, id: img, group: "+g+"}\nspec: {entityMap: {latest: ie}}")
	for _, ns := range nss {
		e.Create(t, "meta: {apiType: corev0/namespace, id: "+ns+", group: "+g+"}")
		addrs++
		for _, doc := range objectsIn(g, ns, addrs) {
			e.Create(t, doc)
		}
	}
}

// deletion is one DELETED event seen by the recorder.
type deletion struct {
	rev  int64
	kind string
	key  string
}

// recordDeletions watches every kind from now and collects DELETED events.
func recordDeletions(t *testing.T, e *testenv.Env) func() []deletion {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var mu sync.Mutex
	var out []deletion
	rev, _ := e.Store.Revision(ctx)
	for _, k := range api.Kinds() {
		ch, err := e.Client.Watch(ctx, k, client.Scope{}, rev)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for ev := range ch {
				if ev.Type == client.Deleted && k != api.EventKind { // events go with their scope
					mu.Lock()
					out = append(out, deletion{ev.Revision, k.Name, controller.KeyOf(ev.Object).String()})
					mu.Unlock()
				}
			}
		}()
	}
	return func() []deletion {
		mu.Lock()
		defer mu.Unlock()
		d := append([]deletion(nil), out...)
		sort.Slice(d, func(i, j int) bool { return d[i].rev < d[j].rev })
		return d
	}
}

func versions(t *testing.T, e *testenv.Env, g string) map[string]string {
	out := map[string]string{}
	for _, k := range api.Kinds() {
		if k.Scope == api.ScopeCluster {
			continue
		}
		objs, _, err := e.Client.List(context.Background(), k, client.Scope{Group: g})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			out[k.Name+" "+controller.KeyOf(o).String()] = o.GetMeta().ResourceVersion
		}
	}
	return out
}

// TestGroupDeletionCascadesChildrenFirst: deleting group g removes its two
// namespaces with one object of every namespaced kind, images and image
// entities, children before parents and VMs before what they use, through
// the node agent's teardown; group g1 is not touched.
func TestGroupDeletionCascadesChildrenFirst(t *testing.T) {
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/externalippool, id: pool}\nspec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exbr}")
	fake := systemtest.NewFake()
	e.Run(t, func(m *controller.Manager) error {
		drivers := map[*api.Kind]system.Driver{api.VirtualMachineKind: fake, api.BlockStorageKind: fake, api.VirtualRouterKind: fake}
		if err := system.Setup(m, system.Options{Node: "w1", Drivers: drivers}); err != nil {
			return err
		}
		return core.Setup(m, core.Options{})
	})
	populate(t, e, "g", "a", "b")
	populate(t, e, "g1", "a")
	testenv.Eventually(t, wait, func() (bool, string) {
		return fake.Len() == 9, fmt.Sprintf("%d of 9 placed objects realized", fake.Len())
	})
	time.Sleep(200 * time.Millisecond)
	untouched := versions(t, e, "g1")
	deleted := recordDeletions(t, e)

	if _, err := e.Client.Delete(context.Background(), api.GroupKind, client.Scope{}, "g", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		_, err := e.Client.Get(context.Background(), api.GroupKind, client.Scope{}, "g")
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("group g still there (%v); deleted so far %v", err, deleted())
	})
	if left := versions(t, e, "g"); len(left) != 0 {
		t.Fatalf("left in g: %v", left)
	}
	if fake.Len() != 3 {
		t.Fatalf("host holds %d objects, want g1's 3", fake.Len())
	}
	if now := versions(t, e, "g1"); fmt.Sprint(now) != fmt.Sprint(untouched) {
		t.Fatalf("g1 changed:\nbefore %v\nafter  %v", untouched, now)
	}
	// The group is gone from the store; its delete event may still be on
	// the way to the recording watch.
	testenv.Eventually(t, wait, func() (bool, string) {
		return len(deleted()) >= 15, fmt.Sprintf("%d deletions seen", len(deleted()))
	})
	checkOrder(t, deleted())
}

// checkOrder: each namespace after everything in it, the group last;
// within a namespace VMs before the disks and networks they use, routers
// before networks and external IPs; the group's namespaces (holding the
// disks made from its images) before its images, images before entities.
func checkOrder(t *testing.T, ds []deletion) {
	at := map[string]int64{}
	for _, d := range ds {
		at[d.kind+" "+d.key] = d.rev
	}
	if len(ds) != 15 { // 2 x (5 objects + namespace), image, image entity, group
		t.Errorf("%d deletions, want 15: %v", len(ds), ds)
	}
	before := func(a, b string) {
		if at[a] == 0 || at[b] == 0 || at[a] >= at[b] {
			t.Errorf("%s (rev %d) must go before %s (rev %d)", a, at[a], b, at[b])
		}
	}
	for _, ns := range []string{"a", "b"} {
		p := "g/" + ns + "/"
		for _, pair := range [][2]string{
			{"virtualmachine " + p + "vm", "blockstorage " + p + "bs"},
			{"virtualmachine " + p + "vm", "network " + p + "net"},
			{"virtualrouter " + p + "vr", "network " + p + "net"},
			{"virtualrouter " + p + "vr", "externalip " + p + "eip"},
		} {
			before(pair[0], pair[1])
		}
		for _, child := range []string{"virtualmachine vm", "virtualrouter vr", "blockstorage bs", "network net", "externalip eip"} {
			kind, id, _ := strings.Cut(child, " ")
			before(kind+" "+p+id, "namespace g/"+ns)
		}
		before("namespace g/"+ns, "image g/img")
	}
	before("image g/img", "imageentity g/ie")
	before("imageentity g/ie", "group g")
	for _, d := range ds {
		if strings.HasPrefix(d.key, "g1") {
			t.Errorf("g1 object deleted: %v", d)
		}
	}
}
