package downloadapi

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/humstack/humstack/internal/pki"
)

// Caller is one kind of credential a request to the node listener can
// prove. Users never talk to nodes: a user's bearer token proves nothing
// here (only the API server, which checks it, reaches a node for them).
type Caller string

// The callers of the node listener.
const (
	// CallerNode is another node, by its node certificate of the cluster CA
	// (over mutual TLS, verified in the handshake).
	CallerNode Caller = "node certificate"
	// CallerAPIServer is an API server, by its client certificate of the
	// cluster CA (O=humstack:apiservers).
	CallerAPIServer Caller = "apiserver certificate"
	// CallerSecret is whoever holds blockStorageAgentConfig.downloadAPI.secret
	// (Authorization: Bearer <secret>): the deprecated way of agents that
	// have not joined, accepted only when the node has a secret.
	CallerSecret Caller = "downloadAPI secret"
	// CallerMigrationTarget is a node, by its node certificate, that is
	// the target of a migration now copying the disk it asks for, from
	// this node (Listener.SetMigrationTargets says which).
	CallerMigrationTarget Caller = "node certificate of the disk's migration target"
)

// nodeRules is the one table of the node listener: every route it serves
// and who may call it. Listener.HandleFunc wraps each route in its row, so
// the table is what is enforced; a route registered without a row answers
// 500 to everyone (TestEveryNodeRouteHasARule fails first), and the
// matrix test (TestNodeListenerMatrix) derives every cell from this table.
// A request with no credential at all is 401 on every route.
var nodeRules = map[string][]Caller{
	// Another node fetches an image entity to make a disk from the image
	// (a cached copy it checks against the entity's sha256). Any node may
	// be asked for a disk from any image, and every node reads every image
	// and entity through the API already.
	"GET " + imageEntityPattern: {CallerNode, CallerSecret},
	// Another node restores a disk or VM from a snapshot this node holds
	// (golden states are restored on every node an environment's copies
	// run on): it fetches the snapshot's files once into its cache and
	// checks them against the snapshot's sha256s. Like image entities, any
	// node may be asked to restore any snapshot, and every node reads
	// every snapshot through the API already.
	"GET " + snapshotPattern: {CallerNode, CallerSecret},
	// A disk is its VM's data: no other node needs it, and the node role
	// may not read disks placed on other nodes, except the target of the
	// disk's migration while it copies the disk; the seed's secret still
	// can.
	"GET " + blockStoragePattern: {CallerMigrationTarget, CallerSecret},
	// The consoles are relayed by the API server, which has checked the
	// user's right to open them (verb console); no node may open them.
	"GET /v0/consoles/{group}/{namespace}/{id}/serial": {CallerAPIServer, CallerSecret},
	"GET /v0/consoles/{group}/{namespace}/{id}/log":    {CallerAPIServer, CallerSecret},
	"GET /v0/consoles/{group}/{namespace}/{id}/vnc":    {CallerAPIServer, CallerSecret},
	// The node's metrics (its VMs' names, usage and counters) are relayed
	// to Prometheus by the API server, which has checked the scraper's
	// right to read them (verb get on metrics); no node may read them.
	"GET /metrics": {CallerAPIServer, CallerSecret},
}

// RuleOf returns who may call a node listener route (its pattern), and
// whether the table has the route at all.
func RuleOf(pattern string) ([]Caller, bool) {
	c, ok := nodeRules[pattern]
	return slices.Clone(c), ok
}

// RulePatterns lists the table's routes, for the tests.
func RulePatterns() []string {
	out := make([]string, 0, len(nodeRules))
	for p := range nodeRules {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Registrar is where route sets (the consoles) register their routes:
// a Listener, which puts each behind its row of the table.
type Registrar interface {
	HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request))
}

// Listener is the node listener's handler: each route behind its row of
// nodeRules. A request without any credential is 401 whatever its path; a
// caller the route's row does not name is 403.
type Listener struct {
	mux    *http.ServeMux
	secret []byte // "Bearer <secret>", nil without a secret
	log    *slog.Logger
	routes []string
	once   sync.Once // the deprecation warning of the secret
	// targets says whether node is the target of a migration copying the
	// disk group/namespace/id from this node now; nil: none is.
	targets func(node, group, namespace, id string) bool
}

// SetMigrationTargets tells the listener which nodes copy which disks
// (CallerMigrationTarget); call it before serving.
func (l *Listener) SetMigrationTargets(f func(node, group, namespace, id string) bool) { l.targets = f }

// NewListener returns an empty node listener; secret (may be empty) is the
// deprecated shared downloadAPI secret.
func NewListener(secret string, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	l := &Listener{mux: http.NewServeMux(), log: log}
	if secret != "" {
		l.secret = []byte("Bearer " + secret)
	}
	return l
}

// HandleFunc serves pattern (a key of nodeRules) with fn, for the callers
// its row names.
func (l *Listener) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	l.routes = append(l.routes, pattern)
	allow, ok := nodeRules[pattern]
	if !ok {
		l.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			l.log.Error("node listener route without a rule", "route", pattern)
			http.Error(w, "route "+pattern+" has no authorization rule", http.StatusInternalServerError)
		})
		return
	}
	l.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		callers := l.callers(r)
		if slices.Contains(allow, CallerMigrationTarget) && l.migrationTarget(r) {
			callers = append(callers, CallerMigrationTarget)
		}
		for _, c := range callers {
			if slices.Contains(allow, c) {
				if c == CallerSecret {
					l.warnSecret(r)
				}
				fn(w, r)
				return
			}
		}
		l.log.Warn("node API request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "caller", describe(r, callers))
		http.Error(w, fmt.Sprintf("%s may not call %s (allowed: %s)", describe(r, callers), pattern, join(allow)), http.StatusForbidden)
	})
}

// Routes lists the registered route patterns, for the tests.
func (l *Listener) Routes() []string { return slices.Clone(l.routes) }

// ServeHTTP implements http.Handler.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(l.callers(r)) == 0 {
		l.log.Warn("node API request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "reason", "no cluster certificate and no valid secret")
		w.Header().Set("WWW-Authenticate", `Bearer realm="humstack-download"`)
		http.Error(w, "a node or API server certificate of the cluster CA (or the download API secret) is required", http.StatusUnauthorized)
		return
	}
	l.mux.ServeHTTP(w, r)
}

// callers are the credentials r proves: its verified client certificate
// (the handshake checked it against the cluster CA; an expired one or one
// of another CA never gets here), and the secret. Either may be missing.
func (l *Listener) callers(r *http.Request) []Caller {
	var out []Caller
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		if _, ok := pki.NodeName(leaf); ok {
			out = append(out, CallerNode)
		} else if pki.IsAPIServer(leaf) {
			out = append(out, CallerAPIServer)
		}
	}
	if l.secret != nil && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), l.secret) == 1 {
		out = append(out, CallerSecret)
	}
	return out
}

// migrationTarget says whether r comes from a node copying the disk its
// path names in a migration (the path's IDs are checked by the route).
func (l *Listener) migrationTarget(r *http.Request) bool {
	if l.targets == nil || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return false
	}
	n, ok := pki.NodeName(r.TLS.VerifiedChains[0][0])
	return ok && l.targets(n, r.PathValue("group"), r.PathValue("namespace"), r.PathValue("id"))
}

func (l *Listener) warnSecret(r *http.Request) {
	l.once.Do(func() {
		l.log.Warn("node listener: a peer authenticated with the shared downloadAPI secret (deprecated: join the node and use its certificate)",
			"remote", r.RemoteAddr)
	})
}

// describe names the caller of r in messages: "node node-b".
func describe(r *http.Request, callers []Caller) string {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		if n, ok := pki.NodeName(leaf); ok {
			return "node " + n
		}
		return fmt.Sprintf("%q", leaf.Subject.CommonName)
	}
	return join(callers)
}

func join(cs []Caller) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
