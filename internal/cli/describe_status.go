package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
)

// placement names the annotation that places an object of a kind on a node.
var placement = map[*api.Kind]string{
	api.BlockStorageKind:   api.AnnotationBlockStorageNode,
	api.VirtualRouterKind:  api.AnnotationRouterNode,
	api.VirtualMachineKind: api.AnnotationVirtualMachineNode,
}

// nodeOf is the node an object is placed on (or, for an image entity, made
// on), or "".
func nodeOf(o api.Object) string {
	k, _ := api.KindOf(o)
	if a, ok := placement[k]; ok {
		return o.GetMeta().Annotations[a]
	}
	if e, ok := o.(*api.ImageEntity); ok {
		return e.Status.Node
	}
	return ""
}

// vmSpec is a VM's spec in the terms people size VMs in.
func (d *describer) vmSpec(vm *api.VirtualMachine) {
	s := vm.Spec
	d.section(func(w io.Writer) {
		fmt.Fprintln(w, "Spec:")
		kv(w, 1, "Action", orNoneText(s.ActionState))
		kv(w, 1, "vCPUs", fmt.Sprintf("%s (request %s)", s.LimitVcpus, s.RequestVcpus))
		kv(w, 1, "Memory", fmt.Sprintf("%s (request %s)", s.LimitMemory, s.RequestMemory))
		if s.Hostname != "" {
			kv(w, 1, "Hostname", s.Hostname)
		}
		if s.UUID != "" {
			kv(w, 1, "UUID", s.UUID)
		}
		kv(w, 1, "Disks", orNoneText(strings.Join(s.BlockStorageIDs, ", ")))
		var users []string
		for _, u := range s.LoginUsers {
			keys := "keys"
			if len(u.SSHAuthorizedKeys) == 1 {
				keys = "key"
			}
			users = append(users, fmt.Sprintf("%s (%d SSH %s)", u.Username, len(u.SSHAuthorizedKeys), keys))
		}
		kv(w, 1, "Login users", orNoneText(strings.Join(users, ", ")))
	})
	if len(s.NICs) == 0 {
		d.out.WriteString("  NICs:  <none>\n")
		return
	}
	d.out.WriteString("  NICs:\n")
	d.section(func(w io.Writer) {
		row(w, 2, "NETWORK", "ADDRESS", "MAC", "TAP", "GATEWAY", "NAMESERVERS")
		for i, n := range s.NICs {
			mac, tap := n.MACAddress, ""
			if i < len(vm.Status.NICs) && vm.Status.NICs[i].NetworkID == n.NetworkID {
				mac, tap = vm.Status.NICs[i].MAC, vm.Status.NICs[i].Tap
			}
			row(w, 2, n.NetworkID, n.IPv4Address, mac, tap, n.DefaultGateway, strings.Join(n.Nameservers, ","))
		}
	})
}

// status writes state, message and node, then the rest of the status as
// YAML. A network's status is a table of its nodes.
func (d *describer) status() {
	state, msg := api.StatusOf(d.o)
	rest, _ := fieldOf(d.o, "Status").(map[string]any)
	for _, f := range []string{"state", "message", "conditions", "nics"} {
		delete(rest, f)
	}
	if n, ok := d.o.(*api.Network); ok {
		d.networkStatus(n)
		return
	}
	if state == "" && msg == "" && len(rest) == 0 && nodeOf(d.o) == "" {
		return
	}
	d.out.WriteString("Status:\n")
	d.section(func(w io.Writer) {
		kv(w, 1, "State", orNoneText(state))
		kv(w, 1, "Message", orNoneText(msg))
		if node := nodeOf(d.o); node != "" {
			kv(w, 1, "Node", node)
		}
	})
	delete(rest, "node")
	if len(rest) > 0 {
		b, _ := yaml.Marshal(rest)
		d.out.WriteString(indentLines(string(b), "  "))
	}
}

func (d *describer) networkStatus(n *api.Network) {
	if len(n.Status.Nodes) == 0 {
		d.out.WriteString("Status:  <not realized on any node>\n")
		return
	}
	d.out.WriteString("Status:\n")
	d.section(func(w io.Writer) {
		row(w, 1, "NODE", "STATE", "MESSAGE")
		for _, node := range sortedKeys(n.Status.Nodes) {
			e := n.Status.Nodes[node]
			row(w, 1, node, e.State, e.Message)
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// managed are the kinds agents write conditions on (docs/api.md); the
// others (a group's status has the field too) have no Conditions section.
var managed = []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind, api.ImageEntityKind,
	api.VirtualRouterKind, api.NetworkKind, api.NodeKind}

// conditions writes the conditions table; a condition observed at an
// older generation than the object's is marked with * and explained.
func (d *describer) conditions() {
	gen := d.o.GetMeta().Generation
	type line struct {
		node string
		c    api.Condition
	}
	var ls []line
	if n, ok := d.o.(*api.Network); ok {
		byNode := conditions.OfNetwork(n)
		for _, node := range sortedKeys(byNode) {
			for _, c := range byNode[node] {
				ls = append(ls, line{node, c})
			}
		}
	} else if !slices.Contains(managed, d.k) {
		return // no agent writes conditions on it
	} else {
		for _, c := range conditions.Of(d.o) {
			ls = append(ls, line{"", c})
		}
	}
	if len(ls) == 0 {
		d.out.WriteString("Conditions:  <none: not reconciled yet>\n")
		return
	}
	_, perNode := d.o.(*api.Network)
	stale := false
	d.out.WriteString("Conditions:\n")
	d.section(func(w io.Writer) {
		h := []string{"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"}
		if perNode {
			h = append([]string{"NODE"}, h...)
		}
		row(w, 1, h...)
		for _, l := range ls {
			typ := l.c.Type
			if conditions.Stale(l.c, gen) {
				typ, stale = typ+"*", true
			}
			t := l.c.LastTransitionTime
			cells := []string{typ, string(l.c.Status), l.c.Reason, age(&t, d.now), l.c.Message}
			if perNode {
				cells = append([]string{l.node}, cells...)
			}
			row(w, 1, cells...)
		}
	})
	if stale {
		fmt.Fprintf(&d.out, "  * observed at an older generation than %d: the change is not reconciled yet\n", gen)
	}
}
