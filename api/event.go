package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Event is a report of something that happened to an object: a disk
// downloading, a VM restarted after a crash, a node gone NotReady. Agents
// record them (internal/controller/record); repeats of the same event are
// one object whose spec.count and spec.lastTimestamp grow. The API server
// deletes events older than its --event-ttl and the oldest beyond its
// --max-events.
//
// Events live in one cluster-wide collection (/api/v0/events), but are
// authorized as their involved object: reading an event needs the read
// verb on kind event in the involved object's group or namespace, and the
// right to get the involved object itself; writing one, the write verb
// there and the right to get the object (docs/events.md).
type Event = Resource[EventSpec, Empty]

// MaxEventMessage is the longest message an event may carry, in bytes.
const MaxEventMessage = 1024

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// EventSpec is the event itself. Every field but the times and the count
// identifies the event: two reports that agree on them are one event.
type EventSpec struct {
	// Type is Normal or Warning.
	Type string `json:"type"`
	// Reason is one CamelCase word a program can match ("DownloadFailed").
	Reason string `json:"reason"`
	// Message says what happened, for people.
	Message        string          `json:"message,omitempty"`
	Source         EventSource     `json:"source,omitzero"`
	InvolvedObject ObjectReference `json:"involvedObject"`
	// FirstTimestamp and LastTimestamp are when the event was first and
	// last seen; Count is how many times it was seen in between.
	FirstTimestamp time.Time `json:"firstTimestamp,omitzero"`
	LastTimestamp  time.Time `json:"lastTimestamp,omitzero"`
	Count          int       `json:"count,omitempty"`
}

// EventSource is who reported an event: a controller, on a node.
type EventSource struct {
	Component string `json:"component,omitempty"`
	Node      string `json:"node,omitempty"`
}

// ObjectReference names one object of any kind: its apiType, where it
// lives (group and namespace, as its kind's scope has them), its id and,
// when known, its uid (which tells it from a later object of the same id).
type ObjectReference struct {
	APIType   string `json:"apiType"`
	Group     string `json:"group,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	ID        string `json:"id"`
	UID       string `json:"uid,omitempty"`
}

// ReferenceTo returns the reference to obj.
func ReferenceTo(obj Object) ObjectReference {
	m := obj.GetMeta()
	return ObjectReference{APIType: m.APIType, Group: m.Group, Namespace: m.Namespace, ID: m.ID, UID: m.UID}
}

// String is "kind/id" with its group and namespace: "virtualmachine/g1/ns1/vm1".
func (r ObjectReference) String() string {
	name := r.APIType
	if k, err := LookupKind(r.APIType); err == nil {
		name = k.Name
	}
	parts := []string{name}
	for _, p := range []string{r.Group, r.Namespace, r.ID} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return parts[0] + "/" + strings.Join(parts[1:], "/")
}

// EventID is the id of the event that reports (reason, type, message) about
// obj from source: the same for every repeat, so a repeat is an update of
// the one event, whoever reports it and however often the reporter
// restarts. It starts with the object's id, for people.
func EventID(spec *EventSpec) string {
	r := spec.InvolvedObject
	h := sha256.New()
	for _, s := range []string{r.APIType, r.Group, r.Namespace, r.ID, r.UID, spec.Type, spec.Reason,
		spec.Source.Component, spec.Source.Node, spec.Message} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	sum := hex.EncodeToString(h.Sum(nil))[:24]
	prefix := strings.TrimRight(r.ID[:min(len(r.ID), 38)], "-")
	if prefix == "" {
		return "e" + sum
	}
	return prefix + "-" + sum
}

// EventKind is the kind of events.
var EventKind = register[EventSpec, Empty](Kind{
	APIType: "corev0/event", Name: "event", Plural: "events", Aliases: []string{"ev"},
	Scope: ScopeCluster, Rank: 11,
	Columns: []Column{
		{"LAST SEEN", func(o Object) string { return age(o.(*Event).Spec.LastTimestamp) }},
		{"TYPE", func(o Object) string { return o.(*Event).Spec.Type }},
		{"REASON", func(o Object) string { return o.(*Event).Spec.Reason }},
		{"OBJECT", func(o Object) string { return o.(*Event).Spec.InvolvedObject.String() }},
		{"COUNT", func(o Object) string { return itoa(o.(*Event).Spec.Count) }},
		{"MESSAGE", func(o Object) string { return o.(*Event).Spec.Message }},
	},
})

// age is how long ago t was, in the largest whole unit ("4m", "2h").
func age(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return itoa(int(d/time.Hour)) + "h"
	}
	return itoa(int(d/(24*time.Hour))) + "d"
}
