package api

import (
	"strings"
	"testing"
)

func TestStatusOf(t *testing.T) {
	vm := &VirtualMachine{Status: VirtualMachineStatus{State: "Running", Message: "m"}}
	net := &Network{Status: NetworkStatus{Nodes: map[string]StateStatus{
		"w2": {State: "Available", Message: "deletion waits: in use on this node by virtualmachine vm"},
		"w1": {State: "Available"},
	}}}
	img := &Image{}
	for _, tc := range []struct {
		o          Object
		state, msg string
	}{
		{o: vm, state: "Running", msg: "m"},
		{o: net, state: "Available", msg: "w2: deletion waits: in use on this node by virtualmachine vm"},
		{o: img}, // an image has no state
		{o: &Group{Status: StateStatus{State: ParentDeleting, Message: "waiting"}}, state: ParentDeleting, msg: "waiting"},
	} {
		s, m := StatusOf(tc.o)
		if s != tc.state || m != tc.msg {
			t.Errorf("StatusOf(%T) = %q, %q; want %q, %q", tc.o, s, m, tc.state, tc.msg)
		}
	}
}

// TestEmptyParentStatusIsNotOnTheWire: a group or namespace that is not
// being deleted encodes as before it had a status (no "status" key), and
// the original clients' "spec":{} still decodes.
func TestEmptyParentStatusIsNotOnTheWire(t *testing.T) {
	for _, o := range []Object{GroupKind.New(), NamespaceKind.New()} {
		o.GetMeta().ID, o.GetMeta().Group = "g1", "g"
		if o.GetMeta().APIType == GroupKind.APIType {
			o.GetMeta().Group = ""
		}
		b, err := Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "status") {
			t.Errorf("%s encodes a status: %s", o.GetMeta().APIType, b)
		}
	}
	if _, err := Decode([]byte(`{"meta":{"id":"g1","apiType":"corev0/group"},"spec":{}}`)); err != nil {
		t.Fatalf("original client's group: %v", err)
	}
}
