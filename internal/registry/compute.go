package registry

import (
	"net"
	"regexp"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/scheduler"
)

// uuidRe is the form QEMU's -uuid takes (and SMBIOS shows).
var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkMAC checks an optional fixed MAC: six octets (any spelling
// net.ParseMAC reads, e.g. 52:54:00:12:34:56), unicast (a group address
// cannot be a NIC's source) and not all zeros. It returns nil for "".
func checkMAC(fe *api.FieldErrors, field, v string) (net.HardwareAddr, bool) {
	if v == "" {
		return nil, true
	}
	hw, err := net.ParseMAC(v)
	switch {
	case err != nil || len(hw) != 6:
		fe.Add(field, "%s is not a MAC address: want six hexadecimal octets, e.g. 52:54:00:12:34:56", quote(v))
	case hw[0]&1 != 0:
		fe.Add(field, "%s is a multicast address: a NIC needs a unicast MAC (the first octet's lowest bit clear)", quote(v))
	case string(hw) == string(make([]byte, 6)):
		fe.Add(field, "%s is the all-zero MAC, which no NIC may use", quote(v))
	default:
		return hw, true
	}
	return nil, false
}

// Compute kinds: virtual machines.

var virtualMachineStrategy = &typed[api.VirtualMachineSpec, api.VirtualMachineStatus]{
	defaults: defaultVirtualMachine,
	validate: validateVirtualMachine,
	// A running VM's process, disks and taps are on its node: it moves
	// only with a migration, which the API server checks.
	placedBy:   api.AnnotationVirtualMachineNode,
	migratable: true,
}

// defaultVirtualMachine starts VMs unless told otherwise, as the seed does.
func defaultVirtualMachine(vm *api.VirtualMachine) {
	if vm.Spec.ActionState == "" {
		vm.Spec.ActionState = api.ActionPowerOn
	}
}

func validateVirtualMachine(vm *api.VirtualMachine, fe *api.FieldErrors) {
	s := &vm.Spec
	optionalID(fe, annotationField(api.AnnotationVirtualMachineNode), vm.Meta.Annotations[api.AnnotationVirtualMachineNode])
	validateSchedulingAnnotations(fe, vm.Meta.Annotations)
	validateVMResources(fe, s)
	seen := noDuplicate{}
	for i, id := range s.BlockStorageIDs {
		f := indexField("spec.blockStorageIDs", i)
		// A disk attached twice would be opened twice by QEMU and corrupted.
		if requireID(fe, f, id) {
			seen.check(fe, f, id)
		}
	}
	macs := noDuplicate{}
	for i := range s.NICs {
		f := indexField("spec.nics", i)
		validateVMNIC(fe, f, &s.NICs[i])
		// Two NICs with one MAC would confuse the guest and the bridge.
		if hw, ok := checkMAC(fe, f+".macAddress", s.NICs[i].MACAddress); ok && hw != nil {
			macs.check(fe, f+".macAddress", hw.String())
		}
	}
	if s.UUID != "" && !uuidRe.MatchString(s.UUID) {
		fe.Add("spec.uuid", "%s is not a UUID: want 8-4-4-4-12 hexadecimal digits (e.g. 5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60)", quote(s.UUID))
	}
	checkOneOf(fe, "spec.actionState", s.ActionState, api.ActionPowerOn, api.ActionPowerOff)
	if s.Hostname != "" && !isHostname(s.Hostname) {
		fe.Add("spec.hostname", "%s is not a valid host name (RFC 1123: labels of letters, digits and '-', at most 63 characters each, 253 in all)", quote(s.Hostname))
	}
	validateLoginUsers(fe, s.LoginUsers)
}

// minVMMemory is the least memory QEMU and a guest kernel can start with.
const minVMMemory = 16 << 20

// validateVMResources checks vCPUs and memory, each limit against its request.
func validateVMResources(fe *api.FieldErrors, s *api.VirtualMachineSpec) {
	reqCPU, ok1 := requireCPU(fe, "spec.requestVcpus", s.RequestVcpus)
	limCPU, ok2 := requireCPU(fe, "spec.limitVcpus", s.LimitVcpus)
	if ok1 && ok2 {
		checkLimit(fe, "spec.limitVcpus", reqCPU, limCPU, "spec.requestVcpus")
	}
	if ok2 && limCPU%1000 != 0 {
		// QEMU runs whole vCPUs; rounding would silently give more or less.
		fe.Add("spec.limitVcpus", "%s is not a whole number of vCPUs: use a multiple of 1000m (e.g. 1000m, 2000m)", quote(s.LimitVcpus))
	}
	reqMem, ok1 := positiveSize(fe, "spec.requestMemory", s.RequestMemory)
	limMem, ok2 := positiveSize(fe, "spec.limitMemory", s.LimitMemory)
	if ok1 && ok2 {
		checkLimit(fe, "spec.limitMemory", reqMem, limMem, "spec.requestMemory")
	}
	if ok2 && limMem < minVMMemory {
		fe.Add("spec.limitMemory", "%s is below the least a VM can boot with (16M)", quote(s.LimitMemory))
	}
}

// positiveSize is requireSize for sizes where 0 is meaningless.
func positiveSize(fe *api.FieldErrors, field, v string) (int64, bool) {
	n, ok := requireSize(fe, field, v)
	if ok && n == 0 {
		fe.Add(field, "must be greater than 0")
		return 0, false
	}
	return n, ok
}

// validateVMNIC checks one NIC. Its address is plain: the prefix comes from
// the network's ipv4CIDR, and all addresses go to cloud-init as they are.
func validateVMNIC(fe *api.FieldErrors, field string, nic *api.VMNIC) {
	requireID(fe, field+".networkID", nic.NetworkID)
	if _, ok := api.ParseIPv4Prefix(nic.IPv4Address); ok {
		fe.Add(field+".ipv4Address", "%s must be a plain IPv4 address; the prefix length comes from the network's ipv4CIDR", quote(nic.IPv4Address))
	} else {
		optionalIPv4(fe, field+".ipv4Address", nic.IPv4Address)
	}
	for j, ns := range nic.Nameservers {
		requireIPv4(fe, indexField(field+".nameservers", j), ns)
	}
	optionalIPv4(fe, field+".defaultGateway", nic.DefaultGateway)
	validateNICGroups(fe, field+".securityGroupIDs", nic.SecurityGroupIDs)
}

// maxNICGroups bounds a NIC's security groups: each adds its rules to the
// NIC's chains on the node.
const maxNICGroups = 16

// validateNICGroups checks a NIC's security group ids: well-formed, each
// once. Whether they exist is the agent's concern (a missing group filters
// like a group without rules), since objects may be applied in any order.
func validateNICGroups(fe *api.FieldErrors, field string, ids []string) {
	if len(ids) > maxNICGroups {
		fe.Add(field, "has %d security groups, more than %d", len(ids), maxNICGroups)
		return
	}
	seen := noDuplicate{}
	for j, id := range ids {
		if checkID(fe, indexField(field, j), id) {
			seen.check(fe, indexField(field, j), id)
		}
	}
}

// validateLoginUsers checks the cloud-init users; a name listed twice would
// make cloud-init merge or fail unpredictably.
func validateLoginUsers(fe *api.FieldErrors, users []api.LoginUser) {
	seen := noDuplicate{}
	for i, u := range users {
		f := indexField("spec.loginUsers", i)
		switch {
		case u.Username == "":
			fe.Add(f+".username", "required")
		case !isUsername(u.Username):
			fe.Add(f+".username", "%s is not a valid user name: want a lowercase letter or '_', then up to 31 lowercase letters, digits, '_' or '-'", quote(u.Username))
		default:
			seen.check(fe, f+".username", u.Username)
		}
		for j, k := range u.SSHAuthorizedKeys {
			checkSSHKey(fe, indexField(f+".sshAuthorizedKeys", j), k)
		}
	}
}

// validateSchedulingAnnotations checks what a VM asks of the node the
// scheduler chooses (docs/placement.md), so a typo is a 400 now rather
// than a VM Pending for ever.
func validateSchedulingAnnotations(fe *api.FieldErrors, ann map[string]string) {
	if v, ok := ann[api.AnnotationAccelerator]; ok {
		checkOneOf(fe, annotationField(api.AnnotationAccelerator), v, api.AcceleratorKVM)
	}
	for _, key := range []string{api.AnnotationNodeSelector, api.AnnotationAffinity, api.AnnotationAntiAffinity} {
		if _, err := scheduler.ParseLabels(ann[key]); err != nil {
			fe.Add(annotationField(key), "%q: want key=value pairs separated by commas (rack=a,gpu=yes)", ann[key])
		}
	}
}
