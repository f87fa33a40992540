package system_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/system/systemtest"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

const wait = 10 * time.Second

var sc = client.Scope{Group: "g", Namespace: "ns"}

func setupNode(node string, fake *systemtest.Fake) func(m *controller.Manager) error {
	return func(m *controller.Manager) error {
		opts := system.Options{Node: node}
		if fake != nil {
			opts.Drivers = map[*api.Kind]system.Driver{api.VirtualMachineKind: fake}
		}
		return system.Setup(m, opts)
	}
}

func tenancy(t *testing.T, e *testenv.Env) {
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
}

func createVM(t *testing.T, e *testenv.Env, id, node string) {
	e.Create(t, fmt.Sprintf(`meta:
  apiType: systemv0/virtualmachine
  id: %s
  group: g
  namespace: ns
  annotations: {virtualmachinev0/node_name: %s}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 1G, limitMemory: 1G}
`, id, node))
}

func getVM(t *testing.T, e *testenv.Env, id string) (*api.VirtualMachine, error) {
	return client.For[*api.VirtualMachine](e.Client).Get(context.Background(), sc, id)
}

// realized waits until the VM carries node's finalizer and state.
func realized(t *testing.T, e *testenv.Env, id, node, state string) {
	t.Helper()
	testenv.Eventually(t, wait, func() (bool, string) {
		vm, err := getVM(t, e, id)
		if err != nil {
			return false, err.Error()
		}
		ok := slices.Contains(vm.Meta.Finalizers, system.Finalizer(node)) && vm.Status.State == state
		return ok, fmt.Sprintf("vm %s: finalizers %v state %q message %q", id, vm.Meta.Finalizers, vm.Status.State, vm.Status.Message)
	})
}

func gone(t *testing.T, e *testenv.Env, id string) {
	t.Helper()
	testenv.Eventually(t, wait, func() (bool, string) {
		_, err := getVM(t, e, id)
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("vm %s still there (%v)", id, err)
	})
}

func TestRealizeOnlyWhatIsPlacedHereAndTearDown(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	fake := systemtest.NewFake()
	e.Run(t, setupNode("n1", fake))
	createVM(t, e, "mine", "n1")
	createVM(t, e, "theirs", "n2")
	realized(t, e, "mine", "n1", "Running")
	if vm, _ := getVM(t, e, "theirs"); len(vm.Meta.Finalizers) != 0 || vm.Status.State != "" {
		t.Fatalf("agent of n1 touched a VM placed on n2: %+v", vm.Meta)
	}
	if !fake.Has(controller.Key{Group: "g", Namespace: "ns", ID: "mine"}) || fake.Len() != 1 {
		t.Fatal("fake host does not hold exactly the VM placed here")
	}
	if _, err := client.For[*api.VirtualMachine](e.Client).Delete(context.Background(), sc, "mine", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	gone(t, e, "mine")
	if _, removes, _ := fake.Counts(); removes != 1 || fake.Len() != 0 {
		t.Fatalf("teardown did not run: removes %d, host %d", removes, fake.Len())
	}
}

// TestRestartDoesNotDuplicateWork: a restarted agent reconciles every
// object once more, creates nothing twice and writes nothing unchanged.
func TestRestartDoesNotDuplicateWork(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	fake := systemtest.NewFake()
	stop := e.Run(t, setupNode("n1", fake))
	const n = 20
	for i := 0; i < n; i++ {
		createVM(t, e, fmt.Sprintf("vm%d", i), "n1")
	}
	for i := 0; i < n; i++ {
		realized(t, e, fmt.Sprintf("vm%d", i), "n1", "Running")
	}
	time.Sleep(200 * time.Millisecond) // let the last status events settle
	stop()
	creates, _, before := fake.Counts()
	rev, _ := e.Store.Revision(context.Background())
	if creates != n {
		t.Fatalf("%d creates for %d VMs", creates, n)
	}

	e.Run(t, setupNode("n1", fake))
	testenv.Eventually(t, wait, func() (bool, string) {
		_, _, after := fake.Counts()
		for k, c := range before {
			if after[k] <= c {
				return false, "not every VM reconciled after restart: " + k.String()
			}
		}
		return true, ""
	})
	time.Sleep(300 * time.Millisecond)
	creates, _, after := fake.Counts()
	for k, c := range before {
		if after[k] != c+1 {
			t.Errorf("%s applied %d times after restart, want 1", k, after[k]-c)
		}
	}
	if creates != n {
		t.Errorf("restart created again: %d creates", creates)
	}
	if now, _ := e.Store.Revision(context.Background()); now != rev {
		t.Errorf("restart wrote %d times though nothing changed", now-rev)
	}
}

// TestDeletionWaitsForAStoppedAgent: the finalizer holds the object while
// its agent is away; the agent's return completes the deletion; --force
// does not wait.
func TestDeletionWaitsForAStoppedAgent(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	fake := systemtest.NewFake()
	stop := e.Run(t, setupNode("n1", fake))
	createVM(t, e, "held", "n1")
	createVM(t, e, "forced", "n1")
	realized(t, e, "held", "n1", "Running")
	realized(t, e, "forced", "n1", "Running")
	stop()

	vms := client.For[*api.VirtualMachine](e.Client)
	if _, err := vms.Delete(context.Background(), sc, "held", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	vm, err := getVM(t, e, "held")
	if err != nil || vm.Meta.DeleteState != api.DeleteStateDelete || !slices.Contains(vm.Meta.Finalizers, "node.humstack/n1") {
		t.Fatalf("deletion did not wait for the agent: %v %+v", err, vm)
	}
	if _, err := vms.Delete(context.Background(), sc, "forced", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	gone(t, e, "forced")

	e.Run(t, setupNode("n1", fake))
	gone(t, e, "held")
	if fake.Has(controller.Key{Group: "g", Namespace: "ns", ID: "held"}) {
		t.Fatal("teardown of held did not run")
	}
	// What --force skipped stays on the host, as documented.
	if !fake.Has(controller.Key{Group: "g", Namespace: "ns", ID: "forced"}) {
		t.Fatal("force-deleted VM vanished from the host: force should skip teardown")
	}
}

func TestKindsWithoutDriverSayNotImplemented(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	e.Run(t, setupNode("n1", nil))
	createVM(t, e, "vm", "n1")
	realized(t, e, "vm", "n1", "Error")
	vm, _ := getVM(t, e, "vm")
	if !strings.Contains(vm.Status.Message, "not implemented") {
		t.Fatalf("message %q", vm.Status.Message)
	}
	// Deleting it needs no teardown and completes.
	if _, err := client.For[*api.VirtualMachine](e.Client).Delete(context.Background(), sc, "vm", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	gone(t, e, "vm")
}

func TestDriverErrorsAreReportedAndRetried(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	fake := systemtest.NewFake()
	fake.Err = errors.New("qemu exploded")
	e.Run(t, setupNode("n1", fake))
	createVM(t, e, "vm", "n1")
	realized(t, e, "vm", "n1", "Error")
	vm, _ := getVM(t, e, "vm")
	if vm.Status.Message != "qemu exploded" {
		t.Fatalf("message %q", vm.Status.Message)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		_, _, a := fake.Counts()
		n := a[controller.Key{Group: "g", Namespace: "ns", ID: "vm"}]
		return n >= 3, fmt.Sprintf("%d applies: not retried", n)
	})
}
