package api

import "strconv"

// Network types (annotation networkv0/network_type).
const (
	NetworkTypeVXLAN  = "VXLAN"
	NetworkTypeVLAN   = "VLAN"
	NetworkTypeBridge = "Bridge"
)

// Network is a virtual L2 network, realized per node as a bridge.
type Network = Resource[NetworkSpec, NetworkStatus]

// NetworkSpec is the seed's network definition.
type NetworkSpec struct {
	// ID is the VNI or VLAN ID, a string in the seed.
	ID       string `json:"id,omitempty"`
	IPv4CIDR string `json:"ipv4CIDR"`
	// DHCP configures the network's DHCP and DNS server: dnsmasq, run by
	// the agent of one node (AnnotationDHCPNode) in a network namespace of
	// its own (a Bridge network: by the agent of every node that realizes
	// it, see DHCPPerNode), with a static lease for every NIC the network's address
	// pool (ipv4CIDR) assigned. Absent: on, with the defaults below.
	DHCP *NetworkDHCP `json:"dhcp,omitempty"`
}

// NetworkDHCP is a network's DHCP and DNS service (docs/network-services.md).
type NetworkDHCP struct {
	// Disabled turns the service off: no server, no namespace; guests
	// without cloud-init get no address.
	Disabled bool `json:"disabled,omitempty"`
	// Address is the server's address in ipv4CIDR. The API server assigns
	// one from the pool when it is empty and reserves it like a NIC's.
	Address string `json:"address,omitempty"`
	// Gateway is the router handed to clients; empty: the address of the
	// networkv0/default_gateway annotation, else that of the namespace's
	// virtual router NIC on this network, else none.
	Gateway string `json:"gateway,omitempty"`
	// Nameservers are the DNS servers handed to clients; empty: Address.
	Nameservers []string `json:"nameservers,omitempty"`
	// Upstreams are the DNS servers names outside Domain are forwarded to,
	// reached through the network's gateway; empty: only the network's own
	// names are answered.
	Upstreams []string `json:"upstreams,omitempty"`
	// Domain is the suffix of the VMs' names, <vm>.<namespace>.<group>.<domain>
	// (default "internal").
	Domain string `json:"domain,omitempty"`
}

// NetworkStatus holds the per-node state of the network.
type NetworkStatus struct {
	Nodes map[string]StateStatus `json:"nodes,omitempty"`
	// DHCP is the state of the DHCP and DNS server, written by the agent of
	// the node that runs it (of each node, for a Bridge network: Servers),
	// and its hosts, written by the Core agent.
	DHCP *NetworkDHCPStatus `json:"dhcp,omitempty"`
}

// NetworkDHCPStatus is where a network's DHCP and DNS server runs and how.
type NetworkDHCPStatus struct {
	// Node, State, Message and Leases are the network's one server (VXLAN
	// and VLAN networks), written by the node that runs it.
	Node    string `json:"node,omitempty"`
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// Leases counts the static leases the server was configured with.
	Leases int `json:"leases,omitempty"`
	// Servers are the servers of a Bridge network, one on each node that
	// realizes it, by node; each node writes its own entry.
	Servers map[string]NetworkDHCPServer `json:"servers,omitempty"`
	// Hosts are the static leases, one per NIC of the network's VMs with
	// an address (the VM's first NIC on the network carries its name),
	// written
	// by the Core agent: the serving node may not read VMs placed on
	// other nodes.
	Hosts []NetworkDHCPHost `json:"hosts,omitempty"`
	// RouterGateway is the address of the namespace's virtual router on
	// the network (the first router by id), written by the Core agent:
	// the gateway handed out when spec.dhcp.gateway and the
	// networkv0/default_gateway annotation are empty.
	RouterGateway string `json:"routerGateway,omitempty"`
}

// NetworkDHCPServer is one node's server of a Bridge network.
type NetworkDHCPServer struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// Leases counts the static leases the server was configured with.
	Leases int `json:"leases,omitempty"`
}

// NetworkDHCPHost is one static lease: the NIC's MAC gets IPv4Address,
// and Name.<namespace>.<group>.<domain> resolves to it (no name: a VM's
// other NICs on the network).
type NetworkDHCPHost struct {
	Name        string `json:"name,omitempty"`
	MAC         string `json:"mac"`
	IPv4Address string `json:"ipv4Address"`
}

// VirtualRouter routes and NATs between networks and an external pool.
type VirtualRouter = Resource[VirtualRouterSpec, StateStatus]

// VirtualRouterSpec is the seed's router definition.
type VirtualRouterSpec struct {
	ExternalGateway string                    `json:"externalGateway,omitempty"`
	ExternalIPs     []VirtualRouterExternalIP `json:"externalIPs,omitempty"`
	NATGatewayIP    string                    `json:"natGatewayIP,omitempty"`
	NICs            []VirtualRouterNIC        `json:"nics,omitempty"`

	// PortForwards forward ports of an external address to ports of
	// internal addresses (DNAT), also for the networks' own VMs (hairpin).
	PortForwards []VirtualRouterPortForward `json:"portForwards,omitempty"`

	NATRules  Unsupported `json:"natRules,omitzero" legacy:"port-level NAT rules; a router does source NAT through natGatewayIP and 1:1 NAT through externalIPs"`
	DNATRules Unsupported `json:"dnatRules,omitzero" legacy:"port forwarding rules; use spec.portForwards, or bind a whole external IP with spec.externalIPs"`
}

// VirtualRouterPortForward forwards one port, or a range, of an external
// address to an internal address.
type VirtualRouterPortForward struct {
	// ExternalIPID is the external IP (of the router's namespace) whose
	// ports are forwarded; it must not also be bound 1:1 in externalIPs.
	// Empty: natGatewayIP.
	ExternalIPID string `json:"externalIPID,omitempty"`
	// Protocol is "tcp" or "udp".
	Protocol string `json:"protocol"`
	// ExternalPort is a port ("2222") or an inclusive range ("3000-3010").
	ExternalPort string `json:"externalPort"`
	// InternalAddress is the address in one of the router's networks the
	// traffic goes to.
	InternalAddress string `json:"internalAddress"`
	// InternalPort is the port, or the first port of the range, there;
	// empty: the external port(s).
	InternalPort string `json:"internalPort,omitempty"`
}

// VirtualRouterExternalIP binds an external IP 1:1 to an internal address.
type VirtualRouterExternalIP struct {
	ExternalIPID            string `json:"externalIPID"`
	BindInternalIPv4Address string `json:"bindInternalIPv4Address"`
}

// VirtualRouterNIC attaches the router to a network with an address in CIDR form.
type VirtualRouterNIC struct {
	NetworkID   string `json:"networkID"`
	IPv4Address string `json:"ipv4Address"`
	// MACAddress fixes the MAC of the router's interface on the network;
	// empty: a stable one derived from the router and the network.
	// Copies of an environment share it, so a guest restored from a
	// memory snapshot finds its gateway at the MAC it remembers.
	MACAddress string `json:"macAddress,omitempty"`
}

// ImageEntity is a stored copy of a disk, shared by a group.
type ImageEntity = Resource[ImageEntitySpec, ImageEntityStatus]

// ImageEntitySpec names the disk to copy.
type ImageEntitySpec struct {
	Source ImageEntitySource `json:"source"`

	Hash Unsupported `json:"hash,omitzero" legacy:"an expected checksum; the agent computes status.sha256 of the copy and checks no given one"`
}

// ImageEntitySource is a block storage in one of the group's namespaces.
type ImageEntitySource struct {
	Namespace      string `json:"namespace"`
	BlockStorageID string `json:"blockStorageID"`
	// SnapshotID, when set, takes the entity from this snapshot (in
	// Namespace) instead of the disk's current content: its file for
	// BlockStorageID.
	SnapshotID string `json:"snapshotID,omitempty"`
}

// ImageEntityStatus is the copy's progress and identity.
type ImageEntityStatus struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	Node    string `json:"node,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Size    int64  `json:"size,omitempty"`
	// DownloadHost is the download API (host:port) of Node, where other
	// nodes fetch the entity's file.
	DownloadHost string `json:"downloadHost,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// Image maps tags to image entities.
type Image = Resource[ImageSpec, Empty]

// ImageSpec is the tag map.
type ImageSpec struct {
	EntityMap map[string]string `json:"entityMap"`
}

// BlockStorage sources (spec.from.type).
const (
	BlockStorageFromEmpty     = "Empty"
	BlockStorageFromHTTP      = "HTTP"
	BlockStorageFromBaseImage = "BaseImage"
)

// BlockStorage is a virtual disk.
type BlockStorage = Resource[BlockStorageSpec, BlockStorageStatus]

// BlockStorageSpec is the seed's disk definition.
type BlockStorageSpec struct {
	RequestSize string           `json:"requestSize"`
	LimitSize   string           `json:"limitSize"`
	From        BlockStorageFrom `json:"from"`
}

// BlockStorageFrom says what the disk starts as.
type BlockStorageFrom struct {
	Type      string                 `json:"type"`
	HTTP      *BlockStorageHTTP      `json:"http,omitempty"`
	BaseImage *BlockStorageBaseImage `json:"baseImage,omitempty"`

	BlockStorage Unsupported `json:"blockStorage,omitzero" legacy:"a disk cloned from another disk; make an image entity of that disk and a BaseImage disk from its image"`
}

// BlockStorageHTTP downloads the disk from a URL.
type BlockStorageHTTP struct {
	URL string `json:"url"`
}

// BlockStorageBaseImage starts the disk from an image tag.
type BlockStorageBaseImage struct {
	ImageName string `json:"imageName"`
	Tag       string `json:"tag"`
}

// BlockStorageStatus is the disk's state and transfer progress.
type BlockStorageStatus struct {
	State      string `json:"state,omitempty"`
	Message    string `json:"message,omitempty"`
	Downloaded int64  `json:"downloadedBytes,omitempty"`
	Total      int64  `json:"totalBytes,omitempty"`
	UsedBy     string `json:"usedBy,omitempty"`
	// ImageEntity is the entity a BaseImage disk is an overlay of: its
	// file is the disk's backing file, so the entity stays while the disk
	// does.
	ImageEntity string `json:"imageEntity,omitempty"`
	// Snapshot is the snapshot ("namespace/id", in the disk's group) the
	// disk was restored from: its file is an overlay of the snapshot's
	// file, so the snapshot stays while the disk does.
	Snapshot string `json:"snapshot,omitempty"`
	// Restore is the last restore from a snapshot (AnnotationRestore).
	Restore *RestoreStatus `json:"restore,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// VMStateUnknown is the state of a VM whose node is NotReady: the Core
// agent sets it; the node's agent reports the real state when it is back.
const VMStateUnknown = "Unknown"

// VM power actions (spec.actionState).
const (
	ActionPowerOn  = "PowerOn"
	ActionPowerOff = "PowerOff"
)

// VirtualMachine is a QEMU guest.
type VirtualMachine = Resource[VirtualMachineSpec, VirtualMachineStatus]

// VirtualMachineSpec is the seed's VM definition.
type VirtualMachineSpec struct {
	// UUID is the guest's SMBIOS system UUID (QEMU -uuid), e.g. for
	// licences or inventories bound to it; empty: QEMU's default.
	UUID            string      `json:"uuid,omitempty"`
	Hostname        string      `json:"hostname,omitempty"`
	RequestVcpus    string      `json:"requestVcpus"`
	LimitVcpus      string      `json:"limitVcpus"`
	RequestMemory   string      `json:"requestMemory"`
	LimitMemory     string      `json:"limitMemory"`
	BlockStorageIDs []string    `json:"blockStorageIDs,omitempty"`
	NICs            []VMNIC     `json:"nics,omitempty"`
	ActionState     string      `json:"actionState,omitempty"`
	LoginUsers      []LoginUser `json:"loginUsers,omitempty"`
}

// VMNIC attaches a VM to a network; the addresses go to cloud-init.
type VMNIC struct {
	NetworkID string `json:"networkID"`
	// MACAddress fixes the NIC's MAC; empty: a stable one derived from the
	// VM and the NIC's index.
	MACAddress string `json:"macAddress,omitempty"`
	// IPv4Address is the NIC's address in its network's ipv4CIDR; empty:
	// the API server assigns one from the network's pool, which stays the
	// NIC's for its life (an update leaving it empty keeps it).
	IPv4Address    string   `json:"ipv4Address,omitempty"`
	Nameservers    []string `json:"nameservers,omitempty"`
	DefaultGateway string   `json:"defaultGateway,omitempty"`
	// SecurityGroupIDs are the security groups (of the VM's namespace)
	// filtering the NIC's traffic; none: everything is allowed.
	SecurityGroupIDs []string `json:"securityGroupIDs,omitempty"`

	IPv6Address Unsupported `json:"ipv6Address,omitzero" legacy:"IPv6 guest addresses; networks are IPv4 only"`
}

// LoginUser is a guest account created by cloud-init.
type LoginUser struct {
	Username          string   `json:"username"`
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
}

// VirtualMachineStatus is the VM's observed state.
type VirtualMachineStatus struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// PID is the QEMU process on the node while it runs.
	PID int `json:"pid,omitempty"`
	// Accelerator is what the VM runs with: kvm or tcg.
	Accelerator string `json:"accelerator,omitempty"`
	// Restarts counts restarts after the VM died while PowerOn.
	Restarts int `json:"restarts,omitempty"`
	// StartedAt is when QEMU was last started (RFC 3339).
	StartedAt string `json:"startedAt,omitempty"`
	// NICs are the NICs as realized: MAC and tap.
	NICs []VMNICStatus `json:"nics,omitempty"`
	// RestartRequired lists the spec changes that take effect only when
	// the VM is powered off and on again.
	RestartRequired []string `json:"restartRequired,omitempty"`
	// Restore is the last restore from a snapshot (AnnotationRestore).
	Restore *RestoreStatus `json:"restore,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// VMNICStatus is one realized NIC.
type VMNICStatus struct {
	NetworkID   string `json:"networkID"`
	MAC         string `json:"mac"`
	Tap         string `json:"tap,omitempty"`
	IPv4Address string `json:"ipv4Address,omitempty"`
}

// System kinds.
var (
	NetworkKind = register[NetworkSpec, NetworkStatus](Kind{
		APIType: "systemv0/network", Name: "network", Plural: "networks", Aliases: []string{"net"},
		Scope: ScopeNamespace, Rank: 4,
		// A node keeps the bridge while a VM or router there attaches to it.
		DeleteWaitsFor: []string{"virtualmachine", "virtualrouter"},
		Columns: []Column{
			{"TYPE", annotation(AnnotationNetworkType)},
			{"ID", func(o Object) string { return o.(*Network).Spec.ID }},
			{"CIDR", func(o Object) string { return o.(*Network).Spec.IPv4CIDR }},
			{"BRIDGE", annotation(AnnotationBridgeName)},
			{"NODES", func(o Object) string { return nodeStates(o.(*Network).Status.Nodes) }},
		},
	})
	VirtualRouterKind = register[VirtualRouterSpec, StateStatus](Kind{
		APIType: "systemv0/virtualrouter", Name: "virtualrouter", Plural: "virtualrouters",
		Aliases: []string{"vr"}, Scope: ScopeNamespace, Rank: 6,
		Columns: []Column{
			{"STATE", func(o Object) string { return o.(*VirtualRouter).Status.State }},
			{"NODE", annotation(AnnotationRouterNode)},
			{"NAT-IP", func(o Object) string { return o.(*VirtualRouter).Spec.NATGatewayIP }},
			{"NICS", func(o Object) string {
				var s []string
				for _, n := range o.(*VirtualRouter).Spec.NICs {
					s = append(s, n.NetworkID+"="+n.IPv4Address)
				}
				return join(s)
			}},
			{"FORWARDS", func(o Object) string { return strconv.Itoa(len(o.(*VirtualRouter).Spec.PortForwards)) }},
		},
	})
	BlockStorageKind = register[BlockStorageSpec, BlockStorageStatus](Kind{
		APIType: "systemv0/blockstorage", Name: "blockstorage", Plural: "blockstorages",
		Aliases: []string{"bs"}, Scope: ScopeNamespace, Rank: 5,
		// Not removed from under a running VM. (An image entity still
		// copying from the disk does not hold it: removing the disk cancels
		// the copy, so the entity, which needs the disk, never holds it up.)
		DeleteWaitsFor: []string{"virtualmachine"},
		Columns: []Column{
			{"STATE", func(o Object) string { return o.(*BlockStorage).Status.State }},
			{"NODE", annotation(AnnotationBlockStorageNode)},
			{"FROM", func(o Object) string { return o.(*BlockStorage).Spec.From.Type }},
			{"REQUEST", func(o Object) string { return o.(*BlockStorage).Spec.RequestSize }},
			{"LIMIT", func(o Object) string { return o.(*BlockStorage).Spec.LimitSize }},
			{"PROGRESS", func(o Object) string { return progress(o.(*BlockStorage).Status) }},
		},
	})
	ImageEntityKind = register[ImageEntitySpec, ImageEntityStatus](Kind{
		APIType: "systemv0/imageentity", Name: "imageentity", Plural: "imageentities",
		Aliases: []string{"ie"}, Scope: ScopeGroup, Rank: 8,
		// Its file is the backing file of the disks made from it (on any
		// node) and of the snapshots of those disks, and images map tags
		// to it.
		DeleteWaitsFor: []string{"blockstorage", "image", "snapshot"},
		Columns: []Column{
			{"STATE", func(o Object) string { return o.(*ImageEntity).Status.State }},
			{"SOURCE", func(o Object) string {
				s := o.(*ImageEntity).Spec.Source
				return s.Namespace + "/" + s.BlockStorageID
			}},
			{"NODE", func(o Object) string { return o.(*ImageEntity).Status.Node }},
			{"SHA256", func(o Object) string { return short(o.(*ImageEntity).Status.SHA256, 12) }},
		},
	})
	ImageKind = register[ImageSpec, Empty](Kind{
		APIType: "systemv0/image", Name: "image", Plural: "images", Scope: ScopeGroup, Rank: 9,
		// Disks from a tag resolve it through the image until they exist.
		DeleteWaitsFor: []string{"blockstorage"},
		Columns: []Column{
			{"TAGS", func(o Object) string { return tagList(o.(*Image).Spec.EntityMap) }},
		},
	})
	VirtualMachineKind = register[VirtualMachineSpec, VirtualMachineStatus](Kind{
		APIType: "systemv0/virtualmachine", Name: "virtualmachine", Plural: "virtualmachines",
		Aliases: []string{"vm"}, Scope: ScopeNamespace, Rank: 7,
		Columns: []Column{
			{"STATE", func(o Object) string { return o.(*VirtualMachine).Status.State }},
			{"ACTION", func(o Object) string { return o.(*VirtualMachine).Spec.ActionState }},
			{"NODE", annotation(AnnotationVirtualMachineNode)},
			{"VCPUS", func(o Object) string { return o.(*VirtualMachine).Spec.LimitVcpus }},
			{"MEMORY", func(o Object) string { return o.(*VirtualMachine).Spec.LimitMemory }},
			{"ADDRESSES", func(o Object) string {
				var s []string
				for _, n := range o.(*VirtualMachine).Spec.NICs {
					s = append(s, n.IPv4Address)
				}
				return join(s)
			}},
		},
	})
)
