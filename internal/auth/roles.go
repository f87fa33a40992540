package auth

import (
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
)

// Verbs: the REST verbs and the subresources that are verbs of their own.
const (
	VerbGet     = "get"
	VerbList    = "list"
	VerbWatch   = "watch"
	VerbCreate  = "create"
	VerbUpdate  = "update"
	VerbDelete  = "delete"
	VerbStatus  = "status"  // PUT .../{id}/status: what agents write
	VerbConsole = "console" // a VM's serial and VNC consoles and serial log
	VerbPower   = "power"   // PUT .../virtualmachines/{id}/power: actionState only
)

// Verbs lists every verb, in the order documentation gives them.
var Verbs = []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbDelete, VerbStatus, VerbConsole, VerbPower}

// Built-in role names.
const (
	RoleClusterAdmin = "cluster-admin"
	RoleGroupAdmin   = "group-admin"
	RoleEditor       = "editor"
	RoleViewer       = "viewer"
	RoleOperator     = "operator"
	RoleNode         = "node"
	RoleCoreAgent    = "core-agent"
	RoleMetrics      = "metrics"
)

// KindMetrics is what GET /metrics asks for (verb get): not an API kind,
// a name in the rule table and in the role metrics.
const KindMetrics = "metrics"

// GroupMasters is the identity group bound to cluster-admin everywhere
// without a binding object, so the bootstrap token cannot be locked out by
// deleting a binding.
const GroupMasters = "system:masters"

// condition limits a rule to some objects: those the node identity asking
// is concerned with. Conditions are only in built-in roles.
type condition int

const (
	always       condition = iota
	selfNode               // the node object whose id is the identity's node
	placedOnSelf           // objects placed on the identity's node
	placedOrFree           // objects placed on it, or on no node yet
	unplaced               // objects placed on no node yet (the scheduler places them)
)

// rule allows verbs on kinds ("*": all), when its condition holds.
type rule struct {
	kinds, verbs []string
	when         condition
}

func (r rule) matches(kind, verb string) bool {
	return (slices.Contains(r.kinds, "*") || slices.Contains(r.kinds, kind)) &&
		(slices.Contains(r.verbs, "*") || slices.Contains(r.verbs, verb))
}

// role is a set of rules; the binding that grants it says where it applies.
type role struct {
	name  string
	rules []rule
}

var (
	readVerbs = []string{VerbGet, VerbList, VerbWatch}
	// tenantKinds are what lives inside a group: what editors and viewers
	// work with. Access objects (bindings) are not among them: only a
	// group-admin manages who may do what in its group.
	tenantKinds = []string{"namespace", "network", "virtualrouter", "blockstorage", "virtualmachine",
		"externalip", "image", "imageentity", "consolelink", "snapshot", "template", "environment", "reset", "securitygroup"}
	editVerbs = []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbDelete, VerbConsole, VerbPower}
	// placedKinds carry the node they run on (api.PlacedOn).
	placedKinds = []string{"virtualmachine", "blockstorage", "virtualrouter"}
	// dependencyKinds are what objects placed on a node depend on and are
	// not placed themselves; networks span nodes, each writing its own
	// entry of the network's status and its own finalizer.
	dependencyKinds = []string{"group", "namespace", "image", "externalip", "externalippool", "network", "imageentity", "snapshot", "securitygroup"}
	// eventWriteVerbs are what a recorder does (internal/controller/record):
	// read an event by id, create it, count a repeat. An event is judged as
	// its involved object too (the API server asks both), so a node writes
	// events only about what it may get.
	eventWriteVerbs = []string{VerbGet, VerbCreate, VerbUpdate}
	// clusterWrittenKinds live inside a group, but only a grant on the
	// whole cluster writes them: a quota limits what its group may hold,
	// so the group's own admin (or any role bound inside the group, even
	// cluster-admin) reads it and cannot raise it.
	clusterWrittenKinds = []string{"quota"}
	// clusterWrittenStatus are kinds whose status only cluster-wide grants
	// (the Core agent, nodes, the cluster admin) write: a migration's
	// status is what the API server's migration guard believes (its phase,
	// source and target let a VM change node), so a group's own admin,
	// who may create migrations, may not write it.
	clusterWrittenStatus = []string{"migration"}
)

// clusterWritten reports whether a writes what only cluster-wide grants write.
func clusterWritten(a Attributes) bool {
	if slices.Contains(clusterWrittenStatus, a.Kind) && a.Verb == VerbStatus {
		return true
	}
	return slices.Contains(clusterWrittenKinds, a.Kind) && !slices.Contains(readVerbs, a.Verb)
}

// builtinRoles exist without objects and cannot be changed. A role says
// what; the binding's scope says where: group-admin bound in a group is
// everything inside it, editor and viewer bound in a group or a namespace
// are limited to it.
var builtinRoles = map[string]*role{
	RoleClusterAdmin: {RoleClusterAdmin, []rule{{kinds: []string{"*"}, verbs: []string{"*"}}}},
	RoleGroupAdmin:   {RoleGroupAdmin, []rule{{kinds: []string{"*"}, verbs: []string{"*"}}}},
	RoleEditor: {RoleEditor, []rule{
		{kinds: tenantKinds, verbs: editVerbs},
		{kinds: []string{"group", "event", "quota"}, verbs: readVerbs},
	}},
	RoleViewer: {RoleViewer, []rule{{kinds: append([]string{"group", "event", "quota"}, tenantKinds...), verbs: readVerbs}}},
	RoleOperator: {RoleOperator, []rule{
		{kinds: []string{"virtualmachine"}, verbs: []string{VerbGet, VerbList, VerbWatch, VerbPower, VerbConsole}},
		// Whoever may open a console may share it, and revoke what it shared.
		{kinds: []string{"consolelink"}, verbs: []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbDelete}},
		// The events of what it may see (each also judged as its object).
		{kinds: []string{"event"}, verbs: readVerbs},
		// A team's operator asks for a reset of its environment copy (the
		// namespace it is bound in); the API server rate-limits it.
		{kinds: []string{"reset"}, verbs: []string{VerbGet, VerbList, VerbWatch, VerbCreate}},
	}},
	RoleNode: {RoleNode, []rule{
		{kinds: []string{"node"}, verbs: readVerbs},
		{kinds: []string{"node"}, verbs: []string{VerbCreate, VerbUpdate, VerbStatus}, when: selfNode},
		{kinds: placedKinds, verbs: []string{VerbGet, VerbList, VerbWatch, VerbUpdate, VerbStatus}, when: placedOnSelf},
		{kinds: dependencyKinds, verbs: readVerbs},
		// Any network (one is realized wherever its VMs land); the API
		// server narrows what a node may change in it to its own part
		// (internal/apiserver/nodenetwork.go).
		{kinds: []string{"network"}, verbs: []string{VerbUpdate, VerbStatus}},
		// The node holding an entity's source disk takes the entity with
		// its finalizer (an update), then writes its status.
		{kinds: []string{"imageentity"}, verbs: []string{VerbUpdate, VerbStatus}, when: placedOrFree},
		// Likewise the node holding a snapshot's source disk or VM.
		{kinds: []string{"snapshot"}, verbs: []string{VerbUpdate, VerbStatus}, when: placedOrFree},
		{kinds: []string{"event"}, verbs: eventWriteVerbs},
		// A migration's source and target nodes read it and write their
		// part of its status: the target its disks' copy progress, the
		// source that it removed what the VM left there.
		{kinds: []string{"migration"}, verbs: []string{VerbGet, VerbList, VerbWatch, VerbStatus}, when: placedOnSelf},
	}},
	RoleCoreAgent: {RoleCoreAgent, coreAgentRules()},
	// A Prometheus scrape token: read the metrics, nothing else. Bound by
	// a clusterrolebinding (metrics are cluster-wide).
	RoleMetrics: {RoleMetrics, []rule{{kinds: []string{KindMetrics}, verbs: []string{VerbGet}}}},
}

// coreAgentRules are what the cluster-wide controllers of a Core agent
// (agentMode Core or All) do through the API: the leader lease; node
// liveness (other nodes' status, and Unknown on the VMs of a lost node);
// cascading deletion of every kind inside a group or namespace, which
// reads and deletes them all, writes its parents' status and at last
// removes its finalizer from them (an update); external IP
// bookkeeping (pools, and the router holding each external IP and NAT
// gateway address); security groups' members. No node role has them implicitly: a node is a Core agent
// only when a clusterrolebinding of core-agent names it, since a node's
// agentMode is what the node itself says. Tokens, roles and cluster
// bindings stay out of reach.
func coreAgentRules() []rule {
	var inside []string // the kinds a cascade deletes
	for _, k := range api.Kinds() {
		if k.Scope != api.ScopeCluster {
			inside = append(inside, k.Name)
		}
	}
	return []rule{
		{kinds: append([]string{"group", "node", "lease", "externalippool"}, inside...), verbs: readVerbs},
		{kinds: inside, verbs: []string{VerbDelete}},
		{kinds: []string{"lease"}, verbs: []string{VerbCreate, VerbUpdate}},
		{kinds: []string{"event"}, verbs: eventWriteVerbs},
		// The cascade ends by removing its finalizer from the group or
		// namespace it emptied.
		{kinds: []string{"group", "namespace"}, verbs: []string{VerbUpdate}},
		{kinds: []string{"group", "namespace", "node", "virtualmachine", "externalip", "externalippool", "migration"}, verbs: []string{VerbStatus}},
		// A security group's members (its NICs' addresses, from the VMs of
		// every node): nodes take rules' remote peers from there.
		{kinds: []string{"securitygroup"}, verbs: []string{VerbStatus}},
		// The scheduler writes the node annotation of what is not placed
		// yet, and says Pending on what it cannot place or what waits for
		// a node that is not registered.
		{kinds: []string{"virtualmachine", "blockstorage", "virtualrouter"}, verbs: []string{VerbUpdate}, when: unplaced},
		{kinds: []string{"blockstorage", "virtualrouter"}, verbs: []string{VerbStatus}},
		// A migration stops a VM (an annotation) and moves it and its
		// disks to the target node (their node annotations).
		{kinds: []string{"virtualmachine", "blockstorage"}, verbs: []string{VerbUpdate}},
		// Environments: the controller stamps out each copy (its
		// namespace and the template's objects), captures the golden
		// state (snapshots), asks for restores (a VM annotation), runs
		// the reset queue and reports.
		{kinds: envStampedKinds, verbs: []string{VerbCreate, VerbUpdate}},
		{kinds: []string{"environment", "reset", "snapshot"}, verbs: []string{VerbStatus}},
	}
}

// envStampedKinds are what the environment controller creates.
var envStampedKinds = []string{"namespace", "network", "virtualrouter", "externalip", "blockstorage",
	"virtualmachine", "snapshot", "reset", "environment"}

// BuiltinRoles returns the names of the built-in roles.
func BuiltinRoles() []string {
	return []string{RoleClusterAdmin, RoleGroupAdmin, RoleEditor, RoleViewer, RoleOperator, RoleNode, RoleCoreAgent, RoleMetrics}
}

// IsBuiltinRole reports whether name is taken by a built-in role.
func IsBuiltinRole(name string) bool { _, ok := builtinRoles[name]; return ok }

// customRole turns a role object into rules (no conditions).
func customRole(r *api.Role) *role {
	out := &role{name: r.Meta.ID}
	for _, pr := range r.Spec.Rules {
		out.rules = append(out.rules, rule{kinds: pr.Kinds, verbs: pr.Verbs})
	}
	return out
}

// PlacedOn returns the nodes an object is placed or realized on: the
// placement annotation (VMs, disks, routers), an image entity's node, a
// migration's source and target, and
// the node finalizers System agents put on what they realized.
func PlacedOn(obj api.Object) []string {
	var nodes []string
	m := obj.GetMeta()
	for _, key := range []string{api.AnnotationVirtualMachineNode, api.AnnotationBlockStorageNode, api.AnnotationRouterNode} {
		if n := m.Annotations[key]; n != "" {
			nodes = append(nodes, n)
		}
	}
	if e, ok := obj.(*api.ImageEntity); ok && e.Status.Node != "" {
		nodes = append(nodes, e.Status.Node)
	}
	if s, ok := obj.(*api.Snapshot); ok && s.Status.Node != "" {
		nodes = append(nodes, s.Status.Node)
	}
	if mig, ok := obj.(*api.Migration); ok {
		for _, n := range []string{mig.Status.SourceNode, mig.Status.TargetNode} {
			if n != "" {
				nodes = append(nodes, n)
			}
		}
	}
	for _, f := range m.Finalizers {
		if n, ok := strings.CutPrefix(f, api.FinalizerNodePrefix); ok && n != "" {
			nodes = append(nodes, n)
		}
	}
	return nodes
}
