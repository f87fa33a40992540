package system

import (
	"context"
	"fmt"
	"reflect"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// Driver realizes the objects of one kind on this node's host. It is the
// seam between the generic reconciler and the host adapters; tests use
// fakes.
type Driver interface {
	// Apply makes the host match obj (a private copy) and records what it
	// observed in obj's status. It must be idempotent: for an object that is
	// already right it changes nothing. It returns controller.Terminal for
	// errors that retrying cannot fix, and a RequeueAfter to poll progress.
	Apply(ctx context.Context, obj api.Object) (controller.Result, error)
	// Remove tears down everything Apply made for obj. What is already
	// gone is not an error.
	Remove(ctx context.Context, obj api.Object) error
}

// NotImplemented is the driver of kinds this agent cannot realize yet: it
// says so in the object's status and has nothing to tear down.
type NotImplemented struct {
	Kind *api.Kind
	Node string
}

// Apply implements Driver.
func (d NotImplemented) Apply(_ context.Context, obj api.Object) (controller.Result, error) {
	SetState(obj, "Error", fmt.Sprintf("this agent (node %s) cannot realize %s yet: not implemented", d.Node, d.Kind.Plural))
	return controller.Result{}, nil
}

// Remove implements Driver: nothing was made.
func (NotImplemented) Remove(context.Context, api.Object) error { return nil }

// SetState sets status.state and status.message of any kind that has them.
func SetState(obj api.Object, state, msg string) {
	st := reflect.ValueOf(obj).Elem().FieldByName("Status")
	if f := st.FieldByName("State"); f.IsValid() && f.Kind() == reflect.String {
		f.SetString(state)
	}
	if f := st.FieldByName("Message"); f.IsValid() && f.Kind() == reflect.String {
		f.SetString(msg)
	}
}

// Dependency makes a driver's objects reconcile when an object of another
// kind changes: Keys picks, from what is placed on this node, the objects
// that wait for changed (e.g. the disks made from an image, when the image
// or its entity changes).
type Dependency struct {
	Kind *api.Kind
	Keys func(changed api.Object, placed []api.Object) []controller.Key
}

// Dependent is implemented by drivers whose objects wait for other kinds.
type Dependent interface {
	Dependencies() []Dependency
}
