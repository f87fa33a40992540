package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/pki"
)

// The authorization matrix: every route the server registers x every kind
// of caller, the expected answer of each cell generated from the one table
// below. A route without a rule in the server's rule table fails here (and
// in TestEveryRouteHasARule), so a new route cannot ship unchecked.
//
// Cells are classed by where they point (all fixtures live in group g1,
// namespace g1/ns1, or at cluster scope):
//
//	ns-obj   an object in g1/ns1, or a create there (by-id external IPs too)
//	ns-coll  a list or watch of g1/ns1
//	g1-obj   a group-scoped object of g1, a create in g1, a write to namespace ns1
//	g1-coll  a list or watch of g1 (group kinds, and wide lists of namespaced ones)
//	ns-self  reading namespace ns1;  g1-self: reading group g1
//	cl-obj   a cluster-scoped object or create;  cl-coll: a cluster-wide list or watch
type allow struct{ kinds, verbs, classes string }

var (
	tenant    = "namespace network virtualrouter blockstorage virtualmachine externalip image imageentity consolelink migration snapshot template environment reset securitygroup"
	nsTenant  = "namespace network virtualrouter blockstorage virtualmachine externalip consolelink snapshot reset securitygroup"
	everyRead = "get list watch"
	anywhere  = "ns-obj ns-coll g1-obj g1-coll ns-self g1-self cl-obj cl-coll"
)

var matrix = []struct {
	who    string
	fixed  int // the answer to every route but /healthz, when not 0
	allow  []allow
	hidden string  // classes where a refusal is 404, not 403
	hide   []allow // cells where a refusal is 404, not 403
	byID   int     // the answer of the by-id routes, when not 0
}{
	{who: "", fixed: http.StatusUnauthorized},
	{who: "expired", fixed: http.StatusUnauthorized},
	// Bound in a namespace: group-scoped kinds (images) are out of reach.
	// Events (cluster-wide routes) are judged as their object, the
	// fixture VM in g1/ns1: readable wherever the VM is.
	{who: "viewer", allow: []allow{{"group " + nsTenant, everyRead, "ns-obj ns-coll g1-coll cl-coll ns-self g1-self"},
		{"event", everyRead, "cl-obj cl-coll"}}},
	{who: "editor", allow: []allow{
		{nsTenant, "get list watch create update delete power console", "ns-obj"},
		{"group " + nsTenant, "list watch", "ns-coll g1-coll cl-coll"},
		{"namespace", "get", "ns-self"}, {"group", "get", "g1-self"},
		{"event", everyRead, "cl-obj cl-coll"},
	}},
	{who: "operator", allow: []allow{
		{"virtualmachine", "get list watch power console", "ns-obj ns-coll g1-coll cl-coll"},
		{"consolelink", "get list watch create delete", "ns-obj ns-coll g1-coll cl-coll"},
		// Its copy's resets: ask for one, follow it.
		{"reset", "get list watch create", "ns-obj ns-coll g1-coll cl-coll"},
		{"event", everyRead, "cl-obj cl-coll"},
	}},
	// A console link for the fixture VM: reads of it (lists and watches
	// filtered to it) and its consoles, nothing else. By id, it learns
	// nothing: every holder is hidden (404 whether the id exists or not).
	{who: "link:vm", allow: []allow{{"virtualmachine", "get list watch console", "ns-obj ns-coll g1-coll cl-coll"}}, byID: http.StatusNotFound},
	// A team's link to every VM of g1/ns1, with power.
	{who: "link:team", allow: []allow{{"virtualmachine", "get list watch console power", "ns-obj ns-coll g1-coll cl-coll"}}, byID: http.StatusNotFound},
	// Cluster-wide lists of what can be inside a group answer, filtered.
	// The fixture event is about g1's VM: hidden like the VM.
	{who: "g2admin", allow: []allow{{"group rolebinding quota event " + tenant, "list watch", "cl-coll"}},
		hidden: "ns-obj ns-coll g1-obj g1-coll ns-self g1-self", hide: []allow{{"event", "*", "cl-obj"}}},
	{who: "node:node-b", allow: []allow{
		{"node", everyRead, "cl-obj cl-coll"},
		{"virtualmachine blockstorage virtualrouter migration", "list watch", "ns-coll g1-coll cl-coll"},
		{"group namespace image externalip externalippool network imageentity snapshot securitygroup", everyRead, anywhere},
		{"network", "update status", "ns-obj"},
	},
		// What is placed on another node (node-a) is out of its sight,
		// and so are the events about it (the fixture event's VM).
		// A migration is seen by its source and target nodes only (the
		// fixture's are node-a).
		hide: []allow{{"virtualmachine blockstorage virtualrouter", "get update status", "ns-obj"},
			{"migration", "get status", "ns-obj"},
			{"event", "get create update", "cl-obj"}}},
	// A node bound to core-agent (clusterrolebinding): its node role (no
	// fixture is placed on node-c), and what the Core controllers do
	// everywhere: read, cascade-delete and set status, the leader lease;
	// the scheduler's update of what is unplaced (every fixture is placed).
	{who: "node:node-c", allow: []allow{
		{"node", everyRead + " status", "cl-obj cl-coll"},
		{"group lease externalippool rolebinding quota " + tenant, everyRead, anywhere},
		{"rolebinding quota " + tenant, "delete", anywhere},
		{"lease", "create update", "cl-obj"},
		{"group namespace", "update", anywhere},
		{"group namespace node virtualmachine blockstorage virtualrouter externalip externalippool migration securitygroup", "status", anywhere},
		{"network", "update status", "ns-obj"},
		// Migrations move VMs and disks (their node annotations).
		{"virtualmachine blockstorage", "update", anywhere},
		// Environments: stamping copies, golden snapshots, the reset queue.
		{"namespace network virtualrouter externalip blockstorage virtualmachine snapshot reset environment", "create update", anywhere},
		{"environment reset snapshot", "status", anywhere},
		{"event", "get create update", "cl-obj"},
	}},
	// A scrape token (bound to metrics cluster-wide): GET /metrics only.
	{who: "scraper", allow: []allow{{"metrics", "get", "cl-obj"}}},
	{who: "admin", allow: []allow{{"*", "*", anywhere}}},
}

func (a allow) covers(kind, verb, class string) bool {
	in := func(list, v string) bool { return list == "*" || slices.Contains(strings.Fields(list), v) }
	return in(a.kinds, kind) && in(a.verbs, verb) && in(a.classes, class)
}

// cell is one request of the matrix.
type cell struct {
	rt     apiserver.Route
	verb   string
	class  string
	method string
	path   string
	body   string
	kind   string // the rule's kind for routes of no api kind (join tokens)
	authn  bool   // a route for every authenticated caller (whoami, kinds)
}

func TestAuthorizationMatrix(t *testing.T) {
	e := newRBACEnv(t)
	e.token("expired", "2020-01-01T00:00:00Z")
	for _, who := range []string{"viewer", "editor", "operator", "g2admin", "scraper"} {
		e.token(who, "")
	}
	e.bind("viewer", auth.RoleViewer, "g1", "ns1")
	e.bind("editor", auth.RoleEditor, "g1", "ns1")
	e.bind("operator", auth.RoleOperator, "g1", "ns1")
	e.bind("g2admin", auth.RoleGroupAdmin, "g2", "")
	e.bind("scraper", auth.RoleMetrics, "", "")
	e.bindNode("node-c", auth.RoleCoreAgent)
	fx := fixtures(t)
	e.restore(fx)
	e.consoleLink("link:vm", api.ConsoleLinkSpec{VirtualMachineID: fx[api.VirtualMachineKind].id})
	e.consoleLink("link:team", api.ConsoleLinkSpec{AllVirtualMachines: true, Power: true})
	_, jt, err := pki.CreateJoinToken(context.Background(), e.store, pki.TokenOptions{TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cells := matrixCells(t, e.api.Routes(), fx, jt.ID)
	adminCode := map[string]int{}
	fresh := 0
	for _, row := range matrix {
		for _, c := range cells {
			e.restore(fx)
			fresh++
			body := strings.ReplaceAll(c.body, "@fresh@", fmt.Sprintf("c%d", fresh))
			got, msg := e.call(row.who, c.method, c.path, body)
			want := expected(row.who, row.fixed, row.allow, row.hidden, c)
			if want == http.StatusForbidden && c.rt.Kind != nil &&
				slices.ContainsFunc(row.hide, func(a allow) bool { return a.covers(c.rt.Kind.Name, c.verb, c.class) }) {
				want = http.StatusNotFound
			}
			if row.byID != 0 && c.rt.ByID {
				want = row.byID
			}
			name := fmt.Sprintf("%s %s %s", whoName(row.who), c.method, c.path)
			console := c.verb == auth.VerbConsole
			// Making a join token needs TLS, off here: an allowed call
			// gets the handler's 503, like the consoles without an agent
			// and a node's metrics (no agent either); join tokens cannot
			// be watched (400). The apiserver's own /metrics answers 200.
			viaHandler := console || (c.kind != "" && c.path != "/metrics")
			switch {
			case row.who == "admin" && console:
				adminCode[c.path] = got
				if got != http.StatusBadRequest && got != http.StatusServiceUnavailable {
					t.Errorf("%s: %d, want the console handler's 400 or 503: %s", name, got, msg)
				}
			case want == 0 || want == 200 && viaHandler:
				// Allowed consoles reach the handler: no agent here, so the
				// answer is cluster-admin's (checked in its row, run last).
				if got == 401 || got == 403 || got == 404 {
					t.Errorf("%s: %d, want the handler's answer: %s", name, got, msg)
				}
			case want == 200:
				if got < 200 || got > 299 {
					t.Errorf("%s (%s %s): %d, want 2xx: %s", name, c.verb, c.class, got, msg)
				}
			case got != want:
				t.Errorf("%s (%s %s): %d, want %d: %s", name, c.verb, c.class, got, want, msg)
			}
		}
	}
	t.Logf("%d routes, %d cells per caller, %d callers", len(e.api.Routes()), len(cells), len(matrix))
}

func whoName(who string) string {
	if who == "" {
		return "anonymous"
	}
	return who
}

// expected is a cell's answer; 0 means the handler's own answer (anything
// but 401, 403 and 404): the public node join, which checks its own
// credential.
func expected(who string, fixed int, allows []allow, hidden string, c cell) int {
	if c.authn { // any caller with a valid credential
		if fixed != 0 {
			return fixed
		}
		return http.StatusOK
	}
	if c.rt.Kind == nil && c.kind == "" { // /healthz, the node join
		switch {
		case who == "expired":
			return http.StatusUnauthorized // a bad token is refused wherever it is sent
		case c.path == "/healthz":
			return http.StatusOK
		}
		return 0
	}
	if fixed != 0 {
		return fixed
	}
	kind := c.kind
	if c.rt.Kind != nil {
		kind = c.rt.Kind.Name
	}
	for _, a := range allows {
		if a.covers(kind, c.verb, c.class) {
			return http.StatusOK
		}
	}
	if slices.Contains(strings.Fields(hidden), c.class) {
		return http.StatusNotFound
	}
	return http.StatusForbidden
}

// matrixCells turns every route into its requests: one per route, and a
// watch besides each list. Join token routes act on the join token jt.
func matrixCells(t *testing.T, routes []apiserver.Route, fx map[*api.Kind]fixture, jt string) []cell {
	var cells []cell
	for _, rt := range routes {
		verb, public, ok := apiserver.RuleOf(rt.Template)
		if !ok {
			t.Errorf("route %s (%s) has no rule in the rule table", rt.Pattern, rt.Template)
			continue
		}
		method, tmpl, _ := strings.Cut(rt.Template, " ")
		if apiserver.RuleAuthenticated(rt.Template) {
			cells = append(cells, cell{rt: rt, method: method, path: tmpl, authn: true})
			continue
		}
		if public {
			cells = append(cells, cell{rt: rt, method: method, path: tmpl})
			continue
		}
		var c cell
		if rt.Kind == nil && strings.HasPrefix(tmpl, "/api/v0/nodes/{id}/metrics") { // a node's metrics: of no api kind
			c = cell{rt: rt, verb: verb, method: method, path: strings.Replace(tmpl, "{id}", "node-a", 1),
				class: classOf(rt, verb), kind: auth.KindMetrics}
		} else if rt.Kind == nil { // join tokens, the apiserver's metrics: cluster-wide, of no api kind
			c = cell{rt: rt, verb: verb, method: method, path: strings.Replace(tmpl, "{id}", jt, 1),
				class: classOf(rt, verb), kind: apiserver.RuleKind(rt.Template)}
			if verb == auth.VerbCreate {
				c.body = `{"ttl":"1h"}`
			}
		} else {
			f := fx[rt.Kind]
			path := strings.NewReplacer("{kind}", rt.Kind.Plural, "{group}", "g1", "{namespace}", "ns1", "{id}", f.id).Replace(tmpl)
			c = cell{rt: rt, verb: verb, method: method, path: path, class: classOf(rt, verb)}
			switch verb {
			case auth.VerbCreate:
				c.body = f.fresh
			case auth.VerbUpdate, auth.VerbStatus:
				c.body = f.body
			case auth.VerbPower:
				c.body = `{"actionState":"PowerOn"}`
			}
		}
		cells = append(cells, c)
		if verb == auth.VerbList {
			w := c
			w.verb, w.path, w.class = auth.VerbWatch, c.path+"?watch=true", classOf(rt, auth.VerbWatch)
			cells = append(cells, w)
		}
	}
	return cells
}

func classOf(rt apiserver.Route, verb string) string {
	coll := verb == auth.VerbList || verb == auth.VerbWatch
	byIDCreate := rt.Kind != nil && rt.Template == "POST /api/v0/{kind}" && rt.Kind.Scope == api.ScopeNamespace
	switch {
	case strings.Contains(rt.Template, "{namespace}") || rt.ByID || byIDCreate:
		if coll {
			return "ns-coll"
		}
		return "ns-obj"
	case strings.Contains(rt.Template, "{group}"):
		if coll {
			return "g1-coll"
		}
		if rt.Kind == api.NamespaceKind && verb == auth.VerbGet {
			return "ns-self"
		}
		return "g1-obj"
	case coll:
		return "cl-coll"
	case rt.Kind == api.GroupKind && verb == auth.VerbGet:
		return "g1-self"
	}
	return "cl-obj"
}

// freshID is the id of an object a cell created (@fresh@).
var freshID = regexp.MustCompile(`^c[0-9]+$`)

// restore puts back every fixture a cell deleted, and removes the resets
// cells made: an unfinished reset in ns1 holds the next one back (429).
func (e *rbacEnv) restore(fx map[*api.Kind]fixture) {
	e.t.Helper()
	kvs, _, err := e.store.List(context.Background(), "/"+api.ResetKind.Plural+"/")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, kv := range kvs {
		if kv.Key != fx[api.ResetKind].key {
			if _, err := e.store.Delete(context.Background(), kv.Key, 0); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	// The addresses the cells' fresh VMs and routers (c<N>) hold go back:
	// the fixtures' addresses are what the next cell names again.
	kvs, _, err = e.store.List(context.Background(), "/ipam/")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, kv := range kvs {
		var h struct{ ID string }
		if json.Unmarshal(kv.Value, &h) == nil && freshID.MatchString(h.ID) {
			if _, err := e.store.Delete(context.Background(), kv.Key, 0); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	for _, f := range fx {
		if _, err := e.store.Get(context.Background(), f.key); errors.Is(err, api.ErrNotFound) {
			e.put(f.key, f.obj)
		} else if err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestEveryRouteHasARule(t *testing.T) {
	e := newRBACEnv(t)
	used := map[string]bool{}
	// The matrix takes a public route's answer from its handler: a route
	// made public by mistake would pass it, so the public ones are named.
	public := []string{"GET /healthz", "GET /ui/", "GET /ui/config.json", "GET /ui/oidc/login", "GET /ui/oidc/callback", "POST /api/v0/nodes/{id}/join", "GET /api/v0/jointokens/{id}/cluster-info"}
	for _, rt := range e.api.Routes() {
		_, pub, ok := apiserver.RuleOf(rt.Template)
		if !ok {
			t.Errorf("route %s (template %s) has no rule", rt.Pattern, rt.Template)
		}
		if pub != slices.Contains(public, rt.Template) {
			t.Errorf("route %s: public %v, want %v", rt.Template, pub, !pub)
		}
		used[rt.Template] = true
	}
	for _, tmpl := range apiserver.RuleTemplates() {
		if !used[tmpl] {
			t.Errorf("rule %s matches no route: remove it", tmpl)
		}
	}
}
