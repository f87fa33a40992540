package node

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// newAPI serves an in-process API server over a bolt store in t.TempDir().
func newAPI(t *testing.T) *client.Client { return testenv.Start(t).Client }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start runs m until the test ends, and fails the test if it errs.
func start(t *testing.T, m *controller.Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

func getNode(t *testing.T, c *client.Client, id string) *api.Node {
	t.Helper()
	n, err := client.For[*api.Node](c).Get(testCtx(t), client.Scope{}, id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func mustCreate(t *testing.T, c *client.Client, doc string) api.Object {
	t.Helper()
	obj, err := api.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Create(testCtx(t), obj)
	if err != nil {
		t.Fatalf("create %s: %v", obj.GetMeta().ID, err)
	}
	return out
}

// vm creates VM id in g/ns on node with the given requests; finalizers keep
// it around once deleted. The vCPU limit is a whole 8 for every VM: limits
// must be whole vCPUs, requests (what the node sums) need not be.
func vm(t *testing.T, c *client.Client, id, node, cpu, mem string, finalizers ...string) {
	t.Helper()
	obj, _ := api.Decode([]byte("meta: {apiType: systemv0/virtualmachine, id: " + id + ", group: g, namespace: ns, " +
		"annotations: {virtualmachinev0/node_name: " + node + "}}\n" +
		"spec: {requestVcpus: " + cpu + ", limitVcpus: 8, requestMemory: " + mem + ", limitMemory: " + mem + "}\n"))
	obj.GetMeta().Finalizers = finalizers
	if _, err := c.Create(testCtx(t), obj); err != nil {
		t.Fatalf("create vm %s: %v", id, err)
	}
}

func deleteVM(t *testing.T, c *client.Client, id string) {
	t.Helper()
	_, err := c.Delete(testCtx(t), api.VirtualMachineKind, client.Scope{Group: "g", Namespace: "ns"}, id, client.DeleteOptions{})
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		t.Fatal(err)
	}
}

func tenancy(t *testing.T, c *client.Client) {
	mustCreate(t, c, "meta: {apiType: corev0/group, id: g}")
	mustCreate(t, c, "meta: {apiType: corev0/namespace, id: ns, group: g}")
}

// fakeClock is a settable clock for the liveness reconciler.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func (c *fakeClock) stamp(d time.Duration) string {
	return c.t.Add(d).UTC().Format(time.RFC3339Nano)
}
