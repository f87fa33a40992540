package api

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Scope says where objects of a kind live.
type Scope int

// Scopes.
const (
	ScopeCluster   Scope = iota // /api/v0/{plural}/{id}
	ScopeGroup                  // /api/v0/groups/{g}/{plural}/{id}
	ScopeNamespace              // /api/v0/groups/{g}/namespaces/{ns}/{plural}/{id}
)

func (s Scope) String() string {
	return [...]string{"cluster", "group", "namespace"}[s]
}

// Column is one column of `humcli get` table output.
type Column struct {
	Header string
	Value  func(Object) string
}

// Kind describes one resource kind. It is the single place every generic
// layer (handlers, client, CLI) learns a kind's names and scope from.
type Kind struct {
	APIType string   // "systemv0/virtualmachine"
	Name    string   // singular: envelope key for one object, CLI name
	Plural  string   // URL segment and envelope key for lists
	Aliases []string // short CLI names
	Scope   Scope
	// Rank orders kinds for create (ascending) and for `humcli delete -f`
	// (descending), so a file holding a group, its namespace and a VM
	// applies in any order. It does not order cascading deletion:
	// DeleteWaitsFor does.
	Rank int
	// DeleteWaitsFor names (by Kind.Name) the kinds whose objects can hold
	// up the deletion of an object of this kind, or would be disturbed by
	// it: a disk attached to a running VM is not removed, an image entity
	// stays while a disk is an overlay of it. This is the one declaration
	// of the kinds' deletion dependencies; the cascading deletion of a
	// group or namespace derives its order from it (those kinds go first),
	// and a test checks that the graph lets every such deletion finish.
	DeleteWaitsFor []string
	Columns        []Column

	typ reflect.Type
	new func() Object
}

// New returns an empty object of this kind with meta.apiType set.
func (k *Kind) New() Object {
	o := k.new()
	o.GetMeta().APIType = k.APIType
	return o
}

var (
	kinds       []*Kind
	kindsByName = map[string]*Kind{}
	kindsByType = map[reflect.Type]*Kind{}
)

// register adds a kind whose objects are Resource[S, T].
func register[S, T any](k Kind) *Kind {
	k.new = func() Object { return &Resource[S, T]{} }
	k.typ = reflect.TypeFor[*Resource[S, T]]()
	kp := &k
	for _, n := range append([]string{k.APIType, k.Name, k.Plural}, k.Aliases...) {
		if _, dup := kindsByName[n]; dup {
			panic("api: duplicate kind name " + n)
		}
		kindsByName[n] = kp
	}
	kindsByType[k.typ] = kp
	kinds = append(kinds, kp)
	sort.SliceStable(kinds, func(i, j int) bool { return kinds[i].Rank < kinds[j].Rank })
	return kp
}

// Kinds returns every registered kind in creation order.
func Kinds() []*Kind { return append([]*Kind(nil), kinds...) }

// LookupKind finds a kind by apiType, singular, plural or alias (case-insensitive).
func LookupKind(name string) (*Kind, error) {
	if k, ok := kindsByName[strings.ToLower(name)]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown kind %q: %w", name, ErrNotFound)
}

// KindOf returns the kind of an object.
func KindOf(o Object) (*Kind, error) {
	if k, ok := kindsByType[reflect.TypeOf(o)]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("type %T is not a registered kind: %w", o, ErrInvalid)
}

// KindFor returns the kind whose objects have type T (a pointer type).
func KindFor[T Object]() *Kind {
	k, ok := kindsByType[reflect.TypeFor[T]()]
	if !ok {
		panic(fmt.Sprintf("api: %v is not a registered kind", reflect.TypeFor[T]()))
	}
	return k
}
