package core

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestAllocationSeesItsOwnWrites: values this agent recorded count as
// taken before its cache shows them (here, a cache of environments that
// never fills), so two environments allocated back to back never share a
// network id or an address.
func TestAllocationSeesItsOwnWrites(t *testing.T) {
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/externalippool, id: eippool}\nspec: {ipv4CIDR: 192.168.10.0/29, bridgeName: exbr, defaultGateway: 192.168.10.6}")
	e.Create(t, "meta: {apiType: corev0/group, id: contest}")
	data, err := os.ReadFile("../../../examples/env/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl := e.Create(t, string(data)).(*api.Template)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inf := func(k *api.Kind, run bool) *controller.Informer {
		i := controller.NewInformer(e.Client, k, client.Scope{}, nil, slog.New(slog.DiscardHandler))
		if run {
			go func() { _ = i.Run(ctx) }()
			i.WaitSynced(ctx)
		}
		return i
	}
	r := &environments{c: e.Client, envs: inf(api.EnvironmentKind, false), templates: inf(api.TemplateKind, true),
		pools: inf(api.ExternalIPPoolKind, true), networks: inf(api.NetworkKind, true), routers: inf(api.VirtualRouterKind, true),
		eips: inf(api.ExternalIPKind, true), written: map[controller.Key][]api.EnvironmentCopy{}}
	seen := map[string]string{}
	for _, id := range []string{"a", "b"} {
		env := e.Create(t, "meta: {apiType: corev0/environment, id: "+id+", group: contest}\nspec: {templateID: lab, count: 1}").(*api.Environment)
		copies, err := r.allocate(ctx, env, tpl)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"vni", "eip", "natip"} {
			v := copies[0].Values[name]
			if prev, dup := seen[v]; dup {
				t.Fatalf("%s's %s=%s is also %s's", id, name, v, prev)
			}
			seen[v] = id
		}
		stored, _ := client.For[*api.Environment](e.Client).Get(ctx, client.Scope{Group: "contest"}, id)
		if len(stored.Status.Copies) != 1 || stored.Status.Copies[0].Values["vni"] != copies[0].Values["vni"] {
			t.Fatalf("values not recorded before use: %+v", stored.Status.Copies)
		}
	}
	// The /29 has 192.168.10.1-5 usable (.6 is the gateway): a and b took
	// four; a third environment gets .5 for eip and nothing for natip.
	env := e.Create(t, "meta: {apiType: corev0/environment, id: c, group: contest}\nspec: {templateID: lab, count: 1}").(*api.Environment)
	if _, err := r.allocate(ctx, env, tpl); err == nil || err.Error() != "copy 0: parameter natip: pool eippool (192.168.10.0/29) has no free address" {
		t.Fatalf("exhausted pool: %v", err)
	}
}
