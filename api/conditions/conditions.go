// Package conditions reads and writes the conditions on an object's status
// (api.Condition), with the rules of Kubernetes' meta.SetStatusCondition:
// one condition per type, and a LastTransitionTime that moves only when the
// status changes, so re-asserting a condition every reconcile writes
// nothing new.
package conditions

import (
	"reflect"
	"time"

	"github.com/humstack/humstack/api"
)

// Now is the clock of Set; tests replace it. Times are kept to the second,
// as they are written and read back as RFC 3339.
var Now = func() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Set adds c to list or updates the condition of its type, and reports
// whether anything changed. LastTransitionTime is c's when given, else now,
// and is only taken when the status changes (or the condition is new);
// reason, message and observedGeneration are always taken.
func Set(list *[]api.Condition, c api.Condition) bool {
	if c.Status == "" {
		c.Status = api.ConditionUnknown
	}
	old := Find(*list, c.Type)
	if old == nil {
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = Now()
		}
		*list = append(*list, c)
		return true
	}
	changed := false
	if old.Status != c.Status {
		old.Status = c.Status
		old.LastTransitionTime = c.LastTransitionTime
		if old.LastTransitionTime.IsZero() {
			old.LastTransitionTime = Now()
		}
		changed = true
	}
	if old.Reason != c.Reason || old.Message != c.Message || old.ObservedGeneration != c.ObservedGeneration {
		old.Reason, old.Message, old.ObservedGeneration = c.Reason, c.Message, c.ObservedGeneration
		changed = true
	}
	return changed
}

// Find returns the condition of type t in list, or nil. The pointer is into
// list: changes through it change the list.
func Find(list []api.Condition, t string) *api.Condition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

// Remove drops the condition of type t and reports whether there was one.
func Remove(list *[]api.Condition, t string) bool {
	for i := range *list {
		if (*list)[i].Type == t {
			*list = append((*list)[:i:i], (*list)[i+1:]...)
			return true
		}
	}
	return false
}

// IsTrue reports whether list has condition t with status True.
func IsTrue(list []api.Condition, t string) bool {
	c := Find(list, t)
	return c != nil && c.Status == api.ConditionTrue
}

// Stale reports whether c was written for an older spec than generation:
// its writer has not reconciled the current spec yet. Objects stored
// before meta.generation existed have generation 0 and are never stale.
func Stale(c api.Condition, generation int64) bool {
	return c.ObservedGeneration < generation
}

// Of returns the conditions on obj's status (status.conditions), or nil
// for kinds without them. A network's conditions are per node: see
// OfNetwork.
func Of(obj api.Object) []api.Condition {
	if p := field(obj); p != nil {
		return *p
	}
	return nil
}

// In returns a pointer to obj's status.conditions, for Set and Remove, or
// nil for kinds without them.
func In(obj api.Object) *[]api.Condition { return field(obj) }

// OfNetwork returns a network's conditions by node.
func OfNetwork(n *api.Network) map[string][]api.Condition {
	out := map[string][]api.Condition{}
	for node, st := range n.Status.Nodes {
		if len(st.Conditions) > 0 {
			out[node] = st.Conditions
		}
	}
	return out
}

var conditionsType = reflect.TypeFor[[]api.Condition]()

// field finds status.conditions by name, so a kind that adds the field
// needs nothing here.
func field(obj api.Object) *[]api.Condition {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	st := v.Elem().FieldByName("Status")
	if !st.IsValid() || st.Kind() != reflect.Struct {
		return nil
	}
	f := st.FieldByName("Conditions")
	if !f.IsValid() || f.Type() != conditionsType {
		return nil
	}
	return f.Addr().Interface().(*[]api.Condition)
}
