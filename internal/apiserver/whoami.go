package apiserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// GET /api/v0/whoami and GET /api/v0/kinds: what the web console builds
// its pages from. Any authenticated caller may ask (the rule table's
// authenticated rule: no verb, no kind); with authorization off, the
// caller is system:anonymous, as on every route then, and may do
// everything everywhere.

// whoami is the answer of GET /api/v0/whoami.
type whoami struct {
	Name   string        `json:"name"`
	Kind   string        `json:"kind"`
	Groups []string      `json:"groups"`
	Via    string        `json:"via"`
	Scopes []whoamiScope `json:"scopes"`
	Link   *whoamiLink   `json:"link"`
}

// whoamiScope is one scope of the caller's grants and what the authorizer
// allows there: kind plural -> verbs (auth.Verbs' order), kinds with no
// verb left out.
type whoamiScope struct {
	Group     string              `json:"group"`
	Namespace string              `json:"namespace"`
	Roles     []string            `json:"roles"`
	Kinds     map[string][]string `json:"kinds"`
}

// whoamiLink describes a console link caller.
type whoamiLink struct {
	VirtualMachineID   string `json:"virtualMachineID"`
	AllVirtualMachines bool   `json:"allVirtualMachines"`
	Power              bool   `json:"power"`
	ExpiresAt          string `json:"expiresAt"`
}

// kindInfo is one kind in the answer of GET /api/v0/kinds.
type kindInfo struct {
	APIType string   `json:"apiType"`
	Name    string   `json:"name"`
	Plural  string   `json:"plural"`
	Scope   string   `json:"scope"`
	Aliases []string `json:"aliases"`
	Rank    int      `json:"rank"`
}

func (s *Server) introspectionRoutes() {
	s.handle(nil, "GET /api/v0/whoami", s.whoami)
	s.handle(nil, "GET /api/v0/kinds", s.kinds)
}

func (s *Server) kinds(w http.ResponseWriter, r *http.Request) {
	out := []kindInfo{}
	for _, k := range api.Kinds() {
		out = append(out, kindInfo{APIType: k.APIType, Name: k.Name, Plural: k.Plural, Scope: k.Scope.String(),
			Aliases: append([]string{}, k.Aliases...), Rank: k.Rank})
	}
	_ = writeData(w, http.StatusOK, "kinds", out)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	ans, err := s.describeIdentity(r.Context(), id)
	if err != nil {
		writeError(r.Context(), w, s.log, err)
		return
	}
	if err := writeData(w, http.StatusOK, "whoami", ans); err != nil {
		writeError(r.Context(), w, s.log, err)
	}
}

// describeIdentity is the whoami answer for id.
func (s *Server) describeIdentity(ctx context.Context, id *auth.Identity) (*whoami, error) {
	ans := &whoami{Name: id.Name, Kind: string(id.Kind), Groups: append([]string{}, id.Groups...), Via: id.Via}
	var scopes []auth.ScopeRoles
	switch {
	case id.Limit != nil:
		scopes = []auth.ScopeRoles{{Scope: auth.Scope{Group: id.Limit.Group, Namespace: id.Limit.Namespace}}}
		ans.Link = &whoamiLink{VirtualMachineID: id.Limit.ID, AllVirtualMachines: id.Limit.ID == "",
			ExpiresAt: id.ExpiresAt}
		for _, v := range id.LimitVerbs {
			ans.Link.Power = ans.Link.Power || v == auth.VerbPower
		}
	case s.policy == nil:
		// Authorization off: everything, everywhere.
		scopes = []auth.ScopeRoles{{}}
	default:
		p, _, err := s.policy.get(ctx)
		if err != nil {
			return nil, err
		}
		scopes = p.Scopes(id)
	}
	ans.Scopes = []whoamiScope{}
	for _, sc := range scopes {
		ws := whoamiScope{Group: sc.Scope.Group, Namespace: sc.Scope.Namespace, Roles: append([]string{}, sc.Roles...),
			Kinds: map[string][]string{}}
		for _, k := range api.Kinds() {
			for _, verb := range auth.Verbs {
				err := s.authorize(ctx, id, scopeAttributes(k, verb, sc.Scope, id.Limit))
				switch {
				case err == nil:
					ws.Kinds[k.Plural] = append(ws.Kinds[k.Plural], verb)
				case !denial(err) && !isUnauthorized(err):
					return nil, err
				}
			}
		}
		ans.Scopes = append(ans.Scopes, ws)
	}
	return ans, nil
}

// whoamiObjectID stands for "any object" where a question needs an id
// (it is no DNS label, so no object has it).
const whoamiObjectID = "*"

// scopeAttributes is the question "may the caller do verb on kind k in
// scope sc?" as the rule table's routes would ask it: lists and watches
// of the collection, creates without an id, other verbs on an object;
// objects of a group or cluster kind are where such a kind lives (an
// image in a namespace's scope is its group's), events in the scope of
// the object they are about, a group or namespace read as itself.
// Rules that depend on the object itself (a node's placement) are not
// answered here. limit is a console link's (nil otherwise): its one VM
// is the object asked about.
func scopeAttributes(k *api.Kind, verb string, sc auth.Scope, limit *auth.ObjectRef) auth.Attributes {
	a := auth.Attributes{Verb: verb, Kind: k.Name}
	switch {
	case k == api.EventKind, k.Scope == api.ScopeNamespace:
		a.Group, a.Namespace = sc.Group, sc.Namespace
	case k.Scope == api.ScopeGroup:
		a.Group = sc.Group
	}
	if verb == auth.VerbList || verb == auth.VerbWatch {
		return a
	}
	if verb == auth.VerbCreate {
		if k == api.ConsoleLinkKind {
			// Creating a link also asks for console on the VM it names.
			l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
			l.Meta.Group, l.Meta.Namespace, l.Spec.VirtualMachineID = a.Group, a.Namespace, whoamiObjectID
			a.Object = func() (api.Object, error) { return l, nil }
		}
		return a
	}
	a.ID = whoamiObjectID
	switch {
	case k == api.GroupKind && sc.Group != "":
		a.ID = sc.Group
	case k == api.NamespaceKind && sc.Namespace != "":
		a.ID = sc.Namespace
	case limit != nil && limit.ID != "":
		a.ID = limit.ID
	}
	return a
}

func isUnauthorized(err error) bool { return errors.Is(err, api.ErrUnauthorized) }
