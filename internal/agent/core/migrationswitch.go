package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
)

// switchOver moves the disks, then the VM, to the target; the VM's write
// also releases it from the migration, so the target starts it. A write
// the API server refuses (the target's capacity ledger has no room left
// for it, say) fails the migration: fail moves back what had moved.
func (r *migrations) switchOver(ctx context.Context, mig *api.Migration) (string, string, error) {
	s := &mig.Status
	for _, d := range s.Disks {
		bs, err := client.For[*api.BlockStorage](r.c).Get(ctx, client.ScopeOf(mig), d.ID)
		if errors.Is(err, api.ErrNotFound) {
			return "", "", failf("disk %s was deleted", d.ID)
		}
		if err != nil {
			return "", "", err
		}
		if err := r.place(ctx, bs, api.AnnotationBlockStorageNode, s.TargetNode, false); err != nil {
			return "", "", refused(err, "disk "+d.ID, s.TargetNode)
		}
	}
	vm, err := r.vm(ctx, mig)
	if err != nil {
		return "", "", err
	}
	if err := r.place(ctx, vm, api.AnnotationVirtualMachineNode, s.TargetNode, true); err != nil {
		return "", "", refused(err, "virtual machine "+vm.Meta.ID, s.TargetNode)
	}
	return api.MigrationStarting, fmt.Sprintf("starting on node %s", s.TargetNode), nil
}

// refused turns a 403 on the switch into a failure of the migration.
func refused(err error, what, node string) error {
	if errors.Is(err, api.ErrForbidden) {
		return failf("moving %s to node %s was refused: %v", what, node, err)
	}
	return err
}

// rollback moves back to the source the disks a failed switch had already
// moved (the API server allows that only while the migration is
// Switching), so the VM starts again where its disks are.
func (r *migrations) rollback(ctx context.Context, mig *api.Migration) error {
	s := &mig.Status
	if s.Phase != api.MigrationSwitching {
		return nil
	}
	for _, d := range s.Disks {
		bs, err := client.For[*api.BlockStorage](r.c).Get(ctx, client.ScopeOf(mig), d.ID)
		if errors.Is(err, api.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if placement.NodeOf(bs) != s.TargetNode {
			continue
		}
		if err := r.place(ctx, bs, api.AnnotationBlockStorageNode, s.SourceNode, false); err != nil {
			return fmt.Errorf("move disk %s back to node %s: %w", d.ID, s.SourceNode, err)
		}
	}
	return nil
}

// place writes node into o's annotation key (and, for the VM, drops the
// migration annotation in the same write).
func (r *migrations) place(ctx context.Context, o api.Object, key, node string, release bool) error {
	_, err := controller.Update(ctx, r.c, o, func(x api.Object) bool {
		a := x.GetMeta().Annotations
		changed := a[key] != node || (release && a[api.AnnotationVMMigration] != "")
		a[key] = node
		if release {
			delete(a, api.AnnotationVMMigration)
		}
		return changed
	})
	return err
}
