package registry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/envtemplate"
)

// maxTemplateResources bounds a template's resources (each is stamped
// into every copy).
const maxTemplateResources = 200

// A template's parameters and resources are checked as a whole: every
// resource must be a valid object of its kind once its parameters are
// filled in (validateTemplate). validate is set in init: it calls the
// other kinds' strategies, which the strategy table refers to.
var templateStrategy = &typed[api.TemplateSpec, api.Empty]{}

func init() { templateStrategy.validate = validateTemplate }

// sampleCopy is the copy a template is validated for.
func sampleCopy(group string) envtemplate.Copy {
	if group == "" {
		group = "sample"
	}
	return envtemplate.Copy{Group: group, Environment: "sample", Name: "0"}
}

func validateTemplate(t *api.Template, fe *api.FieldErrors) {
	envtemplate.CheckParameters(t.Spec.Parameters, fe)
	switch n := len(t.Spec.Resources); {
	case n == 0:
		fe.Add("spec.resources", "required: at least one resource")
	case n > maxTemplateResources:
		fe.Add("spec.resources", "%d resources: at most %d", n, maxTemplateResources)
	}
	samples, missing := envtemplate.Samples(t.Spec.Parameters)
	c := sampleCopy(t.Meta.Group)
	vals := c.Values(samples)
	seen := noDuplicate{}
	for i, raw := range t.Spec.Resources {
		f := indexField("spec.resources", i)
		r, rfe := envtemplate.Render(raw, vals, f)
		*fe = append(*fe, rfe...)
		if r.Kind != nil && r.ID != "" {
			seen.check(fe, f+".meta.id", r.Ref())
		}
		checkPerCopy(raw, t.Spec.Parameters, f, fe)
		if r.Object == nil || slices.ContainsFunc(r.Refs, func(n string) bool { return missing[n] }) {
			// A parameter without a sample value: the resource is checked
			// when an environment gives it (the API server validates what
			// the controller creates).
			continue
		}
		validateRendered(r, c, f, fe)
	}
}

// validateRendered runs the registry's validation of the resource's kind
// on it, placed in copy c.
func validateRendered(r envtemplate.Rendered, c envtemplate.Copy, field string, fe *api.FieldErrors) {
	m := r.Object.GetMeta()
	m.Group, m.Namespace = c.Group, c.Namespace()
	st := For(r.Kind)
	if st == nil {
		fe.Add(field+".meta.apiType", "no strategy for %s", r.Kind.APIType)
		return
	}
	st.Default(r.Object)
	for _, e := range st.Validate(r.Object) {
		fe.Add(envtemplate.Join(field, e.Field), "%s%s", e.Detail, sampleNote(r))
	}
}

// sampleNote says, in an error about a resource that uses parameters,
// that it was checked with sample values.
func sampleNote(r envtemplate.Rendered) string {
	if len(r.Refs) == 0 {
		return ""
	}
	return fmt.Sprintf(" (checked with sample values of %v)", r.Refs)
}

// perCopy is what checkPerCopy reads of a resource before rendering.
type perCopy struct {
	Meta struct {
		APIType     string            `json:"apiType"`
		Annotations map[string]string `json:"annotations"`
	} `json:"meta"`
	Spec struct {
		ID          string `json:"id"`          // network
		PoolID      string `json:"poolID"`      // external IP
		IPv4Address string `json:"ipv4Address"` // external IP
	} `json:"spec"`
}

// checkPerCopy checks what must differ between copies: a VXLAN or VLAN
// network's id comes from a range parameter (copies sharing an id would
// share a wire, and their VMs share MACs and addresses), and an external
// IP whose address is a pool parameter is in that pool.
func checkPerCopy(raw json.RawMessage, params []api.TemplateParameter, field string, fe *api.FieldErrors) {
	var r perCopy
	if json.Unmarshal(raw, &r) != nil {
		return // Render reported it
	}
	param := func(v string) (api.TemplateParameter, bool) {
		name, ok := strings.CutPrefix(v, "${")
		name, ok2 := strings.CutSuffix(name, "}")
		for _, p := range params {
			if ok && ok2 && p.Name == name {
				return p, true
			}
		}
		return api.TemplateParameter{}, false
	}
	switch r.Meta.APIType {
	case api.NetworkKind.APIType:
		typ := r.Meta.Annotations[api.AnnotationNetworkType]
		if typ != api.NetworkTypeVXLAN && typ != api.NetworkTypeVLAN {
			return
		}
		p, ok := param(r.Spec.ID)
		if !ok || p.Range == "" {
			fe.Add(field+".spec.id", "a %s network's id must be a range parameter (\"${name}\"): copies must not share a wire", typ)
			return
		}
		limit := maxVNI
		if typ == api.NetworkTypeVLAN {
			limit = maxVLAN
		}
		if lo, hi, err := envtemplate.ParseRange(p.Range); err == nil && (lo < 1 || hi > limit) {
			fe.Add(field+".spec.id", "parameter %s's range %s goes beyond the %s ids 1-%d", p.Name, p.Range, typ, limit)
		}
	case api.ExternalIPKind.APIType:
		if p, ok := param(r.Spec.IPv4Address); ok && p.ExternalIPPool != "" && p.ExternalIPPool != r.Spec.PoolID {
			fe.Add(field+".spec.poolID", "%s: parameter %s takes its addresses from pool %s", quote(r.Spec.PoolID), p.Name, p.ExternalIPPool)
		}
		if !perCopyValue(r.Spec.IPv4Address, params) {
			fe.Add(field+".spec.ipv4Address", "%s is the same in every copy: the second copy's would collide with the first's; "+
				"take it from an externalIPPool parameter (\"${name}\")", quote(r.Spec.IPv4Address))
		}
	}
}

// perCopyValue says whether template string v differs between copies: it
// refers to an allocated parameter (range, externalIPPool) or to the
// copy's own built-ins. A literal, or fixed parameters only, is the same
// in every copy; refused whatever the count, since an environment may
// grow.
func perCopyValue(v string, params []api.TemplateParameter) bool {
	perCopy := map[string]bool{envtemplate.BuiltinCopy: true, envtemplate.BuiltinIndex: true, envtemplate.BuiltinNamespace: true,
		envtemplate.BuiltinGroup: false, envtemplate.BuiltinEnvironment: false}
	for _, p := range params {
		perCopy[p.Name] = !envtemplate.IsFixed(p)
	}
	vals := map[string]string{} // every name known, so that every reference is seen
	for name := range perCopy {
		vals[name] = "x"
	}
	found := false
	_, _ = envtemplate.Substitute(v, vals, func(name string) { found = found || perCopy[name] })
	return found
}
