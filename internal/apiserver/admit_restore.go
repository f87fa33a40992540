package apiserver

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// restoreField is the JSON path of the restore annotation in messages.
var restoreField = "meta.annotations[" + strconv.Quote(api.AnnotationRestore) + "]"

// restoreAdmitter guards the restore annotation (api.AnnotationRestore)
// of VMs and disks. The node that carries out a restore reads the
// snapshot with its own credentials, whatever namespace the value names:
// without this check, whoever may write a VM could put another team's
// disks and memory into it. So a value that is new or changed must parse,
// and the writer must be allowed to get the snapshot it names (the Core
// agent and group or cluster admins are; an editor bound in one namespace
// is not, for a snapshot of another), and the snapshot must exist and not
// be going away. An unchanged value passes: it was judged when written,
// and nodes and controllers rewrite objects for other reasons.
type restoreAdmitter struct{ s *Server }

func (a restoreAdmitter) watches(k *api.Kind) bool {
	return k == api.VirtualMachineKind || k == api.BlockStorageKind
}

func (restoreAdmitter) release(context.Context, *api.Kind, api.Object) {}

func (a restoreAdmitter) admit(ctx context.Context, _ *api.Kind, old, obj api.Object) (func(), error) {
	none := func() {}
	m := obj.GetMeta()
	v := m.Annotations[api.AnnotationRestore]
	if v == "" || (old != nil && old.GetMeta().Annotations[api.AnnotationRestore] == v) {
		return none, nil
	}
	ns, id, _, err := api.ParseRestore(v)
	if err != nil {
		return none, api.Invalid(restoreField, "%q is not <namespace>/<snapshot>@<token> (a snapshot of group %s)", v, m.Group)
	}
	attrs := auth.Attributes{Verb: auth.VerbGet, Kind: api.SnapshotKind.Name, Group: m.Group, Namespace: ns, ID: id}
	// Read once, for the rules that depend on the object and for presence.
	attrs.Object = sync.OnceValues(func() (api.Object, error) { return a.s.stored(ctx, api.SnapshotKind, &attrs) })
	if err := a.mayRead(ctx, attrs); err != nil {
		return none, err
	}
	return none, present(attrs)
}

// mayRead refuses (403) a writer who may not get the snapshot. A snapshot
// the writer may not even see gets the same 403, saying nothing of
// whether it exists.
func (a restoreAdmitter) mayRead(ctx context.Context, attrs auth.Attributes) error {
	err := a.s.authorize(ctx, auth.FromContext(ctx), attrs)
	if err != nil && denial(err) {
		return fieldForbidden(restoreField, fmt.Sprintf("restoring from snapshot %s/%s/%s needs the right to get it",
			attrs.Group, attrs.Namespace, attrs.ID))
	}
	return err
}

// present refuses (400) a restore from a snapshot that does not exist or
// is being deleted: its files may be gone before the node fetches them.
func present(attrs auth.Attributes) error {
	obj, err := attrs.Object()
	name := attrs.Group + "/" + attrs.Namespace + "/" + attrs.ID
	switch {
	case err != nil:
		return err
	case obj == nil:
		return api.Invalid(restoreField, "snapshot %s does not exist", name)
	case obj.GetMeta().Deleting():
		return api.Invalid(restoreField, "snapshot %s is being deleted", name)
	}
	return nil
}
