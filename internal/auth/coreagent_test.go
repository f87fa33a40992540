package auth

import (
	"testing"

	"github.com/humstack/humstack/api"
)

// TestCoreAgentRole: a node bound to core-agent by a clusterrolebinding may
// do what the Core controllers do (lease, liveness, cascade, external IP
// bookkeeping) everywhere; another node, with the implicit node role only,
// may not; and core-agent reaches no token, role or cluster binding.
func TestCoreAgentRole(t *testing.T) {
	core := &Identity{Name: "node:node-a", Kind: KindNode, Node: "node-a", Via: "x509"}
	other := &Identity{Name: "node:node-b", Kind: KindNode, Node: "node-b", Via: "x509"}
	p := NewPolicy(nil, []Binding{{Role: RoleCoreAgent, Subjects: []api.Subject{{Kind: api.SubjectNode, Name: "node-a"}}}})
	onB := vmAt(VerbStatus, "g", "ns", "vm")
	onB.Object = placedVM("node-b")
	place := vmAt(VerbUpdate, "g", "ns", "vm")
	place.Object = placedVM("")
	moveB := vmAt(VerbUpdate, "g", "ns", "vm")
	moveB.Object = placedVM("node-b")
	pending := Attributes{Verb: VerbStatus, Kind: "blockstorage", Group: "g", Namespace: "ns", ID: "d"}
	for _, c := range []struct {
		name       string
		a          Attributes
		core, node string // the answers to core and to other
	}{
		{"create the leader lease", Attributes{Verb: VerbCreate, Kind: "lease"}, "ok", "403"},
		{"renew the leader lease", Attributes{Verb: VerbUpdate, Kind: "lease", ID: "core"}, "ok", "403"},
		{"mark another node NotReady", Attributes{Verb: VerbStatus, Kind: "node", ID: "node-c"}, "ok", "403"},
		{"mark a lost node's VM Unknown", onB, "ok", "ok"}, // node-b's own VM: its node role
		{"cascade: delete a VM", vmAt(VerbDelete, "g", "ns", "vm"), "ok", "403"},
		{"cascade: delete a namespace", Attributes{Verb: VerbDelete, Kind: "namespace", Group: "g", ID: "ns"}, "ok", "403"},
		{"cascade: delete a rolebinding", Attributes{Verb: VerbDelete, Kind: "rolebinding", Group: "g", ID: "rb"}, "ok", "403"},
		{"cascade: delete a console link", Attributes{Verb: VerbDelete, Kind: "consolelink", Group: "g", Namespace: "ns", ID: "l"}, "ok", "403"},
		{"cascade: its finalizer off a namespace", Attributes{Verb: VerbUpdate, Kind: "namespace", Group: "g", ID: "ns"}, "ok", "403"},
		{"cascade: its finalizer off a group", Attributes{Verb: VerbUpdate, Kind: "group", ID: "g"}, "ok", "403"},
		{"cascade: group status", Attributes{Verb: VerbStatus, Kind: "group", ID: "g"}, "ok", "403"},
		{"external IP bookkeeping", Attributes{Verb: VerbStatus, Kind: "externalippool", ID: "pool"}, "ok", "403"},
		// A plain node cannot see what is not placed on it: 404, as if missing.
		{"read any VM", vmAt(VerbGet, "g", "ns", "vm"), "ok", "404"},
		{"no group deletes", Attributes{Verb: VerbDelete, Kind: "group", ID: "g"}, "403", "403"},
		{"no node deletes", Attributes{Verb: VerbDelete, Kind: "node", ID: "node-c"}, "403", "403"},
		{"schedule: place an unplaced VM", place, "ok", "404"},
		// A migration stops a placed VM and moves it (annotations, an update).
		{"migration: move a placed VM", moveB, "ok", "ok"}, // node-b's own VM: its node role
		{"migration: its status", Attributes{Verb: VerbStatus, Kind: "migration", Group: "g", Namespace: "ns", ID: "m"}, "ok", "404"},
		{"schedule: a disk Pending", pending, "ok", "404"},
		{"no consoles", vmAt(VerbConsole, "g", "ns", "vm"), "403", "403"},
		{"no tokens", Attributes{Verb: VerbList, Kind: "token"}, "403", "403"},
		{"no roles", Attributes{Verb: VerbCreate, Kind: "role"}, "403", "403"},
		{"no cluster bindings", Attributes{Verb: VerbGet, Kind: "clusterrolebinding", ID: "x"}, "403", "403"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := result(Authorize(core, c.a, p)); got != c.core {
				t.Errorf("core-agent node: got %s, want %s", got, c.core)
			}
			if got := result(Authorize(other, c.a, p)); got != c.node {
				t.Errorf("plain node: got %s, want %s", got, c.node)
			}
		})
	}
}
