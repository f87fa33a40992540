package network

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestHandleIsRouteOnly: the driver's netlink handle opens NETLINK_ROUTE
// alone, so applying a network needs no xfrm_user or nfnetlink module
// (a node whose kernel cannot load them on demand failed every apply
// with "protocol not supported").
func TestHandleIsRouteOnly(t *testing.T) {
	h, err := newHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !h.SupportsNetlinkFamily(unix.NETLINK_ROUTE) {
		t.Error("handle cannot do NETLINK_ROUTE")
	}
	for _, f := range []int{unix.NETLINK_XFRM, unix.NETLINK_NETFILTER} {
		if h.SupportsNetlinkFamily(f) {
			t.Errorf("handle opened netlink family %d, which the driver never uses", f)
		}
	}
}
