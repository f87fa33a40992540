package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

func (a *app) snapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "snapshot",
		Aliases: []string{"snap"},
		Short:   "Snapshots: restore a VM or a disk",
		Long: "Commands on snapshots (systemv0/snapshot, see docs/environments.md) of the -g/-n\n" +
			"scope. Take one with create (spec.virtualMachineID or spec.blockStorageID).",
	}
	cmd.AddCommand(a.snapshotRestoreCmd())
	return cmd
}

func (a *app) snapshotRestoreCmd() *cobra.Command {
	var vm, disk string
	var cold bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore SNAP --vm VM | --disk D",
		Short: "Put a VM or a disk back to a snapshot, and wait for it",
		Long: "Ask the node of VM (or disk D) to restore it from snapshot SNAP of the same\n" +
			"group (the restore annotation), then print each step until it is done. A VM\n" +
			"restore replaces its disks by fresh overlays of the snapshot's files and\n" +
			"resumes from the saved memory when the snapshot holds it (warm; --cold boots\n" +
			"instead). A disk is restored only while its VM is stopped. Exits 1 if the\n" +
			"restore failed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (vm == "") == (disk == "") {
				return errors.New("restore needs --vm VM or --disk D (one of them)")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			k, id := api.VirtualMachineKind, vm
			if disk != "" {
				k, id = api.BlockStorageKind, disk
			}
			return a.restore(ctx, c, k, id, args[0], cold)
		},
	}
	f := cmd.Flags()
	f.StringVar(&vm, "vm", "", "the virtual machine to restore")
	f.StringVar(&disk, "disk", "", "the disk (blockstorage) to restore")
	f.BoolVar(&cold, "cold", false, "boot the VM even when the snapshot holds memory")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait")
	return cmd
}

// restore sets the restore annotation of object id of kind k to snapshot
// snap with a new token, and follows status.restore to its end.
func (a *app) restore(ctx context.Context, c *client.Client, k *api.Kind, id, snap string, cold bool) error {
	sc := a.scope(k, false)
	name := objectName(k, &api.Meta{ID: id, Group: sc.Group, Namespace: sc.Namespace})
	if !api.IsID(snap) || !api.IsID(id) {
		return fmt.Errorf("snapshot %q, %s: not valid ids", snap, name)
	}
	if _, err := client.For[*api.Snapshot](c).Get(ctx, sc, snap); err != nil {
		return naming("snapshot "+sc.Group+"/"+sc.Namespace+"/"+snap, "", err)
	}
	obj, err := c.Get(ctx, k, sc, id)
	if err != nil {
		return naming(name, "", err)
	}
	token := random(6)
	_, err = controller.Update(ctx, c, obj, func(o api.Object) bool {
		m := o.GetMeta()
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[api.AnnotationRestore] = api.RestoreValue(sc.Namespace, snap, token)
		if cold {
			m.Annotations[api.AnnotationRestoreCold] = "true"
		} else {
			delete(m.Annotations, api.AnnotationRestoreCold)
		}
		return true
	})
	if err != nil {
		return naming(name, "", err)
	}
	fmt.Fprintf(a.stdout, "%s: restoring from snapshot %s\n", name, snap)
	return a.waitRestore(ctx, c, k, sc, id, name, token)
}

// restoreOf is the status.restore of a VM or disk.
func restoreOf(o api.Object) *api.RestoreStatus {
	switch x := o.(type) {
	case *api.VirtualMachine:
		return x.Status.Restore
	case *api.BlockStorage:
		return x.Status.Restore
	}
	return nil
}

// waitRestore prints each step of the restore named token until it ends.
func (a *app) waitRestore(ctx context.Context, c *client.Client, k *api.Kind, sc client.Scope, id, name, token string) error {
	start, last := time.Now(), ""
	for {
		o, err := c.Get(ctx, k, sc, id)
		if err != nil && ctx.Err() == nil && !transient(err) {
			return naming(name, "", err)
		}
		if r := restoreOf(o); err == nil && r != nil && r.Token == token {
			line := r.Step
			if r.Mode != "" {
				line += " (" + r.Mode + ")"
			}
			if r.Message != "" {
				line += ": " + r.Message
			}
			if line != last {
				fmt.Fprintf(a.stdout, "%6.1fs  %s\n", time.Since(start).Seconds(), line)
				last = line
			}
			switch r.Step {
			case api.RestoreDone:
				fmt.Fprintf(a.stdout, "%s restored (%s) in %.1fs\n", name, r.Mode, time.Since(start).Seconds())
				return nil
			case api.RestoreFailed:
				a.errorf("%s: restore failed: %s", name, r.Message)
				return errReported
			}
		}
		select {
		case <-ctx.Done():
			a.errorf("%s: restore not finished: %v", name, ctx.Err())
			return errReported
		case <-time.After(resetPoll):
		}
	}
}
