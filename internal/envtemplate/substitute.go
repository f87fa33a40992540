// Package envtemplate renders the resources of a template (corev0/template)
// for one copy of an environment: it fills ${name} references in every
// string value with the copy's parameter values and decodes the result
// strictly as the resource's kind. It is pure: no API, no clock, so the
// API server (template validation with sample values) and the Core
// environment controller (stamping copies) render the same way.
// docs/environments.md, "Templates and environments".
package envtemplate

import (
	"fmt"
	"regexp"
	"strings"
)

// Built-in parameters every resource may use besides the template's own.
const (
	BuiltinCopy        = "copy"        // the copy's name
	BuiltinIndex       = "index"       // its 0-based number
	BuiltinNamespace   = "namespace"   // its namespace, "<environment>-<copy>"
	BuiltinGroup       = "group"       // the environment's group
	BuiltinEnvironment = "environment" // the environment's id
)

// Builtins are the built-in parameter names.
var Builtins = []string{BuiltinCopy, BuiltinIndex, BuiltinNamespace, BuiltinGroup, BuiltinEnvironment}

// maxNameLen bounds a parameter's name.
const maxNameLen = 63

var nameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidName says whether s may name a parameter.
func ValidName(s string) bool { return len(s) <= maxNameLen && nameRe.MatchString(s) }

// Substitute replaces each ${name} in s by vals[name] and each "$$" by
// "$". A reference to a name vals lacks, an unterminated "${" and a "$"
// that starts neither are errors: a template with a typo fails at
// creation instead of stamping a literal "${nmae}" into every copy.
// refs gets every name referred to, known or not.
func Substitute(s string, vals map[string]string, refs func(name string)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i++
		case i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ at offset %d", i)
			}
			name := s[i+2 : i+2+end]
			if !ValidName(name) {
				return "", fmt.Errorf("${%s} is not a parameter reference (names are letters, digits and _)", name)
			}
			if refs != nil {
				refs(name)
			}
			v, ok := vals[name]
			if !ok {
				return "", fmt.Errorf("unknown parameter ${%s}", name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			return "", fmt.Errorf(`"$" at offset %d starts no ${name}: write "$$" for a "$"`, i)
		}
	}
	return b.String(), nil
}

// Escape makes s a template string that substitutes to s itself.
func Escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }
