package registry

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/humstack/humstack/api"
)

func validEvent() *api.Event {
	ev := api.EventKind.New().(*api.Event)
	ev.Meta.ID = "vm1-0123456789abcdef01234567"
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev.Spec = api.EventSpec{Type: api.EventWarning, Reason: "DownloadFailed", Message: "download http://x: HTTP 404 Not Found",
		Source:         api.EventSource{Component: "blockstorage", Node: "node-a"},
		InvolvedObject: api.ObjectReference{APIType: "systemv0/blockstorage", Group: "g1", Namespace: "ns1", ID: "bs1", UID: "0f6c-11"},
		FirstTimestamp: at, LastTimestamp: at.Add(time.Minute), Count: 3}
	return ev
}

func TestEventValidation(t *testing.T) {
	if fe := eventStrategy.Validate(validEvent()); len(fe) > 0 {
		t.Fatalf("valid event: %v", fe.Err())
	}
	for field, mutate := range map[string]func(*api.Event){
		"spec.type":                   func(e *api.Event) { e.Spec.Type = "" },
		"spec.reason":                 func(e *api.Event) { e.Spec.Reason = "downloadFailed" },
		"spec.message":                func(e *api.Event) { e.Spec.Message = strings.Repeat("x", api.MaxEventMessage+1) },
		"spec.source.component":       func(e *api.Event) { e.Spec.Source.Component = "Blockstorage!" },
		"spec.source.node":            func(e *api.Event) { e.Spec.Source.Node = "node_a" },
		"spec.involvedObject.apiType": func(e *api.Event) { e.Spec.InvolvedObject.APIType = "blockstorage" },
		"spec.involvedObject.group":   func(e *api.Event) { e.Spec.InvolvedObject.Group = "" },
		"spec.involvedObject.id":      func(e *api.Event) { e.Spec.InvolvedObject.ID = "" },
		"spec.involvedObject.uid":     func(e *api.Event) { e.Spec.InvolvedObject.UID = "a b" },
		"spec.count":                  func(e *api.Event) { e.Spec.Count = -2 },
		"spec.lastTimestamp":          func(e *api.Event) { e.Spec.LastTimestamp = e.Spec.FirstTimestamp.Add(-time.Second) },
		"spec.involvedObject.namespace ": func(e *api.Event) {
			e.Spec.InvolvedObject = api.ObjectReference{APIType: "systemv0/node", Namespace: "ns1", ID: "n1"}
		},
		"spec.involvedObject.apiType (2)": func(e *api.Event) { e.Spec.InvolvedObject.APIType = "corev0/event" },
	} {
		ev := validEvent()
		mutate(ev)
		want, _, _ := strings.Cut(strings.TrimSpace(field), " ")
		fe := eventStrategy.Validate(ev)
		if len(fe) != 1 || fe[0].Field != want {
			t.Errorf("%s: got %v, want one error naming %s", field, fe.Err(), want)
		}
	}
	old, changed := validEvent(), validEvent()
	changed.Spec.Count, changed.Spec.LastTimestamp = 9, changed.Spec.LastTimestamp.Add(time.Hour)
	if fe := eventStrategy.ValidateUpdate(old, changed); len(fe) > 0 {
		t.Errorf("counting a repeat: %v", fe.Err())
	}
	changed.Spec.Message = "another"
	if fe := eventStrategy.ValidateUpdate(old, changed); len(fe) != 1 || fe[0].Field != "spec.message" {
		t.Errorf("changing the message: %v, want spec.message immutable", fe.Err())
	}
}

// FuzzEventValidate checks the event rules on arbitrary field values: no
// panic, a stable answer, every error naming a spec field, and a valid
// event whose id (api.EventID) is a valid id and that survives a JSON
// round trip unchanged and valid.
func FuzzEventValidate(f *testing.F) {
	v := validEvent().Spec
	r := v.InvolvedObject
	f.Add(v.Type, v.Reason, v.Message, v.Source.Component, v.Source.Node, r.APIType, r.Group, r.Namespace, r.ID, r.UID, 3, int64(0))
	f.Add("Normal", "NodeNotReady", "", "node-liveness", "", "systemv0/node", "", "", "node-a", "", 0, int64(-1))
	f.Add("Warning", "X", "\xff\x00", "a..b", "-", "ns", "g", "", "Ns1", "", 1, int64(1))
	f.Fuzz(func(t *testing.T, typ, reason, msg, comp, node, apiType, g, ns, id, uid string, count int, shift int64) {
		ev := api.EventKind.New().(*api.Event)
		ev.Meta.ID = "e1"
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ev.Spec = api.EventSpec{Type: typ, Reason: reason, Message: msg, Source: api.EventSource{Component: comp, Node: node},
			InvolvedObject: api.ObjectReference{APIType: apiType, Group: g, Namespace: ns, ID: id, UID: uid},
			Count:          count, FirstTimestamp: at, LastTimestamp: at.Add(time.Duration(shift))}
		eventStrategy.Default(ev)
		fe := eventStrategy.Validate(ev)
		if again := eventStrategy.Validate(ev); !reflect.DeepEqual(fe, again) {
			t.Fatalf("unstable: %v / %v", fe, again)
		}
		for _, e := range fe {
			if !strings.HasPrefix(e.Field, "spec.") || e.Detail == "" {
				t.Fatalf("error without a spec field or detail: %#v", e)
			}
		}
		if len(fe) > 0 {
			return
		}
		if !utf8.ValidString(ev.Spec.Message) || len(ev.Spec.Message) > api.MaxEventMessage || ev.Spec.Count < 1 {
			t.Fatalf("valid event breaks its bounds: %+v", ev.Spec)
		}
		if id := api.EventID(&ev.Spec); !api.IsID(id) {
			t.Fatalf("EventID %q is not a valid id", id)
		}
		data, err := api.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := api.Decode(data)
		if err != nil {
			t.Fatalf("valid event does not decode: %v\n%s", err, data)
		}
		eventStrategy.Default(back)
		if fe := eventStrategy.Validate(back); len(fe) > 0 {
			t.Fatalf("invalid after a round trip: %v", fe.Err())
		}
		if again, _ := api.Encode(back); string(again) != string(data) {
			t.Fatalf("round trip changed the event:\n%s\n%s", data, again)
		}
	})
}
