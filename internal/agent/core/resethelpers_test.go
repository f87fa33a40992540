package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// resetWorld is an API server holding environment e1 of group g: copies
// e1-0..e1-<n-1>, each with VMs vm0..vm<k-1> stamped from the template's
// VMs of the same ids, copy i on node node-<i mod nodes>; a golden state
// (unless noGolden); the reset queue running; and a simulated node agent
// (fakeNodes) answering the VMs' restore annotations after restoreTime.
type resetWorld struct {
	*testenv.Env
	t       testing.TB
	nodes   *fakeNodes
	perNode int
	timeout time.Duration
	stop    func() // stops the reset queue
}

type worldSpec struct {
	nodes, copies, vms int
	perNode            int
	restoreTime        time.Duration
	timeout            time.Duration // the queue's resets.timeoutSeconds; 0: the default
	noGolden           bool
	// stopped: the reset queue is not started (w.restart starts it).
	stopped bool
}

func newResetWorld(t testing.TB, s worldSpec) *resetWorld {
	t.Helper()
	w := &resetWorld{Env: testenv.Start(t), t: t}
	for i := range s.nodes {
		addNode(t, w.Env, nodeName(i), "1000", "10000G", nil)
	}
	w.Create(t, "meta: {apiType: corev0/group, id: g}")
	w.Create(t, fmt.Sprintf("meta: {apiType: corev0/environment, id: e1, group: g}\nspec: {templateID: t1, count: %d}", s.copies))
	parallel(t, 8, s.copies, func(c int) {
		ns := api.CopyNamespace("e1", fmt.Sprint(c))
		w.Create(t, fmt.Sprintf("meta: {apiType: corev0/namespace, id: %s, group: g, annotations: {%q: e1, %q: %q}}",
			ns, api.AnnotationEnvironment, api.AnnotationEnvironmentCopy, fmt.Sprint(c)))
		for v := range s.vms {
			w.Create(t, copyVMDoc(ns, fmt.Sprintf("vm%d", v), nodeName(c%s.nodes)))
		}
	})
	if !s.noGolden {
		w.setGolden(s.vms)
	}
	w.nodes, w.perNode, w.timeout = newFakeNodes(w.Env, s.restoreTime), s.perNode, s.timeout
	w.Run(t, func(m *controller.Manager) error { w.nodes.setup(m); return nil })
	if !s.stopped {
		w.restart()
	}
	return w
}

// restart starts the reset queue in a manager of its own (a new Core
// agent's term).
func (w *resetWorld) restart() {
	w.stop = w.Run(w.t, func(m *controller.Manager) error {
		core.SetupResetQueue(m, core.ResetOptions{PerNode: w.perNode, Timeout: w.timeout})
		return nil
	})
}

func nodeName(i int) string { return fmt.Sprintf("node-%02d", i) }

// copyVMDoc is VM id of copy namespace ns, stamped from template VM id,
// placed on node and running.
func copyVMDoc(ns, id, node string) string {
	return fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: %s, annotations: {%q: %s, %q: "virtualmachine/%s"}}
spec: {requestVcpus: 100m, limitVcpus: "1", requestMemory: 64M, limitMemory: 64M, actionState: PowerOn}`,
		id, ns, api.AnnotationVirtualMachineNode, node, api.AnnotationTemplateResource, id)
}

// setGolden writes e1's golden state: template VM vmN -> e1-0/golden-vmN.
func (w *resetWorld) setGolden(vms int) {
	w.t.Helper()
	env, err := client.For[*api.Environment](w.Client).Get(context.Background(), client.Scope{Group: "g"}, "e1")
	if err != nil {
		w.t.Fatal(err)
	}
	snaps := map[string]string{}
	for v := range vms {
		snaps[fmt.Sprintf("vm%d", v)] = fmt.Sprintf("e1-0/golden-vm%d", v)
		// The API server admits a restore only from a snapshot that exists.
		w.Create(w.t, fmt.Sprintf("meta: {apiType: systemv0/snapshot, id: golden-vm%d, group: g, namespace: e1-0}\nspec: {virtualMachineID: vm%d, memory: true}", v, v))
	}
	if _, err := controller.UpdateStatus(context.Background(), w.Client, env, func(e *api.Environment) bool {
		e.Status.Golden = api.GoldenStatus{State: api.EnvReady, Capture: "1", Copy: "0", Memory: true, Snapshots: snaps}
		return true
	}); err != nil {
		w.t.Fatal(err)
	}
}

// reset creates reset id in copy c with spec (YAML flow, may be empty).
func (w *resetWorld) reset(c int, id, spec string) {
	w.t.Helper()
	w.Create(w.t, fmt.Sprintf("meta: {apiType: corev0/reset, id: %s, group: g, namespace: e1-%d}\nspec: {%s}", id, c, spec))
}

func (w *resetWorld) get(c int, id string) *api.Reset {
	w.t.Helper()
	r, err := client.For[*api.Reset](w.Client).Get(context.Background(), client.Scope{Group: "g", Namespace: fmt.Sprintf("e1-%d", c)}, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// waitPhase waits until reset id of copy c is in phase.
func (w *resetWorld) waitPhase(c int, id, phase string, timeout time.Duration) *api.Reset {
	w.t.Helper()
	testenv.Eventually(w.t, timeout, func() (bool, string) {
		r := w.get(c, id)
		return r.Status.Phase == phase, fmt.Sprintf("reset %s of copy %d: %+v, want %s", id, c, r.Status, phase)
	})
	return w.get(c, id)
}

func (w *resetWorld) vm(c int, id string) *api.VirtualMachine {
	w.t.Helper()
	vm, err := client.For[*api.VirtualMachine](w.Client).Get(context.Background(), client.Scope{Group: "g", Namespace: fmt.Sprintf("e1-%d", c)}, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return vm
}

// fakeNodes plays the nodes' VM drivers for restores: a VM whose restore
// annotation carries a token its status.restore does not is restored in
// restoreTime (status.restore RestoringDisks at once, then Done, warm or
// cold as asked). It records how many resets (tokens) restore at once on
// each node, the most ever, and fails the VMs listed in fail.
type fakeNodes struct {
	c           *client.Client
	restoreTime time.Duration

	mu      sync.Mutex
	fail    map[string]bool           // "ns/vm"
	busy    map[string]map[string]int // node -> token -> VMs restoring
	most    map[string]int            // node -> most tokens at once
	started map[string]bool           // "ns/vm@token" under way
	done    int
}

func newFakeNodes(e *testenv.Env, d time.Duration) *fakeNodes {
	return &fakeNodes{c: e.Client, restoreTime: d, fail: map[string]bool{}, busy: map[string]map[string]int{},
		most: map[string]int{}, started: map[string]bool{}}
}

func (f *fakeNodes) setup(m *controller.Manager) {
	m.Informer(api.VirtualMachineKind, "", nil).AddHandler(func(_, o api.Object) {
		if vm, ok := o.(*api.VirtualMachine); ok {
			f.consider(vm)
		}
	})
}

func (f *fakeNodes) consider(vm *api.VirtualMachine) {
	v := vm.Meta.Annotations[api.AnnotationRestore]
	if v == "" {
		return
	}
	ns, snap, token, err := api.ParseRestore(v)
	if err != nil || (vm.Status.Restore != nil && vm.Status.Restore.Token == token) {
		return
	}
	id := vm.Meta.Namespace + "/" + vm.Meta.ID + "@" + token
	node := vm.Meta.Annotations[api.AnnotationVirtualMachineNode]
	f.mu.Lock()
	if f.started[id] {
		f.mu.Unlock()
		return
	}
	f.started[id] = true
	if f.busy[node] == nil {
		f.busy[node] = map[string]int{}
	}
	f.busy[node][token]++
	f.most[node] = max(f.most[node], len(f.busy[node]))
	fail := f.fail[vm.Meta.Namespace+"/"+vm.Meta.ID]
	f.mu.Unlock()
	go f.restore(vm, node, ns+"/"+snap, token, vm.Meta.Annotations[api.AnnotationRestoreCold] == "true", fail)
}

func (f *fakeNodes) restore(vm *api.VirtualMachine, node, snap, token string, cold, fail bool) {
	ctx := context.Background()
	started := time.Now().UTC().Format(time.RFC3339Nano)
	set := func(step, mode, msg string) {
		if _, err := controller.UpdateStatus(ctx, f.c, vm, func(x *api.VirtualMachine) bool {
			x.Status.Restore = &api.RestoreStatus{Token: token, Snapshot: snap, Step: step, Mode: mode, Message: msg, StartedAt: started}
			if step == api.RestoreDone || step == api.RestoreFailed {
				x.Status.Restore.FinishedAt = time.Now().UTC().Format(time.RFC3339Nano)
			}
			return true
		}); err != nil {
			slog.Error("fake node: restore status", "vm", vm.Meta.ID, "err", err)
		}
	}
	set(api.RestoreDisks, "", "")
	time.Sleep(f.restoreTime)
	f.mu.Lock()
	if f.busy[node][token]--; f.busy[node][token] == 0 {
		delete(f.busy[node], token)
	}
	f.done++
	f.mu.Unlock()
	switch {
	case fail:
		set(api.RestoreFailed, "", "snapshot file missing (simulated)")
	case cold:
		set(api.RestoreDone, api.RestoreModeCold, "")
	default:
		set(api.RestoreDone, api.RestoreModeWarm, "")
	}
}

// mostAtOnce is the most resets seen restoring at once on any node.
func (f *fakeNodes) mostAtOnce() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	most := 0
	for _, n := range f.most {
		most = max(most, n)
	}
	return most, maps.Clone(f.most)
}

// restores counts the restores finished.
func (f *fakeNodes) restores() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}

func (f *fakeNodes) failVM(ns, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[ns+"/"+id] = true
}
