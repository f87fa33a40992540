package apiserver_test

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/metrics"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/pki/pkitest"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// fakeNodeMetrics is an agent's node listener serving its metrics (one
// reconcile counted, so the relayed body can be recognized), over mutual
// TLS with cert, or over plain HTTP with the secret when cert is nil.
func fakeNodeMetrics(t *testing.T, node string, cert *tls.Certificate, ca *pki.CA, secret string) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	met := metrics.New(node, log)
	met.ReconciledOutcome("virtualmachine", time.Millisecond, "success", nil)
	srv := httptest.NewUnstartedServer(downloadapi.NodeListener(secret, nil, log, met))
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

// TestNodeMetricsProxy: GET /api/v0/nodes/{id}/metrics relays the node's
// exposition over mutual TLS with the API server's certificate (and to an
// agent that has not joined with the secret), for the roles that may read
// metrics only; the node is checked by its certificate's name, and a node
// that cannot be reached is 404, 503 or 502 as the case is.
func TestNodeMetricsProxy(t *testing.T) {
	ca, _ := pki.NewCA(time.Now())
	apiCert, err := ca.IssueAPIServerClient("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nodeAuth := testNodeAuth
	s := apiserver.New(st, apiserver.Options{
		Log: slog.New(slog.DiscardHandler), Authorization: apiserver.AuthorizationRBAC, NodeSecret: "test-secret",
		TLS:           &apiserver.TLSOptions{CA: ca, NodeClient: apiCert},
		Authenticator: auth.Chain{nodeAuth, &auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(st)}},
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		st.Close()
	})
	e := &rbacEnv{env: &env{t: t, store: st, srv: srv}, api: s, tokens: map[string]string{}}
	e.token("admin", "", auth.GroupMasters)
	for _, who := range []string{"viewer", "ops", "scraper"} {
		e.token(who, "")
	}
	e.bind("viewer", auth.RoleViewer, "", "")
	e.bind("ops", auth.RoleClusterAdmin, "", "")
	scraper := auth.IsBuiltinRole("metrics") // the scrape token's role, where it exists
	if scraper {
		e.bind("scraper", "metrics", "", "")
	}
	nodes := map[string]string{
		"worker1": fakeNodeMetrics(t, "worker1", pkitest.NodeCert(t, ca, "worker1"), ca, ""),
		"worker2": fakeNodeMetrics(t, "worker9", pkitest.NodeCert(t, ca, "worker9"), ca, ""), // an impostor
		"worker3": "",                                                                        // listener off
		"worker4": fakeNodeMetrics(t, "worker4", nil, nil, "test-secret"),                    // not joined
	}
	for id, host := range nodes {
		code, body := e.call("admin", "POST", "/api/v0/nodes",
			`{"meta":{"apiType":"systemv0/node","id":"`+id+`"},"spec":{"address":"127.0.0.1","downloadHost":"`+host+`"}}`)
		if code != http.StatusCreated {
			t.Fatalf("create node %s: %d %s", id, code, body)
		}
	}
	series := func(node string) string {
		return `humstack_agent_reconcile_total{controller="virtualmachine",node="` + node + `",result="success"} 1`
	}
	for _, c := range []struct {
		who, node string
		code      int
		has       string
	}{
		{"admin", "worker1", 200, series("worker1")},
		{"ops", "worker1", 200, series("worker1")},
		{"admin", "worker4", 200, series("worker4")},
		{"viewer", "worker1", 403, ""},
		{"node:worker1", "worker1", 403, ""}, // not even its own: the node role has no metrics
		{"", "worker1", 401, ""},
		{"admin", "worker2", 502, ""}, // worker9's certificate on worker2's downloadHost
		{"admin", "worker3", 503, "no downloadHost"},
		{"admin", "nosuch", 404, "not registered"},
		{"scraper", "worker1", map[bool]int{true: 200, false: 403}[scraper], map[bool]string{true: series("worker1")}[scraper]},
	} {
		code, body := e.call(c.who, "GET", "/api/v0/nodes/"+c.node+"/metrics", "")
		if code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("%s GET %s's metrics: %d, want %d with %q: %.400s", whoName(c.who), c.node, code, c.code, c.has, body)
		}
	}
}
