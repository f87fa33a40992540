package apiserver

import (
	"net/http"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// ruleTable is the one table mapping every route to what it asks of the
// authorizer: the verb (auth.Verb*), or public for the routes anyone may
// call. Routes are written as templates: {kind} stands for each kind's
// plural; {group}, {namespace} and {id} are the path values the scope and
// object are read from. A GET of a collection with ?watch=true is a watch.
// Every route the server registers must have an entry (TestEveryRouteHasARule);
// a route without one answers 500 to everyone, never serves unchecked.
var ruleTable = map[string]routeRule{
	"GET /healthz": {public: true},

	// The web console (internal/ui): static files holding no data; what
	// it shows it reads from this API with the user's own token. (A GET
	// of the server's root, which is no route, redirects there: noroute.go.)
	"GET /ui/": {public: true},
	// Its OIDC sign-in (uilogin.go): whether there is one, the redirect to
	// the issuer and the way back; the ID token is the issuer's to give.
	"GET /ui/config.json":   {public: true},
	"GET /ui/oidc/login":    {public: true},
	"GET /ui/oidc/callback": {public: true},

	// Who the caller is and what it may do where, and the kinds
	// (whoami.go): for every authenticated caller, console links included.
	"GET /api/v0/whoami": {authenticated: true},
	"GET /api/v0/kinds":  {authenticated: true},

	// Collections: lists (and watches), creates. /api/v0/{kind} is also the
	// cluster-wide list of a group or namespaced kind (a "wide list").
	"GET /api/v0/{kind}":                                        {verb: auth.VerbList},
	"GET /api/v0/groups/{group}/{kind}":                         {verb: auth.VerbList},
	"GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}":  {verb: auth.VerbList},
	"POST /api/v0/{kind}":                                       {verb: auth.VerbCreate},
	"POST /api/v0/groups/{group}/{kind}":                        {verb: auth.VerbCreate},
	"POST /api/v0/groups/{group}/namespaces/{namespace}/{kind}": {verb: auth.VerbCreate},

	// Objects, at each scope; /api/v0/externalips/{id} (by id) is checked
	// after the id is resolved to its namespace.
	"GET /api/v0/{kind}/{id}":                                              {verb: auth.VerbGet},
	"PUT /api/v0/{kind}/{id}":                                              {verb: auth.VerbUpdate},
	"DELETE /api/v0/{kind}/{id}":                                           {verb: auth.VerbDelete},
	"PUT /api/v0/{kind}/{id}/status":                                       {verb: auth.VerbStatus},
	"GET /api/v0/groups/{group}/{kind}/{id}":                               {verb: auth.VerbGet},
	"PUT /api/v0/groups/{group}/{kind}/{id}":                               {verb: auth.VerbUpdate},
	"DELETE /api/v0/groups/{group}/{kind}/{id}":                            {verb: auth.VerbDelete},
	"PUT /api/v0/groups/{group}/{kind}/{id}/status":                        {verb: auth.VerbStatus},
	"GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}":        {verb: auth.VerbGet},
	"PUT /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}":        {verb: auth.VerbUpdate},
	"DELETE /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}":     {verb: auth.VerbDelete},
	"PUT /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/status": {verb: auth.VerbStatus},

	// Image entities: the disks that are overlays of one (entityusers.go),
	// for the agent that holds it (status rights), as names only.
	"GET /api/v0/groups/{group}/{kind}/{id}/users": {verb: auth.VerbStatus},
	// Snapshots likewise: the disks restored from one and the image
	// entities being made from it, for the node that holds it.
	"GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/users": {verb: auth.VerbStatus},

	// Virtual machines: power (actionState only) and the consoles.
	"PUT /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/power":      {verb: auth.VerbPower},
	"GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/ws":         {verb: auth.VerbConsole},
	"GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/serial":     {verb: auth.VerbConsole},
	"GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/serial/log": {verb: auth.VerbConsole},

	// Node join (join.go, jointokens.go): making, listing and revoking
	// join tokens is cluster-admin's; the join itself carries its own
	// credential (a join token, or the node's certificate to renew),
	// checked by the handler. A join token's cluster info is public too:
	// the CA, MAC'd with the token's hash, so that an agent holding only
	// the token can check the server before sending it (clusterinfo.go).
	"POST /api/v0/jointokens":                  {verb: auth.VerbCreate, kind: "jointoken"},
	"GET /api/v0/jointokens":                   {verb: auth.VerbList, kind: "jointoken"},
	"DELETE /api/v0/jointokens/{id}":           {verb: auth.VerbDelete, kind: "jointoken"},
	"POST /api/v0/nodes/{id}/join":             {public: true},
	"GET /api/v0/jointokens/{id}/cluster-info": {public: true},

	// Prometheus metrics (metrics.go): the built-in role metrics, or
	// cluster-admin; only with metrics on (--metrics).
	"GET /metrics": {verb: auth.VerbGet, kind: auth.KindMetrics},

	// A node's metrics, relayed from its agent (nodemetrics.go): of no api
	// kind, so only roles naming the kind metrics (the metrics role of
	// scrape tokens, cluster-admin) reach them; a node's own role does not.
	"GET /api/v0/nodes/{id}/metrics": {verb: auth.VerbGet, kind: auth.KindMetrics},
}

// routeRule is what a route asks of the authorizer.
type routeRule struct {
	verb   string
	public bool
	// authenticated routes need a caller (anonymous is 401 with rbac)
	// and no authorization: they answer about the caller itself.
	authenticated bool
	kind          string // for routes of no api kind (join tokens, metrics)
}

// Route is one registered route: the mux pattern, the template it was made
// from (the rule table's key) and the kind it serves (nil for /healthz).
type Route struct {
	Pattern  string // "GET /api/v0/groups/{group}/namespaces/{namespace}/virtualmachines/{id}"
	Template string // "GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}"
	Kind     *api.Kind
	ByID     bool // resolved by id across namespaces (byid.go)
}

// Routes lists every route the server serves, for the authorization tests.
func (s *Server) Routes() []Route { return append([]Route(nil), s.table...) }

// RuleOf returns the verb the rule table gives a route template, whether
// the route is public, and whether the table has the template at all.
func RuleOf(template string) (verb string, public, ok bool) {
	r, ok := ruleTable[template]
	return r.verb, r.public, ok
}

// handle registers fn for a route template of kind k (nil: no kind),
// behind the authorization its rule table entry asks for. byID routes get
// fn unwrapped: they authorize after resolving the id (byid.go).
func (s *Server) handle(k *api.Kind, tmpl string, fn http.HandlerFunc) {
	pattern := tmpl
	if k != nil {
		pattern = strings.Replace(tmpl, "{kind}", k.Plural, 1)
	}
	s.table = append(s.table, Route{Pattern: pattern, Template: tmpl, Kind: k})
	s.mux.HandleFunc(pattern, s.authorized(k, tmpl, fn))
}

// subresource is the tail of a template after {id}/ ("status", "serial/log").
func subresource(tmpl string) string {
	_, tail, _ := strings.Cut(tmpl, "{id}/")
	return tail
}

// RuleAuthenticated reports whether the rule table lets any
// authenticated caller use a route template, without authorization.
func RuleAuthenticated(template string) bool { return ruleTable[template].authenticated }

// RuleKind returns the kind the rule table names for a route template of
// no api kind (jointoken, metrics), or "".
func RuleKind(template string) string { return ruleTable[template].kind }

// RuleTemplates lists the rule table's templates, for the tests.
func RuleTemplates() []string {
	out := make([]string, 0, len(ruleTable))
	for t := range ruleTable {
		out = append(out, t)
	}
	return out
}
