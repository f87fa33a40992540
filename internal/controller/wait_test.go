package controller_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestControllerWaitsForWatchedCaches: no key is reconciled before every
// informer the controller reads from has its first list, so a reconciler
// never acts on a cache that is merely not filled yet.
func TestControllerWaitsForWatchedCaches(t *testing.T) {
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	quiet := slog.New(slog.DiscardHandler)
	groups := controller.NewInformer(e.Client, api.GroupKind, client.Scope{}, nil, quiet)
	nodes := controller.NewInformer(e.Client, api.NodeKind, client.Scope{}, nil, quiet)
	var calls atomic.Int32
	ctl := controller.New("wait", groups, controller.ReconcilerFunc(func(context.Context, controller.Key) (controller.Result, error) {
		calls.Add(1)
		return controller.Result{}, nil
	}), controller.Options{Log: quiet})
	ctl.Watch(nodes, func(api.Object) []controller.Key { return nil })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go groups.Run(ctx)
	go ctl.Start(ctx)
	time.Sleep(300 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("reconciled %d times before the watched cache synced", n)
	}
	go nodes.Run(ctx)
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		return calls.Load() > 0, "not reconciled after every cache synced"
	})
}
