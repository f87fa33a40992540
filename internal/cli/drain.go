package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	placed "github.com/humstack/humstack/internal/placement"
)

func (a *app) drainCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Cordon a node and migrate every virtual machine off it",
		Long: "Cordon NODE, then migrate every virtual machine placed on it (one migration\n" +
			"each, targets chosen by the Core agent) and wait, printing their progress.\n" +
			"Exits 1 naming each migration that failed (its VM keeps running on NODE).\n" +
			"Routers and disks attached to no VM stay on NODE (docs/placement.md).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return a.drain(ctx, c, args[0])
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "how long to wait for the migrations")
	return cmd
}

func (a *app) drain(ctx context.Context, c *client.Client, node string) error {
	if err := a.cordon(ctx, c, node, true); err != nil {
		return err
	}
	objs, _, err := c.List(ctx, api.VirtualMachineKind, client.Scope{})
	if err != nil {
		return err
	}
	var vms []*api.VirtualMachine
	for _, o := range objs {
		if placed.NodeOf(o) == node && !o.GetMeta().Deleting() {
			vms = append(vms, o.(*api.VirtualMachine))
		}
	}
	sort.Slice(vms, func(i, j int) bool {
		return scopedID(api.VirtualMachineKind, &vms[i].Meta) < scopedID(api.VirtualMachineKind, &vms[j].Meta)
	})
	if len(vms) == 0 {
		fmt.Fprintf(a.stdout, "node %s has no virtual machines\n", node)
		return nil
	}
	var migs []*api.Migration
	failed := 0
	for _, vm := range vms {
		m, err := a.startMigration(ctx, c, client.ScopeOf(vm), vm.Meta.ID, "")
		if err != nil {
			a.objectError(objectName(api.VirtualMachineKind, &vm.Meta), err)
			failed++
			continue
		}
		migs = append(migs, m)
	}
	failed += len(a.waitMigrations(ctx, c, migs))
	if failed > 0 {
		a.errorf("node %s not drained: %d of %d virtual machine(s) not moved", node, failed, len(vms))
		return errReported
	}
	a.event(ctx, c, mustNode(ctx, c, node), api.EventNormal, "Drained", "%d virtual machine(s) moved off", len(vms))
	fmt.Fprintf(a.stdout, "node %s drained: %d virtual machine(s) moved\n", node, len(vms))
	return nil
}

// mustNode is node's object for an event, or a reference-only one.
func mustNode(ctx context.Context, c *client.Client, node string) api.Object {
	if n, err := client.For[*api.Node](c).Get(ctx, client.Scope{}, node); err == nil {
		return n
	}
	n := api.NodeKind.New()
	n.GetMeta().ID = node
	return n
}
