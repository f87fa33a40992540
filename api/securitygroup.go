package api

import "strconv"

// Security group rule directions and protocols.
const (
	DirectionIngress = "ingress"
	DirectionEgress  = "egress"

	ProtocolTCP  = "tcp"
	ProtocolUDP  = "udp"
	ProtocolICMP = "icmp"
	ProtocolAll  = "all"
)

// SecurityGroup is a set of stateful rules filtering the traffic of the VM
// NICs that name it (spec.nics[].securityGroupIDs), enforced with nftables
// on the node of each VM. A NIC with groups accepts what one of its groups'
// rules allows and the replies to what it sent; a NIC without any group
// accepts everything.
type SecurityGroup = Resource[SecurityGroupSpec, SecurityGroupStatus]

// SecurityGroupSpec is the group's rules.
type SecurityGroupSpec struct {
	Rules []SecurityGroupRule `json:"rules,omitempty"`
}

// SecurityGroupStatus is who is in the group, written by the Core agent
// from the VMs of the namespace: a node's agent may read only the VMs
// placed on it, and takes the peers of a rule's remoteSecurityGroupID from
// here, so a rule matches members on every node.
type SecurityGroupStatus struct {
	// Members are the NICs naming the group that have an IPv4 address,
	// sorted by VM id, then NIC index.
	Members []SecurityGroupMember `json:"members,omitempty"`
}

// SecurityGroupMember is one NIC in a security group.
type SecurityGroupMember struct {
	VMID        string `json:"vmID"`
	NIC         int    `json:"nic"`
	IPv4Address string `json:"ipv4Address"`
}

// SecurityGroupRule allows one kind of traffic.
type SecurityGroupRule struct {
	// Direction is "ingress" (to the NIC) or "egress" (from it).
	Direction string `json:"direction"`
	// Protocol is "tcp", "udp", "icmp" or "all" (default).
	Protocol string `json:"protocol,omitempty"`
	// Ports is a port ("22") or an inclusive range ("8000-8080") of tcp or
	// udp; empty: every port.
	Ports string `json:"ports,omitempty"`
	// RemoteCIDR limits the rule to peers in this IPv4 prefix.
	RemoteCIDR string `json:"remoteCIDR,omitempty"`
	// RemoteSecurityGroupID limits the rule to peers whose NICs are in this
	// security group (of the same namespace). At most one of RemoteCIDR and
	// RemoteSecurityGroupID; neither: any peer.
	RemoteSecurityGroupID string `json:"remoteSecurityGroupID,omitempty"`
}

// SecurityGroupKind is the security group's kind.
var SecurityGroupKind = register[SecurityGroupSpec, SecurityGroupStatus](Kind{
	APIType: "systemv0/securitygroup", Name: "securitygroup", Plural: "securitygroups",
	Aliases: []string{"sg"}, Scope: ScopeNamespace, Rank: 4,
	Columns: []Column{
		{"RULES", func(o Object) string { return strconv.Itoa(len(o.(*SecurityGroup).Spec.Rules)) }},
		{"MEMBERS", func(o Object) string { return strconv.Itoa(len(o.(*SecurityGroup).Status.Members)) }},
	},
})
