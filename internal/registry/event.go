package registry

import (
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/humstack/humstack/api"
)

// Events (api/event.go) are written by agents' recorders; these rules
// keep any writer's events readable and their reference resolvable, since
// authorization follows the involved object it names.

var (
	reasonRe    = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,63}$`)
	componentRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)
	uidRe       = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

var eventStrategy = &typed[api.EventSpec, api.Empty]{
	defaults: defaultEvent,
	validate: validateEvent,
	immutable: []immutable[api.EventSpec, api.Empty]{
		// What an event is about and says is its identity (api.EventID):
		// an update may count a repeat, never turn it into another event.
		{"spec.type", func(e *api.Event) any { return e.Spec.Type }},
		{"spec.reason", func(e *api.Event) any { return e.Spec.Reason }},
		{"spec.message", func(e *api.Event) any { return e.Spec.Message }},
		{"spec.source", func(e *api.Event) any { return e.Spec.Source }},
		{"spec.involvedObject", func(e *api.Event) any { return e.Spec.InvolvedObject }},
	},
}

// defaultEvent counts a new event once, seen now. Times are kept in UTC.
func defaultEvent(e *api.Event) {
	s := &e.Spec
	if s.Count == 0 {
		s.Count = 1
	}
	if s.LastTimestamp.IsZero() {
		s.LastTimestamp = s.FirstTimestamp
	}
	if s.LastTimestamp.IsZero() {
		s.LastTimestamp = time.Now().UTC().Round(0).Truncate(time.Microsecond)
	}
	if s.FirstTimestamp.IsZero() {
		s.FirstTimestamp = s.LastTimestamp
	}
	s.FirstTimestamp, s.LastTimestamp = s.FirstTimestamp.UTC(), s.LastTimestamp.UTC()
}

func validateEvent(e *api.Event, fe *api.FieldErrors) {
	s := &e.Spec
	switch s.Type {
	case api.EventNormal, api.EventWarning:
	case "":
		fe.Add("spec.type", "required: Normal or Warning")
	default:
		fe.Add("spec.type", "%s is not Normal or Warning", quote(s.Type))
	}
	if !reasonRe.MatchString(s.Reason) {
		fe.Add("spec.reason", "%s is not a reason: want one CamelCase word of letters and digits, up to 64", quote(s.Reason))
	}
	if len(s.Message) > api.MaxEventMessage {
		fe.Add("spec.message", "is %d bytes, more than %d", len(s.Message), api.MaxEventMessage)
	} else if !utf8.ValidString(s.Message) {
		fe.Add("spec.message", "is not UTF-8")
	}
	if c := s.Source.Component; c != "" && !componentRe.MatchString(c) {
		fe.Add("spec.source.component", "%s is not a component name: want lowercase letters, digits, '.' and '-', up to 63", quote(c))
	}
	if n := s.Source.Node; n != "" {
		checkID(fe, "spec.source.node", n)
	}
	validateReference(fe, "spec.involvedObject", s.InvolvedObject)
	if s.Count < 1 {
		fe.Add("spec.count", "%d is not a count: want 1 or more", s.Count)
	}
	if s.LastTimestamp.Before(s.FirstTimestamp) {
		fe.Add("spec.lastTimestamp", "is before spec.firstTimestamp")
	}
}

// validateReference checks that ref names an object of a registered kind,
// placed as that kind's scope says, so that authorization can judge the
// event as that object.
func validateReference(fe *api.FieldErrors, field string, ref api.ObjectReference) {
	k, err := api.LookupKind(ref.APIType)
	switch {
	case ref.APIType == "":
		fe.Add(field+".apiType", "required")
	case err != nil || k.APIType != ref.APIType:
		fe.Add(field+".apiType", "%s is not the apiType of a kind", quote(ref.APIType))
	case k == api.EventKind:
		fe.Add(field+".apiType", "events are not about events")
	default:
		scoped := func(name, v string, want bool) {
			switch {
			case want:
				requireID(fe, field+"."+name, v)
			case v != "":
				fe.Add(field+"."+name, "must be empty: a %s is not inside a %s", k.Name, name)
			}
		}
		scoped("group", ref.Group, k.Scope >= api.ScopeGroup)
		scoped("namespace", ref.Namespace, k.Scope == api.ScopeNamespace)
	}
	requireID(fe, field+".id", ref.ID)
	if ref.UID != "" && !uidRe.MatchString(ref.UID) {
		fe.Add(field+".uid", "%s is not a uid", quote(ref.UID))
	}
}
