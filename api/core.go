package api

// Annotation keys from the seed.
const (
	AnnotationNetworkType        = "networkv0/network_type"
	AnnotationBridgeName         = "networkv0/bridge_name"
	AnnotationDefaultGateway     = "networkv0/default_gateway"
	AnnotationRouterNode         = "virtualrouterv0/node_name"
	AnnotationBlockStorageType   = "blockstoragev0/type"
	AnnotationBlockStorageNode   = "blockstoragev0/node_name"
	AnnotationBSDownloadHost     = "bs-download-host"
	AnnotationVirtualMachineNode = "virtualmachinev0/node_name"
	// AnnotationDHCPNode is the node whose agent runs a network's DHCP and
	// DNS server; the scheduler sets it when empty.
	AnnotationDHCPNode = "networkv0/dhcp_node_name"
)

// Group is an organisation; it owns namespaces, images and image entities.
// Its status is empty until it is deleted; then the Core agent says there
// what the deletion waits for (ParentDeleting).
type Group = Resource[Empty, StateStatus]

// Namespace separates resources inside a group. Its status is like a
// group's.
type Namespace = Resource[NamespaceSpec, StateStatus]

// ParentDeleting is the status.state of a group or namespace whose
// contents are being deleted; status.message names what it waits for.
const ParentDeleting = "Deleting"

// NamespaceSpec is empty; it exists so Namespace is a distinct Go type from Group.
type NamespaceSpec struct{}

// ExternalIPPool is a block of addresses on an external bridge.
type ExternalIPPool = Resource[ExternalIPPoolSpec, ExternalIPPoolStatus]

// ExternalIPPoolSpec is the seed's pool definition.
type ExternalIPPoolSpec struct {
	IPv4CIDR       string `json:"ipv4CIDR"`
	BridgeName     string `json:"bridgeName"`
	DefaultGateway string `json:"defaultGateway,omitempty"`

	IPv6CIDR Unsupported `json:"ipv6CIDR,omitzero" legacy:"IPv6 pools; external networks are IPv4 only"`
}

// ExternalIPPoolStatus lists which addresses are in use and by whom.
type ExternalIPPoolStatus struct {
	// Used maps an address to the external IP holding it ("group/namespace/id").
	Used map[string]string `json:"used,omitempty"`
	// NATGateways maps an address of the pool that routers name as their
	// natGatewayIP to the one router holding it ("group/namespace/id"):
	// the oldest (creationTimestamp, then key). The Core agent writes it;
	// a router agent uses the address only when it is its router's, since
	// it cannot see the routers of other nodes.
	NATGateways map[string]string `json:"natGateways,omitempty"`

	UsedIPv4Address Ignored `json:"usedIPv4Address,omitzero" legacy:"the original's bookkeeping of used addresses, kept by the server; humstack keeps status.used"`
	UsedIPv6Address Ignored `json:"usedIPv6Address,omitzero" legacy:"the original's bookkeeping of used IPv6 addresses, kept by the server"`
}

// ExternalIP is one address taken from a pool.
type ExternalIP = Resource[ExternalIPSpec, ExternalIPStatus]

// ExternalIPSpec is the seed's external IP definition.
type ExternalIPSpec struct {
	PoolID      string `json:"poolID"`
	IPv4Address string `json:"ipv4Address"`
	IPv4Prefix  int    `json:"ipv4Prefix,omitempty"`

	IPv6Address Unsupported `json:"ipv6Address,omitzero" legacy:"IPv6 external addresses; external IPs are IPv4 only"`
	IPv6Prefix  Unsupported `json:"ipv6Prefix,omitzero" legacy:"IPv6 external addresses; external IPs are IPv4 only"`
}

// ExternalIPStatus is an external IP's state (Available or Error, from its
// pool) and the router holding it.
type ExternalIPStatus struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// BoundBy is the id of the router (of the external IP's namespace)
	// that puts the address on its external interface: the oldest
	// (creationTimestamp, then id) of the routers naming it in
	// spec.externalIPs or spec.portForwards. The Core agent writes it;
	// every other router naming it leaves it out, whichever node it is on.
	BoundBy string `json:"boundBy,omitempty"`
}

// StateStatus is the status of kinds that have only a state and a message.
// Conditions are set where an agent manages the object: a router, and each
// node's entry of a network.
type StateStatus struct {
	State      string      `json:"state,omitempty"`
	Message    string      `json:"message,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Node is a machine running an agent. Agents write it.
type Node = Resource[NodeSpec, NodeStatus]

// Node states.
const (
	NodeReady    = "Ready"
	NodeNotReady = "NotReady"
)

// NodeSpec is what the agent reports about its machine.
type NodeSpec struct {
	Address      string `json:"address,omitempty"`
	LimitMemory  string `json:"limitMemory,omitempty"`
	LimitVcpus   string `json:"limitVcpus,omitempty"`
	AgentMode    string `json:"agentMode,omitempty"`
	Accelerator  string `json:"accelerator,omitempty"`
	AgentVersion string `json:"agentVersion,omitempty"`
	// DownloadHost is host:port of the agent's node listener (its download
	// API, which also serves the VMs' consoles to the API server), empty
	// when the agent runs without the cluster secret.
	DownloadHost string `json:"downloadHost,omitempty"`
	// LimitStorage is the disk space for block storages, as written
	// ("500G"): the agent's limitStorage, or the size of the file system
	// of its blockStorageDirPath.
	LimitStorage string `json:"limitStorage,omitempty"`
	// Unschedulable is set by `humcli cordon`: the scheduler places nothing
	// new here. The agent never changes it.
	Unschedulable bool `json:"unschedulable,omitempty"`
	// ExternalBridges are the external bridges the node has (the agent's
	// externalBridges), which routers reach their external IP pool's
	// bridgeName on; empty: the node does not say, and the scheduler does
	// not filter it for routers.
	ExternalBridges []string `json:"externalBridges,omitempty"`
}

// Amounts are quantities of capacity in base units.
type Amounts struct {
	MilliCPU int64 `json:"milliCPU,omitempty"`
	Memory   int64 `json:"memory,omitempty"`  // bytes
	Storage  int64 `json:"storage,omitempty"` // bytes
}

// Reservation is the capacity one placed object holds on a node.
type Reservation struct {
	Amounts
	// Since is when the API server made it (RFC 3339); a reservation whose
	// object never got stored is dropped a while after it.
	Since string `json:"since,omitempty"`
	// UID is the object's meta.uid: the removal of an object releases only
	// its own entry, never that of a new object with the same name.
	UID string `json:"uid,omitempty"`
}

// NodeStatus is liveness and allocation.
type NodeStatus struct {
	State             string `json:"state,omitempty"`
	Message           string `json:"message,omitempty"`
	LastHeartbeatTime string `json:"lastHeartbeatTime,omitempty"`
	AllocatedMemory   string `json:"allocatedMemory,omitempty"`
	AllocatedVcpus    string `json:"allocatedVcpus,omitempty"`
	// AllocatedStorage sums the requestSize of the disks stored on the node.
	AllocatedStorage string `json:"allocatedStorage,omitempty"`
	// Allocatable is the capacity the node offers: its spec's limits times
	// the API server's overcommit ratios. The API server keeps it.
	Allocatable *Amounts `json:"allocatable,omitempty"`
	// Reservations is the ledger of what is placed on the node, by object
	// ("virtualmachine/GROUP/NAMESPACE/ID"): the one truth of capacity that
	// admission, the scheduler and node status share. Only the API server
	// writes it, under compare-and-swap, so two placements can never both
	// take the last room. Allocated* are its sums.
	Reservations map[string]Reservation `json:"reservations,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// Lease is a lock that one agent holds for a while and renews: the Core
// agents elect the one that runs the cluster-wide controllers with the
// lease "core-controllers". Taking and renewing it are updates conditional
// on meta.resourceVersion, so two agents can never both win.
type Lease = Resource[LeaseSpec, Empty]

// LeaseSpec says who holds a lease. Times are RFC 3339, for people: the
// agents judge expiry by their own clock, from when they last saw the
// lease change, never by comparing another machine's clock with theirs.
type LeaseSpec struct {
	// HolderIdentity is the holding agent's node name; empty: released.
	HolderIdentity string `json:"holderIdentity,omitempty"`
	// LeaseDurationSeconds is how long others wait, after the last change
	// they saw, before they take the lease over.
	LeaseDurationSeconds int    `json:"leaseDurationSeconds,omitempty"`
	AcquireTime          string `json:"acquireTime,omitempty"`
	RenewTime            string `json:"renewTime,omitempty"`
	// LeaseTransitions counts changes of holder.
	LeaseTransitions int `json:"leaseTransitions,omitempty"`
}

// Core kinds.
var (
	GroupKind = register[Empty, StateStatus](Kind{
		APIType: "corev0/group", Name: "group", Plural: "groups", Scope: ScopeCluster, Rank: 0,
		Columns: []Column{{"NAME", name}, {"STATE", state}, {"MESSAGE", message}},
	})
	NamespaceKind = register[NamespaceSpec, StateStatus](Kind{
		APIType: "corev0/namespace", Name: "namespace", Plural: "namespaces", Aliases: []string{"ns"},
		Scope: ScopeGroup, Rank: 1,
		Columns: []Column{{"NAME", name}, {"STATE", state}, {"MESSAGE", message}},
	})
	ExternalIPPoolKind = register[ExternalIPPoolSpec, ExternalIPPoolStatus](Kind{
		APIType: "corev0/externalippool", Name: "externalippool", Plural: "externalippools",
		Aliases: []string{"eippool"}, Scope: ScopeCluster, Rank: 2,
		// Its addresses are held by external IPs and routers' natGatewayIP.
		DeleteWaitsFor: []string{"externalip", "virtualrouter"},
		Columns: []Column{
			{"CIDR", func(o Object) string { return o.(*ExternalIPPool).Spec.IPv4CIDR }},
			{"BRIDGE", func(o Object) string { return o.(*ExternalIPPool).Spec.BridgeName }},
			{"GATEWAY", func(o Object) string { return o.(*ExternalIPPool).Spec.DefaultGateway }},
			{"USED", func(o Object) string { return itoa(len(o.(*ExternalIPPool).Status.Used)) }},
		},
	})
	ExternalIPKind = register[ExternalIPSpec, ExternalIPStatus](Kind{
		APIType: "corev0/externalip", Name: "externalip", Plural: "externalips", Aliases: []string{"eip"},
		Scope: ScopeNamespace, Rank: 3,
		// A router binding it would lose its 1:1 NAT under it.
		DeleteWaitsFor: []string{"virtualrouter"},
		Columns: []Column{
			{"POOL", func(o Object) string { return o.(*ExternalIP).Spec.PoolID }},
			{"ADDRESS", func(o Object) string {
				s := o.(*ExternalIP).Spec
				return withPrefix(s.IPv4Address, s.IPv4Prefix)
			}},
			{"STATE", func(o Object) string { return o.(*ExternalIP).Status.State }},
			{"BOUND-BY", func(o Object) string { return o.(*ExternalIP).Status.BoundBy }},
		},
	})
	LeaseKind = register[LeaseSpec, Empty](Kind{
		APIType: "corev0/lease", Name: "lease", Plural: "leases", Scope: ScopeCluster, Rank: 0,
		Columns: []Column{
			{"HOLDER", func(o Object) string { return o.(*Lease).Spec.HolderIdentity }},
			{"RENEWED", func(o Object) string { return o.(*Lease).Spec.RenewTime }},
			{"TRANSITIONS", func(o Object) string { return itoa(o.(*Lease).Spec.LeaseTransitions) }},
		},
	})
	NodeKind = register[NodeSpec, NodeStatus](Kind{
		APIType: "systemv0/node", Name: "node", Plural: "nodes", Scope: ScopeCluster, Rank: 2,
		Columns: []Column{
			{"STATE", nodeState},
			{"ADDRESS", func(o Object) string { return o.(*Node).Spec.Address }},
			{"MODE", func(o Object) string { return o.(*Node).Spec.AgentMode }},
			// Allocated out of allocatable (the limits times the overcommit
			// ratios): what the scheduler can still place.
			{"VCPUS", func(o Object) string {
				n := o.(*Node)
				return n.Status.AllocatedVcpus + "/" + allocatable(n, func(a *Amounts) int64 { return a.MilliCPU }, milliCPU, n.Spec.LimitVcpus)
			}},
			{"MEMORY", func(o Object) string {
				n := o.(*Node)
				return humanQuantity(n.Status.AllocatedMemory) + "/" + allocatable(n, func(a *Amounts) int64 { return a.Memory }, HumanSize, humanQuantity(n.Spec.LimitMemory))
			}},
			{"DISKS", func(o Object) string {
				n := o.(*Node)
				return outOf(humanQuantity(n.Status.AllocatedStorage), allocatable(n, func(a *Amounts) int64 { return a.Storage }, HumanSize, humanQuantity(n.Spec.LimitStorage)))
			}},
			{"ACCEL", func(o Object) string { return o.(*Node).Spec.Accelerator }},
		},
	})
)

// nodeState is the node's state, with ",SchedulingDisabled" when it is
// cordoned (as kubectl shows it).
func nodeState(o Object) string {
	n := o.(*Node)
	if n.Spec.Unschedulable {
		return n.Status.State + ",SchedulingDisabled"
	}
	return n.Status.State
}

// allocatable renders one resource of the node's allocatable (get picks
// it, show formats it) when the API server has written it and the limit is
// known (not -1); else fallback, the limit as the spec writes it.
func allocatable(n *Node, get func(*Amounts) int64, show func(int64) string, fallback string) string {
	a := n.Status.Allocatable
	if a == nil || get(a) < 0 {
		return fallback
	}
	return show(get(a))
}

// outOf is "used/total", or used alone when the total is unknown.
func outOf(used, total string) string {
	if total == "" {
		return used
	}
	return used + "/" + total
}

func milliCPU(v int64) string { return itoa64(v) + "m" }
