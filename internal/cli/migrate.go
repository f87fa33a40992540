package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// migratePoll is how often migrate and drain look at their migrations.
const migratePoll = time.Second

func (a *app) migrateCmd() *cobra.Command {
	var to string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "migrate VM [--to NODE]",
		Short: "Move a virtual machine to another node (cold: stop, copy its disks, start there)",
		Long: "Create a migration of virtual machine VM in the -g/-n scope and wait for it,\n" +
			"printing its progress. The VM is stopped (ACPI), its disks are copied to the\n" +
			"target node, and it starts there with the same MACs and addresses; the old\n" +
			"copies are removed only after it runs there. Without --to the Core agent\n" +
			"chooses a Ready, uncordoned node it fits on. A migration that fails before\n" +
			"the move leaves the VM running where it was; the command then exits 1.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			mig, err := a.startMigration(ctx, c, a.scope(api.MigrationKind, false), args[0], to)
			if err != nil {
				return err
			}
			if failed := a.waitMigrations(ctx, c, []*api.Migration{mig}); len(failed) > 0 {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the target node (default: the Core agent's choice)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the migration")
	return cmd
}

// startMigration creates the migration of vm to node to ("" to let the
// Core agent choose).
func (a *app) startMigration(ctx context.Context, c *client.Client, sc client.Scope, vm, to string) (*api.Migration, error) {
	if !api.IsID(vm) {
		return nil, fmt.Errorf("%q is not a virtual machine id", vm)
	}
	if _, err := c.Get(ctx, api.VirtualMachineKind, sc, vm); err != nil {
		return nil, naming(objectName(api.VirtualMachineKind, &api.Meta{ID: vm, Group: sc.Group, Namespace: sc.Namespace}), "", err)
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	id := vm
	if len(id) > 50 {
		id = id[:50]
	}
	mig := api.MigrationKind.New().(*api.Migration)
	mig.Meta.ID, mig.Meta.Group, mig.Meta.Namespace = id+"-"+hex.EncodeToString(b), sc.Group, sc.Namespace
	mig.Spec = api.MigrationSpec{VirtualMachineID: vm, TargetNode: to}
	out, err := client.For[*api.Migration](c).Create(ctx, mig)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.stdout, "migration %s/%s/%s: moving virtual machine %s\n", out.Meta.Group, out.Meta.Namespace, out.Meta.ID, vm)
	return out, nil
}

// waitMigrations follows migs until each is finished (or ctx ends),
// printing every change of phase or message, and returns the ones that did
// not succeed (each reported on stderr).
func (a *app) waitMigrations(ctx context.Context, c *client.Client, migs []*api.Migration) []*api.Migration {
	last := map[string]string{}
	done := map[string]bool{}
	var failed []*api.Migration
	for {
		for _, m := range migs {
			name := m.Meta.Namespace + "/" + m.Meta.ID
			if done[name] {
				continue
			}
			cur, err := client.For[*api.Migration](c).Get(ctx, client.ScopeOf(m), m.Meta.ID)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				continue // transient: asked again next round
			}
			s := cur.Status
			line := fmt.Sprintf("%s (vm %s): %s %s", name, cur.Spec.VirtualMachineID, orDash(s.Phase), s.Message)
			if line != last[name] {
				fmt.Fprintln(a.stdout, line)
				last[name] = line
			}
			if s.Finished() {
				done[name] = true
				if s.Phase == api.MigrationFailed {
					a.errorf("migration %s of virtual machine %s failed: %s", name, cur.Spec.VirtualMachineID, s.Message)
					failed = append(failed, cur)
				}
			}
		}
		if len(done) == len(migs) {
			return failed
		}
		select {
		case <-ctx.Done():
			for _, m := range migs {
				if name := m.Meta.Namespace + "/" + m.Meta.ID; !done[name] {
					a.errorf("migration %s of virtual machine %s: not finished: %v", name, m.Spec.VirtualMachineID, ctx.Err())
					failed = append(failed, m)
				}
			}
			return failed
		case <-time.After(migratePoll):
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
