package registry

import (
	"maps"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
)

// Limits on status.conditions, Kubernetes' where it has one.
const (
	maxConditions       = 32
	maxConditionMessage = 32 << 10
)

var (
	conditionTypeRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,63}$`)
	// A reason is a word for programs; states ("Running") are reasons.
	conditionReasonRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
)

// validateConditions checks the conditions of any kind that has them
// (status.conditions, and each node's entry of a network's status), so a
// client can rely on their shape: one per type, a known status.
func validateConditions(obj api.Object, fe *api.FieldErrors) {
	if n, ok := obj.(*api.Network); ok {
		for _, node := range slices.Sorted(maps.Keys(n.Status.Nodes)) {
			checkConditions(fe, keyField("status.nodes", node)+".conditions", n.Status.Nodes[node].Conditions)
		}
		return
	}
	checkConditions(fe, "status.conditions", conditions.Of(obj))
}

func checkConditions(fe *api.FieldErrors, field string, list []api.Condition) {
	if len(list) > maxConditions {
		fe.Add(field, "has %d conditions, more than %d", len(list), maxConditions)
		return
	}
	seen := noDuplicate{}
	for i, c := range list {
		f := indexField(field, i)
		if !conditionTypeRe.MatchString(c.Type) {
			fe.Add(f+".type", "%s is not a condition type: want one CamelCase word, up to 64", quote(c.Type))
		} else {
			seen.check(fe, f+".type", c.Type)
		}
		checkOneOf(fe, f+".status", string(c.Status),
			string(api.ConditionTrue), string(api.ConditionFalse), string(api.ConditionUnknown))
		if c.Reason != "" && !conditionReasonRe.MatchString(c.Reason) {
			fe.Add(f+".reason", "%s is not a reason: want one word of letters, digits and _, up to 128", quote(c.Reason))
		}
		if len(c.Message) > maxConditionMessage || !utf8.ValidString(c.Message) {
			fe.Add(f+".message", "must be UTF-8 of at most %d bytes", maxConditionMessage)
		}
		if c.ObservedGeneration < 0 {
			fe.Add(f+".observedGeneration", "must not be negative")
		}
	}
}
