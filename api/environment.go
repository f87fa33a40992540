package api

import (
	"encoding/json"
	"strconv"
)

// Annotations the environment controller puts on what it stamps out.
const (
	// AnnotationEnvironment on a copy's namespace (and every object the
	// controller made in it) names the environment ("group/id" is implied
	// by the group: the value is the environment's id).
	AnnotationEnvironment = "environmentv0/environment"
	// AnnotationEnvironmentCopy on a copy's namespace names the copy.
	AnnotationEnvironmentCopy = "environmentv0/copy"
	// AnnotationTemplateResource on an object of a copy is the template
	// resource it was rendered from ("kind/id"): a golden snapshot is
	// matched to a copy's VM by it.
	AnnotationTemplateResource = "environmentv0/template_resource"
)

// Template is a bundle of the seed's resources with parameters, stamped
// out by environments (docs/environments.md).
type Template = Resource[TemplateSpec, Empty]

// TemplateSpec is the bundle.
type TemplateSpec struct {
	// Parameters are the values the resources refer to as ${name}. Besides
	// them, every resource may use the built-ins ${copy} (the copy's name),
	// ${index} (its 0-based number), ${namespace} (its namespace),
	// ${group} and ${environment}. A reference to anything else is an
	// error at creation; "$$" is a literal "$".
	Parameters []TemplateParameter `json:"parameters,omitempty"`
	// Resources are whole objects (meta.apiType, meta.id, spec) of the
	// namespace-scoped kinds network, virtualrouter, externalip,
	// blockstorage and virtualmachine; meta.group and meta.namespace are
	// the copy's and must be left out. Parameters may appear in any
	// string value.
	Resources []json.RawMessage `json:"resources"`
}

// TemplateParameter is one parameter: a fixed value (the environment's
// spec.parameters, else Default) or a value allocated per copy (Range,
// ExternalIPPool).
type TemplateParameter struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Default     string `json:"default,omitempty"`
	// Range "1000-1999" gives each copy a distinct integer from the range,
	// distinct also from every other environment's values of a range
	// parameter and from the ids of networks already in the cluster of
	// the same type: VXLAN VNIs and VLAN ids.
	Range string `json:"range,omitempty"`
	// ExternalIPPool gives each copy a free address of this pool (an
	// external IP the copy's template binds must use it).
	ExternalIPPool string `json:"externalIPPool,omitempty"`
}

// Environment states (status.state, and each copy's state).
const (
	EnvCreating  = "Creating"  // objects are being made, VMs are starting
	EnvReady     = "Ready"     // every VM is running
	EnvCapturing = "Capturing" // the golden state is being taken (the golden copy)
	EnvResetting = "Resetting" // a reset of the copy runs
	EnvDegraded  = "Degraded"  // some VM is not running; status.message says which
	EnvError     = "Error"
	EnvDeleting  = "Deleting"
)

// Environment instantiates a template N times, one namespace per copy.
type Environment = Resource[EnvironmentSpec, EnvironmentStatus]

// EnvironmentSpec says which template, how many copies and with what.
type EnvironmentSpec struct {
	TemplateID string `json:"templateID"`
	// Count makes copies named "0".."count-1"; Copies names them instead
	// (team ids). Exactly one of the two. A copy's namespace is
	// "<environment>-<copy>".
	Count  int      `json:"count,omitempty"`
	Copies []string `json:"copies,omitempty"`
	// Parameters set the template's fixed parameters.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Golden is the copy captured as the golden state, and how.
	Golden EnvironmentGolden `json:"golden,omitzero"`
	// ResetEvery "30m" resets every copy on that period (classes); empty:
	// never. ResetPriority is the priority of those resets.
	ResetEvery    string `json:"resetEvery,omitempty"`
	ResetPriority int    `json:"resetPriority,omitempty"`
}

// EnvironmentGolden asks for a golden state.
type EnvironmentGolden struct {
	// Copy is the copy captured; empty: the first.
	Copy string `json:"copy,omitempty"`
	// Memory also saves each VM's memory (warm golden state, warm
	// resets); false: disks only (cold resets boot).
	Memory bool `json:"memory,omitempty"`
	// Capture is a request token: when it differs from
	// status.golden.capture, the controller captures (again). `humcli env
	// capture` sets it to the current time. Empty: no golden state.
	Capture string `json:"capture,omitempty"`
}

// EnvironmentStatus is the state of the whole and of each copy.
type EnvironmentStatus struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// VMsReady/VMsTotal count over every copy.
	VMsReady int               `json:"vmsReady"`
	VMsTotal int               `json:"vmsTotal"`
	Copies   []EnvironmentCopy `json:"copies,omitempty"`
	Golden   GoldenStatus      `json:"golden,omitzero"`
	// NextResetAt is when the scheduled resets (spec.resetEvery) run next.
	NextResetAt string `json:"nextResetAt,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// EnvironmentCopy is one copy.
type EnvironmentCopy struct {
	Name      string `json:"name"`
	Index     int    `json:"index"`
	Namespace string `json:"namespace"`
	// Values are the copy's parameter values, allocated ones included;
	// once set they never change while the copy exists.
	Values   map[string]string `json:"values,omitempty"`
	State    string            `json:"state,omitempty"`
	Message  string            `json:"message,omitempty"`
	VMsReady int               `json:"vmsReady"`
	VMsTotal int               `json:"vmsTotal"`
	// LastReset is the last finished reset ("id"), when it finished and
	// how long it took.
	LastReset           string  `json:"lastReset,omitempty"`
	LastResetAt         string  `json:"lastResetAt,omitempty"`
	LastResetTookSecond float64 `json:"lastResetTookSeconds,omitempty"`
}

// GoldenStatus is the captured golden state.
type GoldenStatus struct {
	State   string `json:"state,omitempty"` // Capturing, Ready, Error
	Message string `json:"message,omitempty"`
	// Capture is the spec.golden.capture token this state answers.
	Capture string `json:"capture,omitempty"`
	Copy    string `json:"copy,omitempty"`
	Memory  bool   `json:"memory,omitempty"`
	// Snapshots map a template VM id to its snapshot ("namespace/id") in
	// the golden copy's namespace.
	Snapshots  map[string]string `json:"snapshots,omitempty"`
	CapturedAt string            `json:"capturedAt,omitempty"`
	// FailedCapture is the token whose capture failed, and CaptureError
	// why: set when a capture fails, whether the state before stays
	// (State Ready) or there is none (State Error); a new token clears
	// them. A program waiting for its token checks FailedCapture, since
	// State alone says Ready after a failed re-capture.
	FailedCapture string `json:"failedCapture,omitempty"`
	CaptureError  string `json:"captureError,omitempty"`
}

// Reset phases (status.phase).
const (
	ResetQueued    = "Queued"
	ResetRunning   = "Running"
	ResetSucceeded = "Succeeded"
	ResetFailed    = "Failed"
)

// Reset is a job returning one copy of an environment to its golden state
// (`humcli env reset ENV COPY`). It lives in the copy's namespace, so a
// team's operator binding there can ask for it and for nothing else.
type Reset = Resource[ResetSpec, ResetStatus]

// ResetSpec is the job's request.
type ResetSpec struct {
	// Priority orders the queue: higher first, then oldest first. Only a
	// group or cluster grant may set it above 0.
	Priority int `json:"priority,omitempty"`
	// At (RFC 3339) keeps the job queued until then.
	At string `json:"at,omitempty"`
	// Cold boots the VMs even when the golden state holds memory.
	Cold bool `json:"cold,omitempty"`
}

// ResetStatus is the job's progress.
type ResetStatus struct {
	Phase   string `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
	// Environment and Copy are the copy reset (from the namespace's
	// annotations).
	Environment string `json:"environment,omitempty"`
	Copy        string `json:"copy,omitempty"`
	// Position is the job's place in the queue while Queued (1: next).
	Position int `json:"position,omitempty"`
	// Nodes are the nodes the copy's VMs run on: the job takes one of
	// each node's reset slots while it runs.
	Nodes []string `json:"nodes,omitempty"`
	// VMs are the per-VM steps.
	VMs []ResetVM `json:"vms,omitempty"`
	// QueuedAt, StartedAt and FinishedAt are RFC 3339 with milliseconds.
	QueuedAt    string  `json:"queuedAt,omitempty"`
	StartedAt   string  `json:"startedAt,omitempty"`
	FinishedAt  string  `json:"finishedAt,omitempty"`
	TookSeconds float64 `json:"tookSeconds,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// ResetVM is one VM's part of a reset: its restore's step, copied from
// the VM's status.restore.
type ResetVM struct {
	ID       string `json:"id"`
	Node     string `json:"node,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	Step     string `json:"step,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Finished says whether the job reached a final phase.
func (s ResetStatus) Finished() bool { return s.Phase == ResetSucceeded || s.Phase == ResetFailed }

// Environment kinds.
var (
	TemplateKind = register[TemplateSpec, Empty](Kind{
		APIType: "corev0/template", Name: "template", Plural: "templates", Aliases: []string{"tpl"},
		Scope: ScopeGroup, Rank: 2,
		Columns: []Column{
			{"PARAMETERS", func(o Object) string { return itoa(len(o.(*Template).Spec.Parameters)) }},
			{"RESOURCES", func(o Object) string { return itoa(len(o.(*Template).Spec.Resources)) }},
		},
	})
	EnvironmentKind = register[EnvironmentSpec, EnvironmentStatus](Kind{
		APIType: "corev0/environment", Name: "environment", Plural: "environments", Aliases: []string{"env"},
		Scope: ScopeGroup, Rank: 3,
		// Its copies are namespaces; the cascade of each runs on its own.
		Columns: []Column{
			{"TEMPLATE", func(o Object) string { return o.(*Environment).Spec.TemplateID }},
			{"COPIES", func(o Object) string { return itoa(len(o.(*Environment).Status.Copies)) }},
			{"VMS", func(o Object) string {
				s := o.(*Environment).Status
				return strconv.Itoa(s.VMsReady) + "/" + strconv.Itoa(s.VMsTotal)
			}},
			{"GOLDEN", func(o Object) string { return o.(*Environment).Status.Golden.State }},
			{"STATE", func(o Object) string { return o.(*Environment).Status.State }},
		},
	})
	ResetKind = register[ResetSpec, ResetStatus](Kind{
		APIType: "corev0/reset", Name: "reset", Plural: "resets",
		Scope: ScopeNamespace, Rank: 11,
		Columns: []Column{
			{"COPY", func(o Object) string { return o.(*Reset).Status.Copy }},
			{"PHASE", func(o Object) string { return o.(*Reset).Status.Phase }},
			{"PRIORITY", func(o Object) string { return itoa(o.(*Reset).Spec.Priority) }},
			{"TOOK", func(o Object) string {
				s := o.(*Reset).Status
				if s.TookSeconds == 0 {
					return ""
				}
				return strconv.FormatFloat(s.TookSeconds, 'f', 1, 64) + "s"
			}},
			{"MESSAGE", func(o Object) string { return o.(*Reset).Status.Message }},
		},
	})
)

// MaxEnvironmentCopies bounds an environment's copies.
const MaxEnvironmentCopies = 1000

// CopyNames are the environment's copies in order: spec.copies, or "0"..
// "count-1".
func CopyNames(s EnvironmentSpec) []string {
	if len(s.Copies) > 0 {
		return append([]string(nil), s.Copies...)
	}
	names := make([]string, 0, max(s.Count, 0))
	for i := range max(s.Count, 0) {
		names = append(names, strconv.Itoa(i))
	}
	return names
}

// CopyNamespace is the namespace of copy c of environment env.
func CopyNamespace(env, c string) string { return env + "-" + c }
