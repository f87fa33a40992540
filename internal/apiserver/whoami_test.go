package apiserver_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

type whoamiAnswer struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Groups []string `json:"groups"`
	Via    string   `json:"via"`
	Scopes []struct {
		Group     string              `json:"group"`
		Namespace string              `json:"namespace"`
		Roles     []string            `json:"roles"`
		Kinds     map[string][]string `json:"kinds"`
	} `json:"scopes"`
	Link *struct {
		VirtualMachineID   string `json:"virtualMachineID"`
		AllVirtualMachines bool   `json:"allVirtualMachines"`
		Power              bool   `json:"power"`
		ExpiresAt          string `json:"expiresAt"`
	} `json:"link"`
}

// whoami asks GET /api/v0/whoami as who.
func (e *rbacEnv) whoami(t *testing.T, who string) whoamiAnswer {
	t.Helper()
	code, body := e.call(who, "GET", "/api/v0/whoami", "")
	var env struct {
		Data struct{ Whoami whoamiAnswer } `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &env); code != 200 || err != nil {
		t.Fatalf("whoami as %s: %d %s %v", who, code, body, err)
	}
	return env.Data.Whoami
}

// TestWhoami: each caller learns its name, its scopes (from its grants)
// and what the authorizer allows in each, kind by kind: the cluster admin
// one cluster-wide scope with every verb; an operator of g1/ns1 exactly
// its role's kinds there; a group editor its group; a console link its
// namespace, its VMs' verbs and the link itself. Anonymous is 401.
func TestWhoami(t *testing.T) {
	e, _ := newRBACEnvAsAdmin(t)
	e.tenancy("g1", "ns1")
	e.token("op", "", "students")
	e.bind("op", auth.RoleOperator, "g1", "ns1")
	e.token("ged", "")
	e.bind("ged", auth.RoleEditor, "g1", "")
	e.token("nobody", "")
	e.consoleLink("link:team", api.ConsoleLinkSpec{AllVirtualMachines: true, Power: true})
	e.consoleLink("link:vm", api.ConsoleLinkSpec{VirtualMachineID: "vm1"})

	admin := e.whoami(t, "admin")
	if admin.Name != "admin" || admin.Kind != "user" || admin.Via != "token" || len(admin.Scopes) != 1 ||
		admin.Scopes[0].Group != "" || admin.Scopes[0].Namespace != "" || !slices.Equal(admin.Scopes[0].Roles, []string{"cluster-admin"}) ||
		!slices.Equal(admin.Scopes[0].Kinds["nodes"], auth.Verbs) || len(admin.Scopes[0].Kinds) != len(api.Kinds()) || admin.Link != nil {
		t.Errorf("admin: %+v", admin)
	}

	op := e.whoami(t, "op")
	want := map[string][]string{
		"virtualmachines": {"get", "list", "watch", "console", "power"},
		"resets":          {"get", "list", "watch", "create"},
		"consolelinks":    {"get", "list", "watch", "create", "delete"},
		"events":          {"get", "list", "watch"},
	}
	if op.Name != "op" || !slices.Equal(op.Groups, []string{"students"}) || len(op.Scopes) != 1 ||
		op.Scopes[0].Group != "g1" || op.Scopes[0].Namespace != "ns1" || !slices.Equal(op.Scopes[0].Roles, []string{"operator"}) ||
		!reflect.DeepEqual(op.Scopes[0].Kinds, want) {
		t.Errorf("operator: %+v", op)
	}

	ged := e.whoami(t, "ged")
	if len(ged.Scopes) != 1 || ged.Scopes[0].Group != "g1" || ged.Scopes[0].Namespace != "" ||
		!slices.Equal(ged.Scopes[0].Kinds["images"], []string{"get", "list", "watch", "create", "update", "delete", "console", "power"}) ||
		!slices.Equal(ged.Scopes[0].Kinds["groups"], []string{"get", "list", "watch"}) || ged.Scopes[0].Kinds["nodes"] != nil {
		t.Errorf("group editor: %+v", ged)
	}
	if none := e.whoami(t, "nobody"); len(none.Scopes) != 0 || none.Scopes == nil {
		t.Errorf("no grants: %+v", none)
	}

	team := e.whoami(t, "link:team")
	if team.Kind != "consolelink" || len(team.Scopes) != 1 || team.Scopes[0].Group != "g1" || team.Scopes[0].Namespace != "ns1" ||
		!reflect.DeepEqual(team.Scopes[0].Kinds, map[string][]string{"virtualmachines": {"get", "list", "watch", "console", "power"}}) ||
		team.Link == nil || !team.Link.AllVirtualMachines || !team.Link.Power || team.Link.VirtualMachineID != "" || team.Link.ExpiresAt != "2100-01-01T00:00:00Z" {
		t.Errorf("team link: %+v", team)
	}
	one := e.whoami(t, "link:vm")
	if len(one.Scopes) != 1 || !reflect.DeepEqual(one.Scopes[0].Kinds, map[string][]string{"virtualmachines": {"get", "list", "watch", "console"}}) ||
		one.Link == nil || one.Link.VirtualMachineID != "vm1" || one.Link.AllVirtualMachines || one.Link.Power {
		t.Errorf("VM link: %+v", one)
	}
	if code, _ := e.call("", "GET", "/api/v0/whoami", ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous: %d, want 401", code)
	}
}

// TestWhoamiAuthorizationOff: with --authorization off every caller is
// system:anonymous and may do everything everywhere: one cluster-wide
// scope with every verb on every kind.
func TestWhoamiAuthorizationOff(t *testing.T) {
	e := newEnv(t)
	code, r := e.do("GET", "/api/v0/whoami", "", "")
	var w struct{ Whoami whoamiAnswer }
	if err := json.Unmarshal(r.Data, &w); code != 200 || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	if w.Whoami.Name != "system:anonymous" || w.Whoami.Kind != "anonymous" || len(w.Whoami.Scopes) != 1 ||
		!slices.Equal(w.Whoami.Scopes[0].Kinds["virtualmachines"], auth.Verbs) || len(w.Whoami.Scopes[0].Kinds) != len(api.Kinds()) {
		t.Errorf("%+v", w.Whoami)
	}
}

// TestKinds: GET /api/v0/kinds lists every kind with its names, scope,
// aliases and rank, in rank order.
func TestKinds(t *testing.T) {
	e := newEnv(t)
	code, r := e.do("GET", "/api/v0/kinds", "", "")
	type kindInfo struct {
		APIType, Name, Plural, Scope string
		Aliases                      []string
		Rank                         int
	}
	var got struct{ Kinds []kindInfo }
	if err := json.Unmarshal(r.Data, &got); code != 200 || err != nil || len(got.Kinds) != len(api.Kinds()) {
		t.Fatalf("%d %v %+v", code, err, got)
	}
	for i, k := range api.Kinds() {
		g := got.Kinds[i]
		if g.APIType != k.APIType || g.Name != k.Name || g.Plural != k.Plural || g.Scope != k.Scope.String() ||
			g.Rank != k.Rank || g.Aliases == nil || len(g.Aliases) != len(k.Aliases) || len(k.Aliases) > 0 && !slices.Equal(g.Aliases, k.Aliases) {
			t.Errorf("kind %d: %+v, want %+v", i, g, k)
		}
	}
	vm := got.Kinds[slices.IndexFunc(got.Kinds, func(k kindInfo) bool { return k.Name == "virtualmachine" })]
	if vm.APIType != "systemv0/virtualmachine" || vm.Scope != "namespace" || !slices.Equal(vm.Aliases, []string{"vm"}) {
		t.Errorf("virtualmachine: %+v", vm)
	}
}
