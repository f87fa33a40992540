package vm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/link"
)

// plan is what a VM needs on this node, resolved from the API: its disks'
// files and its NICs' bridges, or the first thing it still waits for.
type plan struct {
	VCPUs     int
	MemoryMiB int64
	UUID      string // spec.uuid: the SMBIOS UUID, or "" for QEMU's default
	Disks     []plannedDisk
	NICs      []plannedNIC
}

type plannedDisk struct {
	Namespace, ID string
	Path          string
	Size          int64 // limitSize, for online growth
}

type plannedNIC struct {
	NetworkID string
	Bridge    string
	MAC       net.HardwareAddr
	Tap       string
	Address   netip.Addr
	Prefix    int
	Gateway   netip.Addr
	DNS       []netip.Addr
}

// waitError is a dependency that is not ready yet: the VM stays Pending
// with this message and is reconciled again when the dependency changes.
// cond is the condition it makes False (DisksReady or NetworksReady), with
// reason.
type waitError struct{ msg, cond, reason string }

func (w waitError) Error() string { return w.msg }

func waitingDisk(reason, format string, args ...any) error {
	return waitError{fmt.Sprintf(format, args...), api.ConditionDisksReady, reason}
}

func waitingNetwork(reason, format string, args ...any) error {
	return waitError{fmt.Sprintf(format, args...), api.ConditionNetworksReady, reason}
}

// specError is a spec that cannot be realized as it is: the VM is Error
// with this message until the spec changes.
type specError struct{ msg string }

func (e specError) Error() string { return e.msg }

func invalid(format string, args ...any) error { return specError{fmt.Sprintf(format, args...)} }

// resources converts the VM's limits: whole vCPUs (the server rejects
// fractions; checked again here) and memory in MiB.
func resources(s *api.VirtualMachineSpec) (int, int64, error) {
	milli, err := api.ParseCPU(s.LimitVcpus)
	if err != nil || milli <= 0 || milli%1000 != 0 {
		return 0, 0, invalid("spec.limitVcpus %q is not a whole number of vCPUs", s.LimitVcpus)
	}
	mem, err := api.ParseSize(s.LimitMemory)
	if err != nil || mem < 16<<20 {
		return 0, 0, invalid("spec.limitMemory %q is not a memory size of at least 16M", s.LimitMemory)
	}
	return int(milli / 1000), mem >> 20, nil
}

// basePlan is the part of vm's plan that needs nothing from the API: its
// vCPUs, memory and SMBIOS UUID.
func basePlan(vm *api.VirtualMachine) (plan, error) {
	var p plan
	var err error
	p.VCPUs, p.MemoryMiB, err = resources(&vm.Spec)
	p.UUID = vm.Spec.UUID
	return p, err
}

// resolve builds the plan of vm on node, reading its disks and networks.
// A dependency that is not ready is a waitError.
func (d *Driver) resolve(ctx context.Context, vm *api.VirtualMachine) (plan, error) {
	p, err := basePlan(vm)
	if err != nil {
		return p, err
	}
	m := vm.Meta
	disks := client.For[*api.BlockStorage](d.client)
	for _, id := range vm.Spec.BlockStorageIDs {
		bs, err := disks.Get(ctx, client.Scope{Group: m.Group, Namespace: m.Namespace}, id)
		if errors.Is(err, api.ErrNotFound) {
			return p, waitingDisk("DiskNotFound", "waiting for disk %s (not found)", id)
		} else if err != nil {
			return p, err
		}
		if node := bs.Meta.Annotations[api.AnnotationBlockStorageNode]; node != d.node {
			return p, waitingDisk("DiskOnOtherNode", "disk %s is on node %q, not on this VM's node %s", id, node, d.node)
		}
		if bs.Meta.Deleting() {
			return p, waitingDisk("DiskDeleting", "disk %s is being deleted", id)
		}
		user := d.DiskUser(m.Group, m.Namespace, id)
		switch {
		case bs.Status.State == "Used" && user != "" && user != key(&m):
			return p, waitingDisk("DiskInUse", "disk %s is used by VM %s", id, user)
		case bs.Status.State != "Active" && bs.Status.State != "Used":
			return p, waitingDisk("DiskNotActive", "waiting for disk %s to be Active (it is %s)", id, orNone(bs.Status.State))
		}
		size, _ := api.ParseSize(bs.Spec.LimitSize)
		p.Disks = append(p.Disks, plannedDisk{Namespace: m.Namespace, ID: id, Path: d.diskPath(m.Group, m.Namespace, id), Size: size})
	}
	nets := client.For[*api.Network](d.client)
	for i, nic := range vm.Spec.NICs {
		n, err := nets.Get(ctx, client.Scope{Group: m.Group, Namespace: m.Namespace}, nic.NetworkID)
		if errors.Is(err, api.ErrNotFound) {
			return p, waitingNetwork("NetworkNotFound", "waiting for network %s (not found)", nic.NetworkID)
		} else if err != nil {
			return p, err
		}
		st := n.Status.Nodes[d.node]
		bridge := n.Meta.Annotations[api.AnnotationBridgeName]
		if st.State != "Available" || bridge == "" {
			return p, waitingNetwork("NetworkNotAvailable", "waiting for network %s to be Available on node %s (it is %s)", nic.NetworkID, d.node, orNone(st.State))
		}
		pn, err := planNIC(vm, i, n, bridge)
		if err != nil {
			return p, err
		}
		p.NICs = append(p.NICs, pn)
	}
	return p, nil
}

// planNIC fills one NIC: the MAC the spec fixes (macAddress), else one
// derived from the VM and the NIC's index (stable across restarts and
// agents); a tap name derived the same way; the address with the network's
// prefix, and the gateway (the NIC's own, else the network's
// default_gateway).
func planNIC(vm *api.VirtualMachine, i int, n *api.Network, bridge string) (plannedNIC, error) {
	nic := vm.Spec.NICs[i]
	field := fmt.Sprintf("spec.nics[%d]", i)
	k := key(&vm.Meta)
	pn := plannedNIC{NetworkID: nic.NetworkID, Bridge: bridge, MAC: MAC(k, i), Tap: link.TapName(k, i)}
	if nic.MACAddress != "" {
		// The server validated it; checked again since QEMU would refuse
		// the whole machine.
		hw, err := net.ParseMAC(nic.MACAddress)
		if err != nil || len(hw) != 6 || hw[0]&1 != 0 {
			return pn, invalid("%s.macAddress %q is not a unicast MAC address", field, nic.MACAddress)
		}
		pn.MAC = hw
	}
	cidr, ok := api.ParseIPv4Network(n.Spec.IPv4CIDR)
	if !ok {
		return pn, invalid("network %s has no valid ipv4CIDR %q", n.Meta.ID, n.Spec.IPv4CIDR)
	}
	if nic.IPv4Address != "" {
		a, ok := api.ParseIPv4(nic.IPv4Address)
		if !ok || !cidr.Contains(a) {
			return pn, invalid("%s.ipv4Address %s is not in network %s's %s", field, nic.IPv4Address, n.Meta.ID, cidr)
		}
		pn.Address, pn.Prefix = a, cidr.Bits()
	}
	gw := nic.DefaultGateway
	if gw == "" {
		if p, ok := api.ParseIPv4Prefix(n.Meta.Annotations[api.AnnotationDefaultGateway]); ok {
			gw = p.Addr().String()
		}
	}
	if gw != "" {
		g, ok := api.ParseIPv4(gw)
		if !ok || !cidr.Contains(g) {
			return pn, invalid("%s: gateway %s is not in network %s's %s", field, gw, n.Meta.ID, cidr)
		}
		pn.Gateway = g
	}
	for j, s := range nic.Nameservers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return pn, invalid("%s.nameservers[%d] %q is not an IP address", field, j, s)
		}
		pn.DNS = append(pn.DNS, a)
	}
	return pn, nil
}

// MAC is the stable MAC of NIC i of the VM with key k: locally
// administered, unicast, from a hash of the key, so it survives restarts
// of the VM and of the agent and needs no state.
func MAC(k string, i int) net.HardwareAddr {
	h := sha256.Sum256(fmt.Appendf(nil, "%s#%d", k, i))
	return net.HardwareAddr{0x52, 0x54, h[0], h[1], h[2], h[3]}
}

// restartRequired lists what differs between the running VM (as launched)
// and the plan, among what only a restart applies.
func restartRequired(launched record, p plan) []string {
	var out []string
	if launched.VCPUs != p.VCPUs {
		out = append(out, fmt.Sprintf("vCPUs %d -> %d", launched.VCPUs, p.VCPUs))
	}
	if launched.MemoryMiB != p.MemoryMiB {
		out = append(out, fmt.Sprintf("memory %dMiB -> %dMiB", launched.MemoryMiB, p.MemoryMiB))
	}
	if launched.UUID != p.UUID {
		out = append(out, fmt.Sprintf("uuid %s -> %s", orDefault(launched.UUID), orDefault(p.UUID)))
	}
	var disks []string
	for _, d := range p.Disks {
		disks = append(disks, d.ID)
	}
	if !slices.Equal(launched.diskIDs(), disks) {
		out = append(out, fmt.Sprintf("disks [%s] -> [%s]", strings.Join(launched.diskIDs(), " "), strings.Join(disks, " ")))
	}
	var nics, was []string
	for _, n := range p.NICs {
		nics = append(nics, n.NetworkID+"="+n.Address.String())
	}
	for _, n := range launched.NICs {
		was = append(was, n.NetworkID+"="+n.Address)
	}
	if !slices.Equal(was, nics) {
		out = append(out, fmt.Sprintf("nics [%s] -> [%s]", strings.Join(was, " "), strings.Join(nics, " ")))
	}
	for i := range min(len(launched.NICs), len(p.NICs)) {
		if was, now := launched.NICs[i].MAC, p.NICs[i].MAC.String(); was != now {
			out = append(out, fmt.Sprintf("nics[%d] mac %s -> %s", i, was, now))
		}
	}
	return out
}

func orDefault(uuid string) string {
	if uuid == "" {
		return "(default)"
	}
	return uuid
}

func orNone(s string) string {
	if s == "" {
		return "not realized yet"
	}
	return s
}
