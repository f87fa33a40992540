package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// TestConsoleLinkOldMAC: a link without the later grants keeps the MAC of
// the first version (its tokens, handed out before, still verify); a
// grant changes it, each grant differently.
func TestConsoleLinkOldMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	l := link("l1", "vm1", t0.Add(time.Hour))
	m := hmac.New(sha256.New, key) // the first version's MAC, as it was written
	for _, f := range []string{"humstack console link v1", l.Meta.Group, l.Meta.Namespace, l.Meta.ID, l.Meta.UID,
		l.Spec.VirtualMachineID, l.Spec.ExpiresAt} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	old := "team1.ns1.l1." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:macLen])
	if got := SignConsoleLink(key, l); got != old {
		t.Fatalf("token %s, want the old one %s", got, old)
	}
	a := &ConsoleLinkAuthenticator{Source: &fakeLinks{key: key, links: map[string]*api.ConsoleLink{"team1/ns1/l1": l}},
		Now: func() time.Time { return t0 }}
	id, ok, err := a.Authenticate(httptest.NewRequest("GET", "/x?link="+old, nil))
	if err != nil || !ok || id.Limit.ID != "vm1" || !slices.Equal(id.LimitVerbs, []string{VerbGet, VerbList, VerbWatch, VerbConsole}) {
		t.Fatalf("old token: %+v %v", id, err)
	}
	seen := map[string]bool{old: true}
	for _, spec := range []api.ConsoleLinkSpec{{Power: true}, {AllVirtualMachines: true}, {AllVirtualMachines: true, Power: true}} {
		g := *l
		g.Spec.Power, g.Spec.AllVirtualMachines = spec.Power, spec.AllVirtualMachines
		tok := SignConsoleLink(key, &g)
		if seen[tok] {
			t.Errorf("%+v: the MAC of another link", spec)
		}
		seen[tok] = true
		// A token of the link without its grant does not open it.
		a.Source.(*fakeLinks).links["team1/ns1/l1"] = &g
		if _, _, err := a.Authenticate(httptest.NewRequest("GET", "/x?link="+old, nil)); err == nil {
			t.Errorf("%+v: the old link's token opens the granted one", spec)
		}
	}
}

// TestTeamLink: a link to every VM of its namespace reads, lists and
// opens the consoles of each, powers them only with spec.power, and
// reaches nothing outside.
func TestTeamLink(t *testing.T) {
	team := func(power bool) *Identity {
		return &Identity{Name: "consolelink:g/ns/l", Kind: KindConsoleLink, Via: ConsoleLinkVia,
			Limit:      &ObjectRef{APIType: api.VirtualMachineKind.APIType, Group: "g", Namespace: "ns"},
			LimitVerbs: LinkVerbs(api.ConsoleLinkSpec{AllVirtualMachines: true, Power: power})}
	}
	p := NewPolicy(nil, nil)
	for _, c := range []struct {
		power bool
		a     Attributes
		want  string
	}{
		{false, vmAt(VerbConsole, "g", "ns", "vm1"), "ok"},
		{false, vmAt(VerbConsole, "g", "ns", "vm9"), "ok"},
		{false, vmAt(VerbGet, "g", "ns", "vm2"), "ok"},
		{false, vmAt(VerbWatch, "g", "ns", ""), "ok"},
		{false, vmAt(VerbList, "g", "", ""), "ok"}, // wide lists, filtered item by item
		{false, vmAt(VerbList, "", "", ""), "ok"},
		{false, vmAt(VerbPower, "g", "ns", "vm1"), "403"},
		{true, vmAt(VerbPower, "g", "ns", "vm1"), "ok"},
		{true, vmAt(VerbUpdate, "g", "ns", "vm1"), "403"},
		{true, vmAt(VerbDelete, "g", "ns", "vm1"), "403"},
		{true, vmAt(VerbCreate, "g", "ns", ""), "403"},
		{true, vmAt(VerbConsole, "g", "ns2", "vm1"), "403"},
		{true, vmAt(VerbList, "g", "ns2", ""), "403"},
		{true, Attributes{Verb: VerbGet, Kind: "blockstorage", Group: "g", Namespace: "ns", ID: "d1"}, "403"},
		{true, Attributes{Verb: VerbList, Kind: "event"}, "403"},
	} {
		if got := result(Authorize(team(c.power), c.a, p)); got != c.want {
			t.Errorf("power %v, %+v: %s, want %s", c.power, c.a, got, c.want)
		}
	}
}

// TestTeamLinkDelegation: a link to every VM needs console (and power,
// with spec.power) over the whole namespace; a link with power needs
// power.
func TestTeamLinkDelegation(t *testing.T) {
	consoler := &api.Role{Meta: api.Meta{ID: "consoler"}, Spec: api.RoleSpec{Rules: []api.PolicyRule{
		{Kinds: []string{"consolelink"}, Verbs: []string{"create"}}, {Kinds: []string{"virtualmachine"}, Verbs: []string{"console"}}}}}
	p := NewPolicy([]*api.Role{consoler}, []Binding{
		nsBinding(RoleOperator, "g1", "ns1", u("op")),
		nsBinding("consoler", "g1", "ns1", u("consoler")),
		nsBinding(RoleEditor, "g1", "", u("geditor")),
	})
	linkOf := func(spec api.ConsoleLinkSpec) Attributes {
		l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
		l.Meta = api.Meta{Group: "g1", Namespace: "ns1", ID: "l1"}
		l.Spec = spec
		return Attributes{Verb: VerbCreate, Kind: "consolelink", Group: "g1", Namespace: "ns1", ID: "l1",
			Object: func() (api.Object, error) { return l, nil }}
	}
	all := api.ConsoleLinkSpec{AllVirtualMachines: true}
	allPower := api.ConsoleLinkSpec{AllVirtualMachines: true, Power: true}
	onePower := api.ConsoleLinkSpec{VirtualMachineID: "vm1", Power: true}
	for _, c := range []struct {
		who  string
		spec api.ConsoleLinkSpec
		want string
	}{
		{"op", all, "ok"}, {"op", allPower, "ok"}, {"op", onePower, "ok"},
		{"consoler", all, "ok"}, {"consoler", allPower, "403"}, {"consoler", onePower, "403"},
		{"geditor", allPower, "ok"},
	} {
		if got := result(Authorize(user(c.who), linkOf(c.spec), p)); got != c.want {
			t.Errorf("%s creating %+v: %s, want %s", c.who, c.spec, got, c.want)
		}
	}
}
