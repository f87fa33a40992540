package registry

import (
	"net/netip"

	"github.com/humstack/humstack/api"
)

// Core kinds: tenancy (group, namespace), the external address space
// (externalippool, externalip) and nodes.

// Groups and namespaces are only meta.
var (
	// Groups and namespaces are emptied by the Core agent before they go:
	// without the finalizer a deletion would orphan everything inside.
	groupStrategy     = &typed[api.Empty, api.StateStatus]{finalizers: []string{api.FinalizerCascade}}
	namespaceStrategy = &typed[api.NamespaceSpec, api.StateStatus]{finalizers: []string{api.FinalizerCascade}}
)

var externalIPPoolStrategy = &typed[api.ExternalIPPoolSpec, api.ExternalIPPoolStatus]{
	validate: validateExternalIPPool,
}

func validateExternalIPPool(p *api.ExternalIPPool, fe *api.FieldErrors) {
	cidr, cidrOK := requireIPv4Network(fe, "spec.ipv4CIDR", p.Spec.IPv4CIDR)
	checkIfName(fe, "spec.bridgeName", p.Spec.BridgeName)
	gw, gwOK := optionalIPv4(fe, "spec.defaultGateway", p.Spec.DefaultGateway)
	if cidrOK && gwOK && !cidr.Contains(gw) {
		fe.Add("spec.defaultGateway", "%s is outside spec.ipv4CIDR %s", gw, cidr)
	}
}

var externalIPStrategy = &typed[api.ExternalIPSpec, api.ExternalIPStatus]{
	validate: validateExternalIP,
}

// validateExternalIP checks the address's form only; that it lies in its
// pool and is unused needs the store and is checked by the controller.
func validateExternalIP(e *api.ExternalIP, fe *api.FieldErrors) {
	requireID(fe, "spec.poolID", e.Spec.PoolID)
	requireIPv4(fe, "spec.ipv4Address", e.Spec.IPv4Address)
	if p := e.Spec.IPv4Prefix; p < 0 || p > 32 {
		fe.Add("spec.ipv4Prefix", "%d is not a prefix length in 1..32 (or 0 to take the pool's)", p)
	}
}

var nodeStrategy = &typed[api.NodeSpec, api.NodeStatus]{
	validate: validateNode,
}

// validateNode checks what agents report; capacity is optional because an
// agent may not know it yet.
func validateNode(n *api.Node, fe *api.FieldErrors) {
	if a := n.Spec.Address; a != "" {
		if ip, err := netip.ParseAddr(a); err != nil || ip.Zone() != "" {
			fe.Add("spec.address", "%s is not an IPv4 or IPv6 address", quote(a))
		}
	}
	if n.Spec.LimitMemory != "" {
		requireSize(fe, "spec.limitMemory", n.Spec.LimitMemory)
	}
	if n.Spec.LimitVcpus != "" {
		requireCPU(fe, "spec.limitVcpus", n.Spec.LimitVcpus)
	}
	if n.Spec.LimitStorage != "" {
		requireSize(fe, "spec.limitStorage", n.Spec.LimitStorage)
	}
	checkOneOf(fe, "status.state", n.Status.State, "", api.NodeReady, api.NodeNotReady)
}
