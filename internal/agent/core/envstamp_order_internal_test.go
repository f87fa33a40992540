package core

import (
	"encoding/json"
	"slices"
	"testing"
)

// A template listing a VM before its network is stamped network first:
// the VM's address comes from the network's pool, which must exist.
func TestStampOrderNetworksFirst(t *testing.T) {
	res := []json.RawMessage{
		json.RawMessage(`{"meta":{"apiType":"systemv0/virtualmachine","id":"vm1"}}`),
		json.RawMessage(`{"meta":{"apiType":"systemv0/virtualrouter","id":"vr"}}`),
		json.RawMessage(`{"meta":{"apiType":"systemv0/network","id":"net1"}}`),
		json.RawMessage(`{"meta":{"apiType":"systemv0/virtualmachine","id":"vm2"}}`),
		json.RawMessage(`{"meta":{"apiType":"systemv0/blockstorage","id":"bs"}}`),
	}
	if got, want := stampOrder(res), []int{2, 4, 1, 0, 3}; !slices.Equal(got, want) {
		t.Errorf("stampOrder = %v, want %v", got, want)
	}
}
