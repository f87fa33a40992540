package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
)

// Attributes are what a request asks to do, as the rule table of the API
// server's routes derives them: the verb, the kind (api kind name) and the
// object or collection (group and namespace; ID empty for a collection).
type Attributes struct {
	Verb      string
	Kind      string
	Group     string
	Namespace string
	ID        string
	// Subresource is the path's tail (status, power, ws, serial,
	// serial/log), for messages and the audit log.
	Subresource string
	// Object returns the object the request acts on (for a create: the one
	// in the body; otherwise the stored one). Only rules that depend on the
	// object (a node's placement) call it; nil means there is none.
	Object func() (api.Object, error)
}

// Scope is where a binding applies and where an object lives: everything
// (zero), one group, or one namespace of a group.
type Scope struct {
	Group, Namespace string
}

// covers reports whether s contains t.
func (s Scope) covers(t Scope) bool {
	return s.Group == "" || (s.Group == t.Group && (s.Namespace == "" || s.Namespace == t.Namespace))
}

func (s Scope) overlaps(t Scope) bool { return s.covers(t) || t.covers(s) }

// depth is 0 for the cluster, 1 for a group, 2 for a namespace.
func (s Scope) depth() int {
	switch {
	case s.Group == "":
		return 0
	case s.Namespace == "":
		return 1
	}
	return 2
}

// itemDepth is the deepest grant that can reach an object of kind: a
// namespace object is read inside itself, and a group object by whoever
// may read anything inside it, down to one of its namespaces. Events are
// judged in their involved object's scope (api/event.go), down to a
// namespace too.
func itemDepth(kind string) int {
	switch kind {
	case "group", "namespace", "event":
		return 2
	}
	k, err := api.LookupKind(kind)
	if err != nil {
		return 0
	}
	return int(k.Scope)
}

func (s Scope) String() string {
	switch {
	case s.Group == "":
		return "the cluster"
	case s.Namespace == "":
		return s.Group
	}
	return s.Group + "/" + s.Namespace
}

// target is the scope a request is judged in. Reading a group or a
// namespace object counts as reading inside it, so whoever may read
// anything in namespace ns1 sees ns1 (and its group) exist; writing them
// needs rights over their parent.
func (a Attributes) target() Scope {
	read := a.Verb == VerbGet || a.Verb == VerbList || a.Verb == VerbWatch
	switch {
	case read && a.Kind == "group" && a.ID != "":
		return Scope{Group: a.ID}
	case read && a.Kind == "namespace" && a.ID != "":
		return Scope{Group: a.Group, Namespace: a.ID}
	}
	return Scope{Group: a.Group, Namespace: a.Namespace}
}

// collection reports whether a asks for a list or watch of many objects,
// which is allowed when the caller may list any part of it; the server then
// returns only the objects the caller may see (each checked with ID set).
func (a Attributes) collection() bool {
	return a.ID == "" && (a.Verb == VerbList || a.Verb == VerbWatch)
}

// ErrAuthenticationRequired is the answer to a request without credentials
// where authorization is on.
var ErrAuthenticationRequired = unauthorized("authentication required: send Authorization: Bearer <token>")

// Authorize decides whether id may do a, under policy p. It returns nil,
// or an error wrapping api.ErrUnauthorized (no identity),
// api.ErrForbidden, or api.ErrNotFound when the object lies in a scope id
// cannot see at all, so that names do not leak. The error's message is one
// line for the user ("user alice may not delete virtualmachine g1/ns1/vm1").
func Authorize(id *Identity, a Attributes, p *Policy) error {
	if id == nil || id.Kind == KindAnonymous {
		return ErrAuthenticationRequired
	}
	if id.Limit != nil {
		return authorizeLimited(id, a)
	}
	if err := authorizeGrants(id, a, p); err != nil {
		return err
	}
	return authorizeDelegation(id, a, p)
}

// authorizeGrants decides a by the grants of id's bindings.
func authorizeGrants(id *Identity, a Attributes, p *Policy) error {
	target := a.target()
	visible := target.Group == ""
	var misplaced bool // a node's rule matched, but the object is not on its node
	var gone error     // a node's rule matched, but the object no longer exists
	for _, g := range p.grants(id) {
		if !g.scope.overlaps(target) {
			continue
		}
		visible = true
		if g.scope.depth() > 0 && clusterWritten(a) {
			continue
		}
		// A collection, or a group whose inside one may read, is allowed
		// to a grant on a part of it (lists are then filtered).
		partial := a.collection() || (a.Kind == "group" && target.Group != "")
		if !partial && !g.scope.covers(target) {
			continue
		}
		if partial && g.scope.depth() > itemDepth(a.Kind) {
			continue // no item of this kind can be inside the grant
		}
		v, err := g.role.allows(id, a)
		switch {
		case errors.Is(err, api.ErrNotFound):
			gone = err // another grant may still allow it; else 404
		case err != nil:
			return err
		case v == allowed:
			return nil
		case v == notHere:
			misplaced = true
		}
	}
	switch {
	case gone != nil:
		return gone
	case misplaced && !mayRead(id, a, p):
		// What is placed on another node is out of a node's sight (its
		// lists never show it): refused as missing, so a node cannot tell
		// an object on another node from one that does not exist.
		return denied(id, a, false)
	}
	return denied(id, a, visible)
}

// mayRead reports whether id may get the object a names.
func mayRead(id *Identity, a Attributes, p *Policy) bool {
	if a.Verb == VerbGet || a.ID == "" {
		return false
	}
	a.Verb = VerbGet
	return authorizeGrants(id, a, p) == nil
}

// verdict is what a role says of a request.
type verdict int

const (
	notAllowed verdict = iota
	allowed
	notHere // only a node's rule matched, and the object is not on its node
)

// allows reports whether one of r's rules allows a for id. A collection
// request passes conditional rules: its items are checked one by one.
func (r *role) allows(id *Identity, a Attributes) (verdict, error) {
	v := notAllowed
	for _, ru := range r.rules {
		if !ru.matches(a.Kind, a.Verb) {
			continue
		}
		if ru.when == always || a.collection() {
			return allowed, nil
		}
		ok, err := ru.holds(id, a)
		if err != nil {
			return notAllowed, err
		}
		if ok {
			return allowed, nil
		}
		if id.Kind == KindNode && ru.when != selfNode {
			v = notHere
		}
	}
	return v, nil
}

// holds evaluates a rule's condition for a node identity. When the object
// the condition is judged by no longer exists (Object returns nil), the
// answer is a not-found error: a node writing an object of its own that
// another writer just removed (two reconciles releasing one finalizer)
// must learn that it is gone (404), not that it is not its own (403).
func (ru rule) holds(id *Identity, a Attributes) (bool, error) {
	if id.Kind != KindNode || id.Node == "" {
		return false, nil
	}
	if ru.when == selfNode && a.ID != "" {
		return a.ID == id.Node, nil
	}
	if a.Object == nil {
		return false, nil
	}
	obj, err := a.Object()
	if err != nil {
		return false, err
	}
	if obj == nil {
		if a.ID == "" {
			return false, nil
		}
		return false, &classError{msg: fmt.Sprintf("%s %s not found", a.Kind, objectPath(a)), class: api.ErrNotFound}
	}
	nodes := PlacedOn(obj)
	switch ru.when {
	case selfNode:
		return obj.GetMeta().ID == id.Node, nil
	case placedOrFree:
		return len(nodes) == 0 || slices.Contains(nodes, id.Node), nil
	case unplaced:
		return len(nodes) == 0, nil
	}
	return slices.Contains(nodes, id.Node), nil
}

// authorizeDelegation is the rule of console links: a link hands on the
// right to open consoles (and to power, with spec.power), so creating one
// also needs those verbs on what it names: the VM, or, for a link to every
// VM of the namespace, virtualmachines in the whole namespace (a grant
// covering the namespace, not one VM's). A role that may create links but
// not open consoles cannot reach a console through a link.
func authorizeDelegation(id *Identity, a Attributes, p *Policy) error {
	if a.Kind != api.ConsoleLinkKind.Name || a.Verb != VerbCreate {
		return nil
	}
	var obj api.Object
	var err error
	if a.Object != nil {
		obj, err = a.Object()
	}
	if err != nil {
		return err
	}
	l, ok := obj.(*api.ConsoleLink)
	if !ok || l == nil {
		return &classError{msg: fmt.Sprintf("%s may not create a console link without naming its virtual machine", describe(id)), class: api.ErrForbidden}
	}
	what := "virtualmachine " + Scope{a.Group, a.Namespace}.String() + "/" + l.Spec.VirtualMachineID
	vmID := l.Spec.VirtualMachineID
	if l.Spec.AllVirtualMachines {
		what, vmID = "every virtualmachine of "+Scope{a.Group, a.Namespace}.String(), ""
	}
	verbs := []string{VerbConsole}
	if l.Spec.Power {
		verbs = append(verbs, VerbPower)
	}
	for _, verb := range verbs {
		vm := Attributes{Verb: verb, Kind: api.VirtualMachineKind.Name, Group: a.Group, Namespace: a.Namespace, ID: vmID}
		if err := authorizeGrants(id, vm, p); err != nil {
			return &classError{msg: fmt.Sprintf("%s may not create a console link to %s: it may not %s it itself (%v)",
				describe(id), what, verbPhrase(verb), err), class: api.ErrForbidden}
		}
	}
	return nil
}

func verbPhrase(verb string) string {
	if verb == VerbConsole {
		return "open the console of"
	}
	return verb
}

// authorizeLimited holds a console-link identity to its limit: the verbs
// the link grants, on its VM (or every VM of its namespace), and lists
// and watches that contain them (filtered to them item by item, with the
// item's id set).
func authorizeLimited(id *Identity, a Attributes) error {
	l := id.Limit
	k, err := api.LookupKind(l.APIType)
	if err == nil && a.Kind == k.Name && slices.Contains(id.LimitVerbs, a.Verb) {
		home := Scope{l.Group, l.Namespace}
		switch {
		case a.collection() && Scope{a.Group, a.Namespace}.covers(home):
			return nil
		case a.ID != "" && a.Group == l.Group && a.Namespace == l.Namespace && (l.ID == "" || a.ID == l.ID):
			return nil
		}
	}
	what := l.APIType
	if err == nil {
		what = k.Name
	}
	reach := what + " " + Scope{l.Group, l.Namespace}.String() + "/" + l.ID
	if l.ID == "" {
		reach = kindPlural(what) + " of " + Scope{l.Group, l.Namespace}.String()
	}
	return &classError{msg: fmt.Sprintf("%s may reach only %s (%s)", describe(id), reach, strings.Join(id.LimitVerbs, ", ")),
		class: api.ErrForbidden}
}

// denied builds the error for a refused request.
func denied(id *Identity, a Attributes, visible bool) error {
	if !visible {
		if a.ID == "" {
			t := a.target()
			if t.Namespace != "" {
				return &classError{msg: fmt.Sprintf("namespace %s/%s not found", t.Group, t.Namespace), class: api.ErrNotFound}
			}
			return &classError{msg: fmt.Sprintf("group %s not found", t.Group), class: api.ErrNotFound}
		}
		return &classError{msg: fmt.Sprintf("%s %s not found", a.Kind, objectPath(a)), class: api.ErrNotFound}
	}
	what := a.Kind + " " + objectPath(a)
	if a.ID == "" {
		what = kindPlural(a.Kind) + " in " + Scope{a.Group, a.Namespace}.String()
	}
	return &classError{msg: fmt.Sprintf("%s may not %s %s", describe(id), a.Verb, what), class: api.ErrForbidden}
}

func objectPath(a Attributes) string {
	p := a.ID
	if a.Namespace != "" {
		p = a.Namespace + "/" + p
	}
	if a.Group != "" {
		p = a.Group + "/" + p
	}
	return p
}

func kindPlural(name string) string {
	if k, err := api.LookupKind(name); err == nil {
		return k.Plural
	}
	return name
}

// describe names an identity in messages: "user alice", "node node-a".
func describe(id *Identity) string {
	switch id.Kind {
	case KindNode:
		return "node " + id.Node
	case KindServiceAccount:
		return "service account " + id.Name
	case KindConsoleLink:
		return "console link " + id.Name
	}
	return string(id.Kind) + " " + id.Name
}
