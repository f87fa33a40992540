package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/envtemplate"
)

// stampAll makes what is missing of every copy in the spec; it returns
// the copies that could not be made, with why.
func (r *environments) stampAll(ctx context.Context, env *api.Environment, tpl *api.Template, fixed map[string]string, st *api.EnvironmentStatus) map[string]string {
	present := map[string]bool{}
	for _, n := range api.CopyNames(env.Spec) {
		present[n] = true
	}
	failed := map[string]string{}
	for _, c := range st.Copies {
		if !present[c.Name] {
			continue
		}
		if msg := r.stamp(ctx, env, tpl, fixed, c, st.Golden); msg != "" {
			failed[c.Name] = msg
		}
	}
	return failed
}

// stamp makes copy c's namespace and every resource of the template that
// is not there yet; it never changes what exists (a team may have changed
// it, and a reset, not the controller, puts it back).
func (r *environments) stamp(ctx context.Context, env *api.Environment, tpl *api.Template, fixed map[string]string, c api.EnvironmentCopy, golden api.GoldenStatus) string {
	if msg := r.copyNamespace(ctx, env, c); msg != "" {
		return msg
	}
	params := maps.Clone(fixed)
	maps.Copy(params, c.Values) // a copy keeps the values it was made with
	cp := envtemplate.Copy{Group: env.Meta.Group, Environment: env.Meta.ID, Name: c.Name, Index: c.Index}
	vals := cp.Values(params)
	for _, i := range stampOrder(tpl.Spec.Resources) {
		raw := tpl.Spec.Resources[i]
		if k, id, ok := envtemplate.Identify(raw); ok {
			if _, ok := r.informerFor(k).Get(controller.Key{Group: env.Meta.Group, Namespace: c.Namespace, ID: id}); ok {
				continue // exists: nothing to render
			}
		}
		rd, fe := envtemplate.Render(raw, vals, fmt.Sprintf("spec.resources[%d]", i))
		if fe != nil {
			return fmt.Sprintf("template %s: %v", tpl.Meta.ID, fe.Err())
		}
		if _, ok := r.informerFor(rd.Kind).Get(controller.Key{Group: env.Meta.Group, Namespace: c.Namespace, ID: rd.ID}); ok {
			continue
		}
		r.dress(env, c, rd, golden)
		if _, err := r.c.Create(ctx, rd.Object); err != nil && !errors.Is(err, api.ErrAlreadyExists) {
			return fmt.Sprintf("creating %s: %v", rd.Ref(), err)
		}
	}
	return ""
}

// stampOrder is the order resources are made in: by their kind's rank
// (networks before the VMs and routers whose addresses their pools
// assign), in template order within a kind; a VM that fails waits, and
// what follows it is not made until it is.
func stampOrder(resources []json.RawMessage) []int {
	rank := func(raw json.RawMessage) int {
		var head struct {
			Meta struct {
				APIType string `json:"apiType"`
			} `json:"meta"`
		}
		_ = json.Unmarshal(raw, &head)
		for _, k := range envtemplate.Kinds {
			if k.APIType == head.Meta.APIType {
				return k.Rank
			}
		}
		return 1 << 30 // last: Render refuses it
	}
	order := make([]int, len(resources))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rank(resources[a]) - rank(resources[b]) })
	return order
}

func (r *environments) informerFor(k *api.Kind) *controller.Informer {
	switch k {
	case api.NetworkKind:
		return r.networks
	case api.VirtualRouterKind:
		return r.routers
	case api.ExternalIPKind:
		return r.eips
	case api.BlockStorageKind:
		return r.disks
	}
	return r.vms
}

// copyNamespace makes sure c's namespace exists and is c's; else it says
// why the copy waits.
func (r *environments) copyNamespace(ctx context.Context, env *api.Environment, c api.EnvironmentCopy) string {
	sc := client.Scope{Group: env.Meta.Group}
	o, ok := r.namespaces.Get(controller.Key{Group: env.Meta.Group, ID: c.Namespace})
	if !ok {
		ns := &api.Namespace{Meta: api.Meta{APIType: api.NamespaceKind.APIType, ID: c.Namespace, Group: env.Meta.Group,
			Annotations: map[string]string{api.AnnotationEnvironment: env.Meta.ID, api.AnnotationEnvironmentCopy: c.Name}}}
		_, err := r.c.Create(ctx, ns)
		switch {
		case err == nil:
			r.events.Event(env, api.EventNormal, reasonCopyStamped, "copy %s: namespace %s made", c.Name, c.Namespace)
			return ""
		case !errors.Is(err, api.ErrAlreadyExists):
			return fmt.Sprintf("creating namespace %s: %v", c.Namespace, err)
		}
		if o, err = r.c.Get(ctx, api.NamespaceKind, sc, c.Namespace); err != nil {
			return fmt.Sprintf("reading namespace %s: %v", c.Namespace, err)
		}
	}
	m := o.GetMeta()
	switch {
	case m.Annotations[api.AnnotationEnvironment] != env.Meta.ID || m.Annotations[api.AnnotationEnvironmentCopy] != c.Name:
		return namespaceTaken(c.Namespace, m)
	case m.Deleting():
		return fmt.Sprintf("namespace %s of a removed copy is still being deleted", c.Namespace)
	}
	return ""
}

// namespaceTaken says whose namespace ns is: names "<env>-<copy>" of two
// environments of a group can meet (environment a's copy b-c and
// environment a-b's copy c), and the namespace is never adopted.
func namespaceTaken(ns string, m *api.Meta) string {
	if e, c := m.Annotations[api.AnnotationEnvironment], m.Annotations[api.AnnotationEnvironmentCopy]; e != "" && c != "" {
		return fmt.Sprintf("namespace %s is copy %s of environment %s: rename this copy or that environment", ns, c, e)
	}
	return fmt.Sprintf("namespace %s exists and is not this copy's (it belongs to no environment)", ns)
}

// dress puts a rendered resource in copy c: its group and namespace, the
// annotations naming where it comes from, fixed MACs (the same in every
// copy, so a guest restored from the golden memory finds its NICs and
// gateway where it left them), and for a VM of a copy made after the
// golden state, the restore that starts it from it.
func (r *environments) dress(env *api.Environment, c api.EnvironmentCopy, rd envtemplate.Rendered, golden api.GoldenStatus) {
	m := rd.Object.GetMeta()
	m.Group, m.Namespace = env.Meta.Group, c.Namespace
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[api.AnnotationEnvironment] = env.Meta.ID
	m.Annotations[api.AnnotationTemplateResource] = rd.Ref()
	switch o := rd.Object.(type) {
	case *api.VirtualMachine:
		for i := range o.Spec.NICs {
			if o.Spec.NICs[i].MACAddress == "" {
				o.Spec.NICs[i].MACAddress = envMAC(env, rd.Ref(), i).String()
			}
		}
		if v := goldenRestore(golden, c.Name, rd.ID); v != "" {
			m.Annotations[api.AnnotationRestore] = v
		}
	case *api.VirtualRouter:
		for i := range o.Spec.NICs {
			if o.Spec.NICs[i].MACAddress == "" {
				o.Spec.NICs[i].MACAddress = envMAC(env, rd.Ref(), i).String()
			}
		}
	}
}

// envMAC is the MAC of NIC i of template resource ref in every copy of
// env: locally administered, unicast, from a hash, like the VM driver's
// own (vm.MAC) but of the environment instead of the VM.
func envMAC(env *api.Environment, ref string, i int) net.HardwareAddr {
	h := sha256.Sum256(fmt.Appendf(nil, "humstack-environment-mac/%s/%s/%s#%d", env.Meta.Group, env.Meta.ID, ref, i))
	return net.HardwareAddr{0x52, 0x54, h[0], h[1], h[2], h[3]}
}

// goldenRestore is the restore annotation of VM vmID of a new copy when a
// golden state exists ("" for the golden copy itself, or without one).
// During a re-capture the snapshots captured before still serve; the
// token names the snapshot, not the capture asked for, which they do not
// belong to.
func goldenRestore(g api.GoldenStatus, copyName, vmID string) string {
	if copyName == g.Copy {
		return ""
	}
	ref := g.Snapshots[vmID]
	ns, id, ok := strings.Cut(ref, "/")
	if !ok {
		return ""
	}
	return api.RestoreValue(ns, id, "golden-"+shortHash(ref))
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}
