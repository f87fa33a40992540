package apiserver

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// A claim is one address an object holds in a network's pool: a VM NIC's
// (empty: to be assigned), a router NIC's, or a network's own (its
// gateway annotation, its DHCP server).
type claim struct {
	network string     // the network's id, in the object's namespace
	addr    netip.Addr // invalid: assign one
	field   string     // the JSON path of the address
	nic     int        // the NIC's index; -1: the network's own address
	dhcp    bool       // assigned as a DHCP server's address (from the top)
	bits    int        // a router NIC's prefix length; 0: none written
	set     func(netip.Addr)
}

// gatewayField is the JSON path of a network's gateway annotation.
var gatewayField = "meta.annotations[" + api.AnnotationDefaultGateway + "]"

// claimsOf lists what obj holds; nil for kinds without
// addresses.
func claimsOf(obj api.Object) []claim {
	switch o := obj.(type) {
	case *api.VirtualMachine:
		return vmClaims(o)
	case *api.VirtualRouter:
		return routerClaims(o)
	case *api.Network:
		return networkClaims(o)
	}
	return nil
}

func vmClaims(vm *api.VirtualMachine) []claim {
	var cs []claim
	for i := range vm.Spec.NICs {
		nic := &vm.Spec.NICs[i]
		a, _ := api.ParseIPv4(nic.IPv4Address) // validated: empty or an address
		cs = append(cs, claim{
			network: nic.NetworkID, addr: a, nic: i,
			field: fmt.Sprintf("spec.nics[%d].ipv4Address", i),
			set:   func(a netip.Addr) { nic.IPv4Address = a.String() },
		})
	}
	return cs
}

func routerClaims(r *api.VirtualRouter) []claim {
	var cs []claim
	for i, nic := range r.Spec.NICs {
		p, ok := api.ParseIPv4Prefix(nic.IPv4Address) // required by validation
		if !ok {
			continue
		}
		cs = append(cs, claim{network: nic.NetworkID, addr: p.Addr(), nic: i, bits: p.Bits(),
			field: fmt.Sprintf("spec.nics[%d].ipv4Address", i)})
	}
	return cs
}

func networkClaims(n *api.Network) []claim {
	var cs []claim
	if p, ok := api.ParseIPv4Prefix(n.Meta.Annotations[api.AnnotationDefaultGateway]); ok {
		cs = append(cs, claim{network: n.Meta.ID, addr: p.Addr(), nic: -1, field: gatewayField})
	}
	d := n.Spec.DHCP
	if d != nil && d.Disabled && d.Address == "" {
		return cs
	}
	// A /31 or /32 has two addresses or one: a DHCP server would take
	// what its one or two NICs need, so none is assigned (one written
	// in spec.dhcp.address is kept).
	if p, ok := api.ParseIPv4Network(n.Spec.IPv4CIDR); ok && p.Bits() > 30 && (d == nil || d.Address == "") {
		return cs
	}
	c := claim{network: n.Meta.ID, nic: -1, field: "spec.dhcp.address", dhcp: true,
		set: func(a netip.Addr) {
			if n.Spec.DHCP == nil {
				n.Spec.DHCP = &api.NetworkDHCP{}
			}
			n.Spec.DHCP.Address = a.String()
		}}
	if d != nil {
		c.addr, _ = api.ParseIPv4(d.Address)
	}
	return append(cs, c)
}

// held is the set of (network, address) pairs obj holds, for telling
// what an update keeps, takes and frees.
func held(obj api.Object) map[string]claim {
	m := map[string]claim{}
	if obj == nil {
		return m
	}
	for _, c := range claimsOf(obj) {
		if c.addr.IsValid() {
			m[c.network+"/"+c.addr.String()] = c
		}
	}
	return m
}

// ipamEntry is the value of a ledger key: who holds the address, since
// when.
type ipamEntry struct {
	Kind      string `json:"kind"`
	Group     string `json:"group"`
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	UID       string `json:"uid"`
	NIC       int    `json:"nic"`
	Field     string `json:"field"`
	Since     string `json:"since"`
}

func newEntry(k *api.Kind, m *api.Meta, c claim, now time.Time) ipamEntry {
	return ipamEntry{Kind: k.Name, Group: m.Group, Namespace: m.Namespace, ID: m.ID, UID: m.UID,
		NIC: c.nic, Field: c.field, Since: now.UTC().Format(time.RFC3339Nano)}
}

// holder names the entry's holder in messages:
// "virtualmachine ns1/vm2 (nic 0)".
func (e ipamEntry) holder() string {
	what := e.Field
	if e.NIC >= 0 {
		what = fmt.Sprintf("nic %d", e.NIC)
	}
	return fmt.Sprintf("%s %s/%s (%s)", e.Kind, e.Namespace, e.ID, what)
}

// ownedBy says whether the entry is obj's (of kind k).
func (e ipamEntry) ownedBy(k *api.Kind, m *api.Meta) bool {
	return e.Kind == k.Name && e.ID == m.ID && e.UID == m.UID
}

// stillHolds says whether obj, the stored holder of the entry, still
// claims address a of the network.
func stillHolds(obj api.Object, network string, a netip.Addr) bool {
	_, ok := held(obj)[network+"/"+a.String()]
	return ok
}

// age is how long ago the entry was written; unparsable: very old.
func (e ipamEntry) age(now time.Time) time.Duration {
	t, err := time.Parse(time.RFC3339Nano, e.Since)
	if err != nil {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(t)
}

// kindOfEntry is the holder's kind, nil when the name is unknown.
func kindOfEntry(e ipamEntry) *api.Kind {
	k, err := api.LookupKind(strings.ToLower(e.Kind))
	if err != nil {
		return nil
	}
	return k
}
