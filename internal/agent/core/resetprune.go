package core

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// keepFinishedResets is how many finished resets the queue keeps in each
// copy namespace (the most recent ones): scheduled rounds add one per
// copy every period, and the history is what `humcli env status` and a
// teacher look at, not an archive (events and the audit log are that).
const keepFinishedResets = 10

// prune deletes the finished resets of namespace group/ns beyond the
// keepFinishedResets that finished last. Jobs that have not finished are
// never touched.
func (r *resets) prune(ctx context.Context, group, ns string) error {
	var done []*api.Reset
	for _, o := range r.resets.List() {
		rs := o.(*api.Reset)
		if rs.Meta.Group == group && rs.Meta.Namespace == ns && rs.Status.Finished() && !rs.Meta.Deleting() {
			done = append(done, rs)
		}
	}
	if len(done) <= keepFinishedResets {
		return nil
	}
	// Newest first: finishedAt is UTC with milliseconds (stamp), so its
	// text sorts as its time; then the creation, then the id.
	slices.SortFunc(done, func(a, b *api.Reset) int {
		if c := cmp.Compare(b.Status.FinishedAt, a.Status.FinishedAt); c != 0 {
			return c
		}
		if a.Meta.CreationTimestamp != nil && b.Meta.CreationTimestamp != nil {
			if c := b.Meta.CreationTimestamp.Compare(*a.Meta.CreationTimestamp); c != 0 {
				return c
			}
		}
		return cmp.Compare(b.Meta.ID, a.Meta.ID)
	})
	var errs []error
	for _, rs := range done[keepFinishedResets:] {
		_, err := r.c.Delete(ctx, api.ResetKind, client.Scope{Group: group, Namespace: ns}, rs.Meta.ID, client.DeleteOptions{})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
