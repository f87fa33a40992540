package registry

import (
	"unicode/utf8"

	"github.com/humstack/humstack/api"
)

// Limits on meta. Names, keys and finalizers follow Kubernetes' 253; values
// are bounded so one annotation cannot fill an object.
const (
	maxNameLen      = 253
	maxKeyLen       = 253
	maxValueLen     = 64 << 10
	maxFinalizerLen = 253
)

// validateMeta checks the metadata every kind shares: identity, scope, and
// the free-form maps and lists. Ids are checked before anything else uses
// them, since they become store keys, file paths and interface names.
func validateMeta(k *api.Kind, m *api.Meta, fe *api.FieldErrors) {
	requireID(fe, "meta.id", m.ID)
	if m.APIType != k.APIType {
		fe.Add("meta.apiType", "%s does not match kind %s", quote(m.APIType), k.APIType)
	}
	validateScope(k, m, fe)
	if utf8.RuneCountInString(m.Name) > maxNameLen || !isLine(m.Name) {
		fe.Add("meta.name", "must be at most %d characters of text without control characters", maxNameLen)
	}
	validateStringMap(fe, "meta.annotations", m.Annotations)
	validateStringMap(fe, "meta.labels", m.Labels)
	// "" is the zero value: not deleted, same as None.
	checkOneOf(fe, "meta.deleteState", string(m.DeleteState),
		"", string(api.DeleteStateNone), string(api.DeleteStateDelete), string(api.DeleteStateDone))
	validateFinalizers(fe, m.Finalizers)
	for i, ref := range m.OwnerReferences {
		validateOwnerReference(fe, indexField("meta.ownerReferences", i), ref)
	}
}

// validateScope checks that group and namespace are set exactly when the
// kind's scope needs them.
func validateScope(k *api.Kind, m *api.Meta, fe *api.FieldErrors) {
	scoped := func(field, v string, needed bool) {
		switch {
		case needed:
			requireID(fe, field, v)
		case v != "":
			fe.Add(field, "must be empty: %s is %s-scoped", k.APIType, k.Scope)
		}
	}
	scoped("meta.group", m.Group, k.Scope >= api.ScopeGroup)
	scoped("meta.namespace", m.Namespace, k.Scope == api.ScopeNamespace)
}

// validateStringMap checks annotation or label keys and values.
func validateStringMap(fe *api.FieldErrors, field string, m map[string]string) {
	for _, key := range sortedKeys(m) {
		f, v := keyField(field, key), m[key]
		switch {
		case key == "":
			fe.Add(f, "key must not be empty")
		case utf8.RuneCountInString(key) > maxKeyLen || !isToken(key):
			fe.Add(f, "key must be at most %d printable characters without spaces", maxKeyLen)
		case len(v) > maxValueLen:
			fe.Add(f, "value is longer than %d bytes", maxValueLen)
		}
	}
}

// validateFinalizers checks finalizer names; a duplicate would need two
// removals and is always a client bug.
func validateFinalizers(fe *api.FieldErrors, fs []string) {
	seen := noDuplicate{}
	for i, f := range fs {
		field := indexField("meta.finalizers", i)
		if f == "" || utf8.RuneCountInString(f) > maxFinalizerLen || !isToken(f) {
			fe.Add(field, "must be 1-%d printable characters without spaces", maxFinalizerLen)
			continue
		}
		seen.check(fe, field, f)
	}
}

func validateOwnerReference(fe *api.FieldErrors, field string, ref api.OwnerReference) {
	if k, err := api.LookupKind(ref.APIType); err != nil || k.APIType != ref.APIType {
		fe.Add(field+".apiType", "unknown apiType %s", quote(ref.APIType))
	}
	requireID(fe, field+".id", ref.ID)
	if ref.Group != "" {
		checkID(fe, field+".group", ref.Group)
	}
	if ref.Namespace != "" {
		checkID(fe, field+".namespace", ref.Namespace)
	}
}

// validateMetaUpdate rejects changes to what identifies an object: its key
// (id, group, namespace), its kind, and its uid. An empty uid means the
// client did not send one (an apply from a file); the server keeps the
// stored one.
func validateMetaUpdate(old, new *api.Meta, fe *api.FieldErrors) {
	frozen := func(field, o, n string) {
		if o != n {
			fe.Add(field, "is immutable: was %s, now %s", quote(o), quote(n))
		}
	}
	frozen("meta.id", old.ID, new.ID)
	frozen("meta.group", old.Group, new.Group)
	frozen("meta.namespace", old.Namespace, new.Namespace)
	frozen("meta.apiType", old.APIType, new.APIType)
	if new.UID != "" {
		frozen("meta.uid", old.UID, new.UID)
	}
}
