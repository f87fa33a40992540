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
		if err := r.place(ctx, bs, api.AnnotationBlockStorageNode, s.TargetNode, s.SourceNode, false); err != nil {
			return "", "", refused(err, "disk "+d.ID, s.TargetNode)
		}
	}
	vm, err := r.vm(ctx, mig)
	if err != nil {
		return "", "", err
	}
	if err := r.place(ctx, vm, api.AnnotationVirtualMachineNode, s.TargetNode, s.SourceNode, true); err != nil {
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
		if err := r.place(ctx, bs, api.AnnotationBlockStorageNode, s.SourceNode, s.TargetNode, false); err != nil {
			return fmt.Errorf("move disk %s back to node %s: %w", d.ID, s.SourceNode, err)
		}
	}
	return nil
}

// place writes node into o's annotation key and peer into its migration
// peer (the other node, whose ledger keeps holding it), and, for the VM,
// drops the migration annotation in the same write.
func (r *migrations) place(ctx context.Context, o api.Object, key, node, peer string, release bool) error {
	_, err := controller.Update(ctx, r.c, o, func(x api.Object) bool {
		a := x.GetMeta().Annotations
		changed := a[key] != node || a[api.AnnotationMigrationPeer] != peer || (release && a[api.AnnotationVMMigration] != "")
		a[key], a[api.AnnotationMigrationPeer] = node, peer
		if release {
			delete(a, api.AnnotationVMMigration)
		}
		return changed
	})
	return err
}

// peers sets (peer != "") or removes the migration peer annotation of the
// VM and its disks of mig.
func (r *migrations) peers(ctx context.Context, mig *api.Migration, peer string) error {
	objs := []struct {
		k  *api.Kind
		id string
	}{{api.VirtualMachineKind, mig.Spec.VirtualMachineID}}
	for _, d := range mig.Status.Disks {
		objs = append(objs, struct {
			k  *api.Kind
			id string
		}{api.BlockStorageKind, d.ID})
	}
	for _, o := range objs {
		cur, err := r.c.Get(ctx, o.k, client.ScopeOf(mig), o.id)
		if errors.Is(err, api.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := controller.Update(ctx, r.c, cur, func(x api.Object) bool {
			a := x.GetMeta().Annotations
			if a[api.AnnotationMigrationPeer] == peer {
				return false
			}
			if peer == "" {
				delete(a, api.AnnotationMigrationPeer)
			} else {
				a[api.AnnotationMigrationPeer] = peer
			}
			return true
		}); err != nil && !errors.Is(err, api.ErrNotFound) {
			if peer != "" {
				return refused(err, o.k.Name+" "+o.id, peer)
			}
			return err
		}
	}
	return nil
}
