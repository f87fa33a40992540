package core

import (
	"context"
	"errors"
	"time"

	"github.com/humstack/humstack/api"
)

// scheduleResets creates a reset job in every copy each spec.resetEvery
// (classes: every copy back to golden on the hour), and returns how long
// until the next round (0: none planned). Jobs are created only when a
// golden state exists; a round without one is skipped. The reset queue
// (reset*.go) runs them.
func (r *environments) scheduleResets(ctx context.Context, env *api.Environment, st *api.EnvironmentStatus) time.Duration {
	every, err := time.ParseDuration(env.Spec.ResetEvery)
	if env.Spec.ResetEvery == "" || err != nil || every <= 0 {
		st.NextResetAt = ""
		return 0
	}
	now := r.now().UTC()
	next, err := time.Parse(time.RFC3339, st.NextResetAt)
	if err != nil {
		st.NextResetAt = now.Add(every).Format(time.RFC3339)
		return every
	}
	if now.Before(next) {
		return next.Sub(now)
	}
	if st.Golden.State == api.EnvReady || len(st.Golden.Snapshots) > 0 {
		r.createResets(ctx, env, st, next)
	}
	for !now.Before(next) { // a Core agent that was down skips the rounds it missed
		next = next.Add(every)
	}
	st.NextResetAt = next.Format(time.RFC3339)
	return next.Sub(now)
}

// createResets makes round at's reset job in each copy of the spec; its
// id is the round's time, so a reconcile repeated makes no second one. A
// copy with an unfinished reset is skipped this round: one job of a copy
// runs at a time, and jobs piling up behind a slow or stuck one would
// only reset the copy again and again once it ends.
func (r *environments) createResets(ctx context.Context, env *api.Environment, st *api.EnvironmentStatus, at time.Time) {
	id := "every-" + at.Format("20060102-150405")
	made := 0
	busy := map[string]bool{}
	for _, o := range r.resets.List() {
		if rs := o.(*api.Reset); rs.Meta.Group == env.Meta.Group && !rs.Status.Finished() {
			busy[rs.Meta.Namespace] = true
		}
	}
	for _, c := range st.Copies {
		if c.State == api.EnvDeleting || busy[c.Namespace] {
			continue
		}
		rs := &api.Reset{
			Meta: api.Meta{APIType: api.ResetKind.APIType, ID: id, Group: env.Meta.Group, Namespace: c.Namespace,
				Annotations: map[string]string{api.AnnotationEnvironment: env.Meta.ID}},
			Spec: api.ResetSpec{Priority: env.Spec.ResetPriority},
		}
		_, err := r.c.Create(ctx, rs)
		switch {
		case err == nil:
			made++
		case !errors.Is(err, api.ErrAlreadyExists):
			r.events.Event(env, api.EventWarning, reasonResetsPlanned, "copy %s: reset %s not created: %v", c.Name, id, err)
		}
	}
	if made > 0 {
		r.events.Event(env, api.EventNormal, reasonResetsPlanned, "reset %s of %d copies queued", id, made)
	}
}
