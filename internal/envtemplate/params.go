package envtemplate

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/humstack/humstack/api"
)

// MaxRangeValue bounds a range parameter: the largest VXLAN VNI (24 bits).
const MaxRangeValue = 1<<24 - 1

// SampleExternalIP is the address a pool parameter takes when a template
// is validated: the pool's real addresses are known only when a copy is
// stamped (TEST-NET-1, RFC 5737).
const SampleExternalIP = "192.0.2.10"

// ParseRange reads a range parameter "lo-hi" (inclusive).
func ParseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q is not a range lo-hi of integers", s)
	case lo < 0 || hi > MaxRangeValue || lo > hi:
		return 0, 0, fmt.Errorf("%q: need 0 <= lo <= hi <= %d", s, MaxRangeValue)
	}
	return lo, hi, nil
}

// IsFixed says whether p takes one value for every copy (the
// environment's, else its default) rather than one allocated per copy.
func IsFixed(p api.TemplateParameter) bool { return p.Range == "" && p.ExternalIPPool == "" }

// CheckParameters validates a template's parameters (spec.parameters).
func CheckParameters(params []api.TemplateParameter, fe *api.FieldErrors) {
	seen := map[string]bool{}
	for i, p := range params {
		f := fmt.Sprintf("spec.parameters[%d]", i)
		switch {
		case !ValidName(p.Name):
			fe.Add(f+".name", "%q is not a parameter name (letters, digits and _, not starting with a digit, at most %d)", p.Name, maxNameLen)
		case slices.Contains(Builtins, p.Name):
			fe.Add(f+".name", "%q is a built-in parameter (%s)", p.Name, strings.Join(Builtins, ", "))
		case seen[p.Name]:
			fe.Add(f+".name", "%q is given twice", p.Name)
		}
		seen[p.Name] = true
		sources := 0
		for _, s := range []string{p.Default, p.Range, p.ExternalIPPool} {
			if s != "" {
				sources++
			}
		}
		if sources > 1 {
			fe.Add(f, "give at most one of default, range and externalIPPool")
		}
		if p.Range != "" {
			if _, _, err := ParseRange(p.Range); err != nil {
				fe.Add(f+".range", "%v", err)
			}
		}
		if p.ExternalIPPool != "" && !api.IsID(p.ExternalIPPool) {
			fe.Add(f+".externalIPPool", "%q is not an id", p.ExternalIPPool)
		}
	}
}

// Copy names one copy of an environment.
type Copy struct {
	Group, Environment, Name string
	Index                    int
}

// Namespace is the copy's namespace.
func (c Copy) Namespace() string { return api.CopyNamespace(c.Environment, c.Name) }

// Values are the copy's values for rendering: params (the template's
// parameters, fixed and allocated) plus the built-ins.
func (c Copy) Values(params map[string]string) map[string]string {
	vals := maps.Clone(params)
	if vals == nil {
		vals = map[string]string{}
	}
	vals[BuiltinCopy] = c.Name
	vals[BuiltinIndex] = strconv.Itoa(c.Index)
	vals[BuiltinNamespace] = c.Namespace()
	vals[BuiltinGroup] = c.Group
	vals[BuiltinEnvironment] = c.Environment
	return vals
}

// Fixed returns the values of the fixed parameters for an environment
// whose spec.parameters are given, or an error naming what is missing
// or not a fixed parameter of the template.
func Fixed(params []api.TemplateParameter, given map[string]string) (map[string]string, api.FieldErrors) {
	var fe api.FieldErrors
	vals := map[string]string{}
	byName := map[string]api.TemplateParameter{}
	for _, p := range params {
		byName[p.Name] = p
		if !IsFixed(p) {
			continue
		}
		v, ok := given[p.Name]
		if !ok {
			v = p.Default
		}
		if !ok && p.Default == "" {
			fe.Add("spec.parameters", "parameter %q of the template has no default: give it", p.Name)
		}
		vals[p.Name] = v
	}
	for _, name := range sortedKeys(given) {
		p, ok := byName[name]
		switch {
		case !ok:
			fe.Add("spec.parameters."+name, "the template has no parameter %q", name)
		case !IsFixed(p):
			fe.Add("spec.parameters."+name, "is allocated per copy (range or externalIPPool): it cannot be set")
		}
	}
	return vals, fe
}

// Samples are the values a template is validated with: each default, a
// range's first value, SampleExternalIP for a pool. Parameters without
// any of these have no sample; they are listed in missing, and the
// resources using them are checked only once an environment gives them.
func Samples(params []api.TemplateParameter) (vals map[string]string, missing map[string]bool) {
	vals, missing = map[string]string{}, map[string]bool{}
	for _, p := range params {
		switch {
		case p.Range != "":
			lo, _, _ := ParseRange(p.Range)
			vals[p.Name] = strconv.Itoa(lo)
		case p.ExternalIPPool != "":
			vals[p.Name] = SampleExternalIP
		case p.Default != "":
			vals[p.Name] = p.Default
		default:
			vals[p.Name] = "sample"
			missing[p.Name] = true
		}
	}
	return vals, missing
}
