package api

import "testing"

// TestDecodeEmbeddedFields: the fields of an embedded struct (a
// reservation's amounts) are known fields, as encoding/json has them.
func TestDecodeEmbeddedFields(t *testing.T) {
	n := NodeKind.New()
	js := `{"meta":{"apiType":"systemv0/node","id":"n1"},"status":{"reservations":{"virtualmachine/g/ns/vm1":{"milliCPU":1000,"memory":1024,"since":"x"}}}}`
	if err := DecodeInto([]byte(js), n); err != nil {
		t.Fatal(err)
	}
	if got := n.(*Node).Status.Reservations["virtualmachine/g/ns/vm1"]; got.MilliCPU != 1000 || got.Memory != 1024 {
		t.Errorf("reservation %+v", got)
	}
	bad := `{"meta":{"apiType":"systemv0/node","id":"n1"},"status":{"reservations":{"k":{"cpu":1}}}}`
	if err := DecodeInto([]byte(bad), NodeKind.New()); err == nil {
		t.Error("unknown field in an embedded struct's place accepted")
	}
}
