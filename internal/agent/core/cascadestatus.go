package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// waitMessage says what a deletion waits for: the first child it has
// asked to go (in deletion order), with that child's own state and
// message, which say why it stays ("waiting for imageentity
// group1/ie1 (Deleting): in use as the backing file of disks ns1/bs2").
// A namespace's message names its own blocker, so a group's message reads
// down to the object that holds everything up.
func waitMessage(asked []api.Object) string {
	if len(asked) == 0 {
		return ""
	}
	o := asked[0]
	k, _ := api.KindOf(o)
	var b strings.Builder
	fmt.Fprintf(&b, "waiting for %s %s", k.Name, childName(k, o.GetMeta()))
	state, msg := api.StatusOf(o)
	if state != "" {
		fmt.Fprintf(&b, " (%s)", state)
	}
	if msg == "" {
		msg = "being torn down"
	}
	fmt.Fprintf(&b, ": %s", msg)
	if n := len(asked) - 1; n > 0 {
		fmt.Fprintf(&b, "; and %d more", n)
	}
	return b.String()
}

// childName names a child the way its parent's users know it: a
// namespace's objects by namespace/id, a group's by group/id.
func childName(k *api.Kind, m *api.Meta) string {
	if k.Scope == api.ScopeNamespace {
		return m.Namespace + "/" + m.ID
	}
	return m.Group + "/" + m.ID
}

// report writes the parent's status (state Deleting, msg), if it changed.
func (r *cascade) report(ctx context.Context, parent api.Object, msg string) error {
	changed := false
	_, err := controller.UpdateStatus(ctx, r.c, parent, func(o api.Object) bool {
		st := parentStatus(o)
		if st == nil || (st.State == api.ParentDeleting && st.Message == msg) {
			return false
		}
		st.State, st.Message, changed = api.ParentDeleting, msg, true
		return true
	})
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("report waiting status: %w", err)
	}
	if changed && msg != "" && r.events != nil {
		r.events.Event(parent, api.EventNormal, "DeletionWaiting", "deletion %s", msg)
	}
	return nil
}

// parentStatus is the status of a group or namespace.
func parentStatus(o api.Object) *api.StateStatus {
	switch p := o.(type) {
	case *api.Group:
		return &p.Status
	case *api.Namespace:
		return &p.Status
	}
	return nil
}
