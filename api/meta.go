package api

import "time"

// DeleteState is the deletion marker of an object (seed field meta.deleteState).
type DeleteState string

// Deletion states. The zero value means None.
const (
	DeleteStateNone   DeleteState = "None"
	DeleteStateDelete DeleteState = "Delete"
	DeleteStateDone   DeleteState = "Done"
)

// Finalizers. A finalizer names who must clean up before an object may
// disappear; the API server removes a deleted object when none is left.
const (
	// FinalizerCascade is on every group and namespace: the Core agent
	// deletes what they hold, children first, then removes it.
	FinalizerCascade = "core.humstack/cascade"
	// FinalizerNodePrefix + node name is on every object a System agent has
	// realized on that node, until it has torn down what it made.
	FinalizerNodePrefix = "node.humstack/"
)

// OwnerReference names an object that owns this one.
type OwnerReference struct {
	APIType   string `json:"apiType"`
	ID        string `json:"id"`
	Group     string `json:"group,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Meta is the metadata every object carries. The first block is the seed's;
// the second is set by the API server and ignored on create.
type Meta struct {
	// ResourceVersion comes first on purpose: the server splices it into
	// stored JSON without re-encoding (see InjectResourceVersion).
	ResourceVersion string `json:"resourceVersion,omitempty"`

	ID              string            `json:"id"`
	Name            string            `json:"name,omitempty"`
	Group           string            `json:"group,omitempty"`
	Namespace       string            `json:"namespace,omitempty"`
	APIType         string            `json:"apiType"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	DeleteState     DeleteState       `json:"deleteState,omitempty"`
	OwnerReferences []OwnerReference  `json:"ownerReferences,omitempty"`
	// ResourceHash is the original's server-computed hash of the object;
	// its clients send it back (see legacy.go).
	ResourceHash Ignored `json:"resourceHash,omitzero" legacy:"a hash the original server computed; humstack orders writes by meta.resourceVersion"`
	// Finalizers name who must clean up before the object may disappear.
	// On update, an absent (nil) list keeps the stored one.
	Finalizers []string `json:"finalizers,omitzero"` // omitzero: [] is sent, nil is not

	UID string `json:"uid,omitempty"`
	// Generation counts the changes of the spec: 1 at create, bumped by the
	// server on every update that changes the spec (not on status writes,
	// nor on meta-only changes such as finalizers, labels or annotations).
	// Reconcilers copy it into their conditions' observedGeneration, so a
	// client tells "not reconciled yet" from "failed". What a client sends
	// is ignored. Objects stored before it existed read 0 until their spec
	// next changes.
	Generation        int64      `json:"generation,omitempty"`
	CreationTimestamp *time.Time `json:"creationTimestamp,omitempty"`
	DeletionTimestamp *time.Time `json:"deletionTimestamp,omitempty"`
}

// Deleting reports whether deletion of the object has been requested.
func (m *Meta) Deleting() bool {
	return m.DeleteState == DeleteStateDelete || m.DeleteState == DeleteStateDone
}

// Object is any humstack resource.
type Object interface {
	GetMeta() *Meta
	// SetStatusFrom copies the status of src, which must be the same kind.
	SetStatusFrom(src Object) bool
	// SetSpecFrom copies the spec of src, which must be the same kind.
	SetSpecFrom(src Object) bool
}

// Empty is the spec or status of kinds that have none.
type Empty struct{}

// Resource is the shape shared by every kind: meta, spec, status.
type Resource[S, T any] struct {
	Meta   Meta `json:"meta"`
	Spec   S    `json:"spec,omitzero"`
	Status T    `json:"status,omitzero"`
}

// GetMeta returns the object's metadata.
func (r *Resource[S, T]) GetMeta() *Meta { return &r.Meta }

// SetStatusFrom copies src's status; false if src is another kind.
func (r *Resource[S, T]) SetStatusFrom(src Object) bool {
	o, ok := src.(*Resource[S, T])
	if ok {
		r.Status = o.Status
	}
	return ok
}

// SetSpecFrom copies src's spec; false if src is another kind.
func (r *Resource[S, T]) SetSpecFrom(src Object) bool {
	o, ok := src.(*Resource[S, T])
	if ok {
		r.Spec = o.Spec
	}
	return ok
}
