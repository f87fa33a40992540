package core_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// envLab is a control plane with the Core controllers, the example
// template (examples/env/template.yaml, group contest) and its pool, and
// a fake node answering VMs and snapshots.
type envLab struct {
	*testenv.Env
	node *fakeNode
}

func startEnvLab(t *testing.T) *envLab {
	t.Helper()
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/externalippool, id: eippool}\nspec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exbr, defaultGateway: 192.168.10.254}")
	e.Create(t, "meta: {apiType: corev0/group, id: contest}")
	data, err := os.ReadFile("../../../examples/env/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.Create(t, string(data))
	e.Run(t, func(m *controller.Manager) error { return core.Setup(m, core.Options{}) })
	l := &envLab{Env: e, node: &fakeNode{c: e.Client, broken: map[string]bool{}, snapState: api.SnapshotReady}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.node.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// fakeNode plays the System agents: every VM of the group runs (or is
// stopped when asked to be off) unless broken, and every snapshot
// becomes snapState; it records the snapshots it saw.
type fakeNode struct {
	c         *client.Client
	mu        sync.Mutex
	broken    map[string]bool // "namespace/vm"
	snapState string
	snaps     map[string]api.SnapshotSpec
}

func (f *fakeNode) setBroken(key string, b bool) { f.mu.Lock(); f.broken[key] = b; f.mu.Unlock() }

func (f *fakeNode) run(ctx context.Context) {
	for ctx.Err() == nil {
		f.pass(ctx)
		time.Sleep(30 * time.Millisecond)
	}
}

func (f *fakeNode) pass(ctx context.Context) {
	sc := client.Scope{Group: "contest"}
	vms, _, _ := f.c.List(ctx, api.VirtualMachineKind, sc)
	for _, o := range vms {
		vm := o.(*api.VirtualMachine)
		f.mu.Lock()
		state := "Running"
		if vm.Spec.ActionState == api.ActionPowerOff || f.broken[vm.Meta.Namespace+"/"+vm.Meta.ID] {
			state = "Stopped"
		}
		f.mu.Unlock()
		if vm.Status.State != state && !vm.Meta.Deleting() {
			_, _ = controller.UpdateStatus(ctx, f.c, vm, func(v *api.VirtualMachine) bool { v.Status.State = state; return true })
		}
	}
	snaps, _, _ := f.c.List(ctx, api.SnapshotKind, sc)
	for _, o := range snaps {
		s := o.(*api.Snapshot)
		f.mu.Lock()
		state := f.snapState
		if f.snaps == nil {
			f.snaps = map[string]api.SnapshotSpec{}
		}
		f.snaps[s.Meta.Namespace+"/"+s.Meta.ID] = s.Spec
		f.mu.Unlock()
		if s.Status.State != state && !s.Meta.Deleting() {
			_, _ = controller.UpdateStatus(ctx, f.c, s, func(x *api.Snapshot) bool {
				x.Status.State, x.Status.Node = state, "w1"
				x.Status.CreatedAt = time.Now().UTC().Format(time.RFC3339)
				if state == api.SnapshotError {
					x.Status.Message = "disk full"
				}
				return true
			})
		}
	}
}

func (l *envLab) env(t *testing.T, id string) *api.Environment {
	t.Helper()
	o, err := client.For[*api.Environment](l.Client).Get(context.Background(), client.Scope{Group: "contest"}, id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// waitEnv waits until cond holds of environment id.
func (l *envLab) waitEnv(t *testing.T, id string, what string, cond func(*api.Environment) bool) *api.Environment {
	t.Helper()
	var env *api.Environment
	testenv.Eventually(t, wait, func() (bool, string) {
		o, err := client.For[*api.Environment](l.Client).Get(context.Background(), client.Scope{Group: "contest"}, id)
		if err != nil {
			return false, err.Error()
		}
		env = o
		return cond(o), fmt.Sprintf("environment %s not %s: state %s (%s), copies %+v, golden %+v", id, what,
			o.Status.State, o.Status.Message, o.Status.Copies, o.Status.Golden)
	})
	return env
}

// readyWith waits until the environment has n copies, all Ready.
func (l *envLab) readyWith(t *testing.T, id string, n int) *api.Environment {
	t.Helper()
	return l.waitEnv(t, id, fmt.Sprintf("Ready with %d copies", n), func(e *api.Environment) bool {
		return e.Status.State == api.EnvReady && len(e.Status.Copies) == n && e.Status.VMsReady == 2*n && e.Status.VMsTotal == 2*n
	})
}

// inCopy lists the objects of kind k in namespace ns by id.
func inCopy[T api.Object](t *testing.T, c *client.Client, ns string) map[string]T {
	t.Helper()
	objs, _, err := client.For[T](c).List(context.Background(), client.Scope{Group: "contest", Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]T{}
	for _, o := range objs {
		out[o.GetMeta().ID] = o
	}
	return out
}

// setSpec changes the environment's spec.
func (l *envLab) setSpec(t *testing.T, id string, edit func(*api.EnvironmentSpec)) error {
	t.Helper()
	_, err := controller.Update(context.Background(), l.Client, l.env(t, id), func(e *api.Environment) bool {
		edit(&e.Spec)
		return true
	})
	return err
}
