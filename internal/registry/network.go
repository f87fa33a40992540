package registry

import (
	"github.com/humstack/humstack/api"
)

// Network kinds: networks and virtual routers.

// ID ranges of spec.id per network type: a VXLAN VNI is 24 bits, an 802.1Q
// VLAN id is 12 bits with 0 and 4095 reserved. A Bridge network needs no id;
// one given is kept for the user's bookkeeping and only has to be a number.
const (
	maxVNI      = 1<<24 - 1
	maxVLAN     = 4094
	maxBridgeID = 1<<32 - 1
)

var networkStrategy = &typed[api.NetworkSpec, api.NetworkStatus]{
	defaults: defaultNetwork,
	validate: validateNetwork,
	// Changing the type or id would mean tearing the network down on every
	// node under the VMs attached to it; delete and recreate instead.
	frozenAnnotations: []string{api.AnnotationNetworkType},
	immutable: []immutable[api.NetworkSpec, api.NetworkStatus]{
		{"spec.id", func(n *api.Network) any { return n.Spec.ID }},
		// The CIDR is the network's address pool (IPAM): the addresses its
		// VMs and routers hold were checked against it.
		{"spec.ipv4CIDR", func(n *api.Network) any { return n.Spec.IPv4CIDR }},
	},
}

// defaultNetwork makes an untyped network a plain bridge, the type that
// needs nothing from the node's configuration.
func defaultNetwork(n *api.Network) {
	setDefaultAnnotation(&n.Meta, api.AnnotationNetworkType, api.NetworkTypeBridge)
}

func validateNetwork(n *api.Network, fe *api.FieldErrors) {
	ann := n.Meta.Annotations
	typeField := annotationField(api.AnnotationNetworkType)
	if checkOneOf(fe, typeField, ann[api.AnnotationNetworkType],
		api.NetworkTypeVXLAN, api.NetworkTypeVLAN, api.NetworkTypeBridge) {
		validateNetworkID(fe, ann[api.AnnotationNetworkType], n.Spec.ID)
	}
	cidr, cidrOK := requireIPv4Network(fe, "spec.ipv4CIDR", n.Spec.IPv4CIDR)
	if gw := ann[api.AnnotationDefaultGateway]; gw != "" {
		field := annotationField(api.AnnotationDefaultGateway)
		p, ok := requireIPv4Prefix(fe, field, gw)
		// The gateway address is put on the bridge with its prefix, so it
		// must be a host of this very network, not of a wider or narrower one.
		if ok && cidrOK && (p.Bits() != cidr.Bits() || !cidr.Contains(p.Addr())) {
			fe.Add(field, "%s is not an address in spec.ipv4CIDR %s with its prefix length", quote(gw), cidr)
		}
	}
	if br := ann[api.AnnotationBridgeName]; br != "" {
		checkIfName(fe, annotationField(api.AnnotationBridgeName), br)
	}
	validateNetworkDHCP(n, cidr, cidrOK, fe)
}

func validateNetworkID(fe *api.FieldErrors, typ, id string) {
	switch {
	case typ == api.NetworkTypeBridge && id == "":
		return
	case id == "":
		fe.Add("spec.id", "required for a %s network", typ)
	case typ == api.NetworkTypeVXLAN:
		checkDecimal(fe, "spec.id", id, 1, maxVNI)
	case typ == api.NetworkTypeVLAN:
		checkDecimal(fe, "spec.id", id, 1, maxVLAN)
	default:
		checkDecimal(fe, "spec.id", id, 0, maxBridgeID)
	}
}

var virtualRouterStrategy = &typed[api.VirtualRouterSpec, api.StateStatus]{
	validate: validateVirtualRouter,
	// The router's namespace and rules live on that node; moving it is a
	// delete and a create.
	placedBy: api.AnnotationRouterNode,
}

func validateVirtualRouter(r *api.VirtualRouter, fe *api.FieldErrors) {
	optionalID(fe, annotationField(api.AnnotationRouterNode), r.Meta.Annotations[api.AnnotationRouterNode])
	optionalIPv4(fe, "spec.externalGateway", r.Spec.ExternalGateway)
	optionalIPv4(fe, "spec.natGatewayIP", r.Spec.NATGatewayIP)
	// One external IP bound twice would need two 1:1 NATs for one address.
	eips := noDuplicate{}
	for i, e := range r.Spec.ExternalIPs {
		f := indexField("spec.externalIPs", i)
		if requireID(fe, f+".externalIPID", e.ExternalIPID) {
			eips.check(fe, f+".externalIPID", e.ExternalIPID)
		}
		requireIPv4(fe, f+".bindInternalIPv4Address", e.BindInternalIPv4Address)
	}
	if len(r.Spec.NICs) == 0 {
		fe.Add("spec.nics", "required: a router needs at least one network")
	}
	// One veth per network: a second NIC on the same network has no bridge
	// port of its own to go to.
	nets, macs := noDuplicate{}, noDuplicate{}
	for i, nic := range r.Spec.NICs {
		f := indexField("spec.nics", i)
		if requireID(fe, f+".networkID", nic.NetworkID) {
			nets.check(fe, f+".networkID", nic.NetworkID)
		}
		requireIPv4Prefix(fe, f+".ipv4Address", nic.IPv4Address)
		// Two ports with one MAC would confuse the bridges' forwarding.
		if hw, ok := checkMAC(fe, f+".macAddress", nic.MACAddress); ok && hw != nil {
			macs.check(fe, f+".macAddress", hw.String())
		}
	}
	validateRouterAddresses(r, fe)
	validatePortForwards(r, fe)
}

// setDefaultAnnotation sets an annotation that is absent or empty (YAML
// "key:" with no value decodes as empty), never one the user set.
func setDefaultAnnotation(m *api.Meta, key, value string) {
	if m.Annotations[key] != "" {
		return
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = value
}
