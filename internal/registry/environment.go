package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/envtemplate"
)

// A snapshot's source is fixed; only its status moves.
var snapshotStrategy = &typed[api.SnapshotSpec, api.SnapshotStatus]{
	validate: validateSnapshot,
	immutable: []immutable[api.SnapshotSpec, api.SnapshotStatus]{
		{"spec", func(s *api.Snapshot) any { return s.Spec }},
	},
}

var snapshotStates = []string{"", api.SnapshotPending, api.SnapshotCreating, api.SnapshotReady, api.SnapshotError}

func validateSnapshot(s *api.Snapshot, fe *api.FieldErrors) {
	switch {
	case s.Spec.BlockStorageID == "" && s.Spec.VirtualMachineID == "":
		fe.Add("spec", "one of blockStorageID and virtualMachineID is required")
	case s.Spec.BlockStorageID != "" && s.Spec.VirtualMachineID != "":
		fe.Add("spec.virtualMachineID", "give blockStorageID or virtualMachineID, not both")
	case s.Spec.BlockStorageID != "":
		checkID(fe, "spec.blockStorageID", s.Spec.BlockStorageID)
		if s.Spec.Memory {
			fe.Add("spec.memory", "only a VM snapshot holds memory")
		}
	default:
		checkID(fe, "spec.virtualMachineID", s.Spec.VirtualMachineID)
	}
	if n := s.Status.Node; n != "" {
		checkID(fe, "status.node", n)
	}
	checkOneOf(fe, "status.state", s.Status.State, snapshotStates...)
	checkTime(fe, "status.createdAt", s.Status.CreatedAt)
	checkSnapshotFiles(fe, &s.Status)
}

// checkSnapshotFiles allows only the names the agent writes (disk<i>.qcow2
// at position i, memory.state): nodes join them to their directories, so
// anything else (a path, "..") would name a file outside the snapshot's.
func checkSnapshotFiles(fe *api.FieldErrors, st *api.SnapshotStatus) {
	for i, d := range st.Disks {
		if want := fmt.Sprintf(api.SnapshotDiskFileFmt, i); d.File != want {
			fe.Add(fmt.Sprintf("status.disks[%d].file", i), "%q is not %q, the name of disk file %d", d.File, want, i)
		}
	}
	if m := st.Memory; m != nil && m.File != api.SnapshotMemoryFile {
		fe.Add("status.memory.file", "%q is not %q", m.File, api.SnapshotMemoryFile)
	}
}

// A reset's request is fixed; only its status moves.
var resetStrategy = &typed[api.ResetSpec, api.ResetStatus]{
	validate: validateReset,
	immutable: []immutable[api.ResetSpec, api.ResetStatus]{
		{"spec", func(r *api.Reset) any { return r.Spec }},
	},
}

var resetPhases = []string{"", api.ResetQueued, api.ResetRunning, api.ResetSucceeded, api.ResetFailed}

func validateReset(r *api.Reset, fe *api.FieldErrors) {
	if r.Spec.Priority < 0 || r.Spec.Priority > 1000 {
		fe.Add("spec.priority", "%d is not between 0 and 1000", r.Spec.Priority)
	}
	checkTime(fe, "spec.at", r.Spec.At)
	checkOneOf(fe, "status.phase", r.Status.Phase, resetPhases...)
	for _, t := range []struct{ field, v string }{
		{"status.queuedAt", r.Status.QueuedAt}, {"status.startedAt", r.Status.StartedAt}, {"status.finishedAt", r.Status.FinishedAt},
	} {
		checkTime(fe, t.field, t.v)
	}
}

var environmentStrategy = &typed[api.EnvironmentSpec, api.EnvironmentStatus]{
	validate: validateEnvironment,
	immutable: []immutable[api.EnvironmentSpec, api.EnvironmentStatus]{
		{"spec.templateID", func(e *api.Environment) any { return e.Spec.TemplateID }},
	},
	update: validateEnvironmentUpdate,
}

// validateEnvironmentUpdate keeps the golden copy while a golden state
// exists or is being taken, and the copy whose namespace holds the
// current golden snapshots (during a re-capture of another copy they
// still serve): the snapshots live in its namespace, and every other
// copy's disks are overlays of them.
func validateEnvironmentUpdate(o, n *api.Environment, fe *api.FieldErrors) {
	g := o.Status.Golden
	var keep []string
	if g.Copy != "" && (len(g.Snapshots) > 0 || g.State == api.EnvCapturing) {
		keep = append(keep, g.Copy)
	}
	for _, ref := range sortedValues(g.Snapshots) {
		ns, _, _ := strings.Cut(ref, "/")
		if c, ok := strings.CutPrefix(ns, o.Meta.ID+"-"); ok && !slices.Contains(keep, c) {
			keep = append(keep, c)
		}
	}
	field := "spec.count"
	if len(n.Spec.Copies) > 0 {
		field = "spec.copies"
	}
	names := api.CopyNames(n.Spec)
	for _, c := range keep {
		if !slices.Contains(names, c) {
			fe.Add(field, "copy %s holds the golden state: it cannot be removed (delete the environment instead)", quote(c))
		}
	}
}

// sortedValues are m's values in the order of its keys.
func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

var envStates = []string{"", api.EnvCreating, api.EnvReady, api.EnvCapturing, api.EnvResetting, api.EnvDegraded, api.EnvError, api.EnvDeleting}

func validateEnvironment(e *api.Environment, fe *api.FieldErrors) {
	requireID(fe, "spec.templateID", e.Spec.TemplateID)
	switch {
	case e.Spec.Count != 0 && len(e.Spec.Copies) != 0:
		fe.Add("spec.copies", "give count or copies, not both")
	case e.Spec.Count < 0 || e.Spec.Count > api.MaxEnvironmentCopies:
		fe.Add("spec.count", "%d is not between 0 and %d", e.Spec.Count, api.MaxEnvironmentCopies)
	case len(e.Spec.Copies) > api.MaxEnvironmentCopies:
		fe.Add("spec.copies", "%d copies: at most %d", len(e.Spec.Copies), api.MaxEnvironmentCopies)
	}
	if n := e.Spec.Count; n > 0 && n <= api.MaxEnvironmentCopies && e.Meta.ID != "" {
		checkID(fe, "spec.count", api.CopyNamespace(e.Meta.ID, strconv.Itoa(n-1))) // the longest namespace
	}
	seen := noDuplicate{}
	for i, c := range e.Spec.Copies {
		f := indexField("spec.copies", i)
		seen.check(fe, f, c)
		if checkID(fe, f, c) && e.Meta.ID != "" {
			checkID(fe, f, api.CopyNamespace(e.Meta.ID, c))
		}
	}
	if e.Spec.ResetEvery != "" {
		if d, err := time.ParseDuration(e.Spec.ResetEvery); err != nil || d < time.Minute {
			fe.Add("spec.resetEvery", "%s is not a duration of at least 1m", quote(e.Spec.ResetEvery))
		}
	}
	if e.Spec.ResetPriority < 0 || e.Spec.ResetPriority > 1000 {
		fe.Add("spec.resetPriority", "%d is not between 0 and 1000", e.Spec.ResetPriority)
	}
	if g := e.Spec.Golden.Copy; g != "" && !slices.Contains(api.CopyNames(e.Spec), g) {
		fe.Add("spec.golden.copy", "%s is not one of the environment's copies", quote(g))
	}
	for _, name := range sortedKeys(e.Spec.Parameters) {
		if !envtemplate.ValidName(name) {
			fe.Add("spec.parameters."+name, "%s is not a parameter name", quote(name))
		}
	}
	checkOneOf(fe, "status.state", e.Status.State, envStates...)
}
