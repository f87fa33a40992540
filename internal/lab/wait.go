package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// objState is the part of any object's status WaitState looks at.
type objState struct {
	Status struct {
		State   string                     `json:"state"`
		Message string                     `json:"message"`
		Nodes   map[string]api.StateStatus `json:"nodes"` // networks: per node
	} `json:"status"`
}

// stateOf reads status.state, status.message and status.nodes of obj.
func stateOf(obj api.Object) objState {
	var s objState
	if b, err := json.Marshal(obj); err == nil {
		_ = json.Unmarshal(b, &s)
	}
	return s
}

// reached reports whether the object is in state want: status.state, or
// for kinds with per-node status (networks), every listed node's state.
// want may name alternatives, "Active|Used".
func (s objState) reached(want string) bool {
	alts := strings.Split(want, "|")
	if len(s.Status.Nodes) == 0 {
		return slices.Contains(alts, s.Status.State)
	}
	for _, ns := range s.Status.Nodes {
		if !slices.Contains(alts, ns.State) {
			return false
		}
	}
	return true
}

// WaitState polls the object kind (any name humcli accepts) sc/id until
// its state is want (or one of "A|B"). On timeout the error shows the object's status and
// the last log lines of the agents responsible for it.
func (l *Lab) WaitState(ctx context.Context, kind string, sc client.Scope, id, want string, timeout time.Duration) error {
	k, err := api.LookupKind(kind)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last api.Object
	var lastErr error
	for {
		obj, err := l.client.Get(ctx, k, sc, id)
		if err == nil && stateOf(obj).reached(want) {
			return nil
		}
		if err == nil {
			last = obj
		}
		if ctx.Err() == nil { // a Get cut short by the deadline says nothing
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return l.waitFailure(k, sc, id, want, timeout, last, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitFailure explains why WaitState gave up.
func (l *Lab) waitFailure(k *api.Kind, sc client.Scope, id, want string, timeout time.Duration, last api.Object, lastErr error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: not %q after %v", k.Name, scopedID(sc, id), want, timeout)
	if last == nil {
		fmt.Fprintf(&b, "; never read it (last error: %v)", lastErr)
	} else {
		st, _ := json.Marshal(stateOf(last).Status)
		fmt.Fprintf(&b, "\nstatus: %s", st)
		if lastErr != nil {
			fmt.Fprintf(&b, "\nlast error: %v", lastErr)
		}
	}
	for _, n := range l.responsible(last) {
		fmt.Fprintf(&b, "\n--- %s: last lines of %s ---\n%s", n, l.LogPath(n), l.LogTail(n, 20))
	}
	return errors.New(b.String())
}

// responsible names the agents whose logs explain an object: the node its
// *_node_name annotation places it on, the node itself (nodes), the nodes
// of a per-node status, or else the Core agents.
func (l *Lab) responsible(obj api.Object) []string {
	set := map[string]bool{}
	if obj != nil {
		m := obj.GetMeta()
		for key, v := range m.Annotations {
			if strings.HasSuffix(key, "/node_name") {
				set[v] = true
			}
		}
		if m.APIType == api.NodeKind.APIType {
			set[m.ID] = true
		}
		for n := range stateOf(obj).Status.Nodes {
			set[n] = true
		}
	}
	if len(set) == 0 {
		for _, n := range l.st.Nodes {
			if n.Mode != ModeSystem {
				set[n.Name] = true
			}
		}
	}
	var names []string
	for n := range set {
		if _, ok := l.node(n); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// scopedID writes an object's path as group/namespace/id.
func scopedID(sc client.Scope, id string) string {
	parts := []string{}
	for _, p := range []string{sc.Group, sc.Namespace, id} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}
