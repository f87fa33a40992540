package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/console/consoletest"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/metrics"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/pki/pkitest"
)

// The node listener's authorization matrix: every route the agent serves
// on its node listener (nodeListener, as setupSystem builds it) x every
// kind of caller, each presenting what it really would (TLS client
// certificates of a test cluster CA, bearer headers, nothing), against a
// listener with and without the deprecated secret. The expected answer of
// each cell comes from the one rule table (downloadapi/rules.go), so a new
// route without a row fails here and in TestEveryNodeRouteHasARule.

// nodeCaller is one caller of the matrix.
type nodeCaller struct {
	name   string
	tls    bool             // over TLS (else plain HTTP on the same port)
	cert   *tls.Certificate // its client certificate (TLS), nil: none
	bearer string           // its Authorization: Bearer, "" none; "@secret@": the listener's
	// proves is what the listener may take it for, once through the
	// handshake; refused means the handshake refuses its certificate.
	proves  []downloadapi.Caller
	refused bool
}

const matrixSecret = "s3cret-s3cret-s3cret"

func nodeCallers(t *testing.T, ca, other *pki.CA) []nodeCaller {
	apiCert, err := ca.IssueAPIServerClient("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherAPI, err := other.IssueAPIServerClient("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A user's token, as the API server issues them: users never talk to
	// nodes, so it proves nothing here.
	user := "hst_alice-laptop.9ZpQ2pVtq1m3yC2Q0f5aK8Y0Yc7nq1r5cXo3Gk0mZQs"
	return []nodeCaller{
		{name: "anonymous"},
		{name: "anonymous over TLS", tls: true},
		{name: "user token", bearer: user},
		{name: "user token over TLS", tls: true, bearer: user},
		{name: "wrong secret", bearer: "guess-guess-guess-guess"},
		{name: "secret", bearer: "@secret@", proves: []downloadapi.Caller{downloadapi.CallerSecret}},
		{name: "apiserver", tls: true, cert: apiCert, proves: []downloadapi.Caller{downloadapi.CallerAPIServer}},
		{name: "node-b", tls: true, cert: pkitest.NodeCert(t, ca, "node-b"), proves: []downloadapi.Caller{downloadapi.CallerNode}},
		{name: "node-b with a user token", tls: true, cert: pkitest.NodeCert(t, ca, "node-b"), bearer: user,
			proves: []downloadapi.Caller{downloadapi.CallerNode}},
		{name: "node-b of another CA", tls: true, cert: pkitest.NodeCert(t, other, "node-b"), refused: true},
		{name: "apiserver of another CA", tls: true, cert: otherAPI, refused: true},
		{name: "node-b expired", tls: true, cert: pkitest.ExpiredNodeCert(t, ca, "node-b"), refused: true},
	}
}

// matrixFiles serves dir/<group>/<namespace>/<id> as a disk and
// dir/<group>/<id> as an image entity.
type matrixFiles string

func (d matrixFiles) BlockStorageFile(g, ns, id string) string {
	return filepath.Join(string(d), "bs", g, ns, id)
}
func (d matrixFiles) ImageEntityFile(g, id string) string {
	return filepath.Join(string(d), "img", g, id)
}
func (d matrixFiles) SnapshotFile(g, ns, id, file string) string {
	return filepath.Join(string(d), "snap", g, ns, id, file)
}

// matrixNode is node-a's listener with a disk, an image entity and a VM
// (with serial and VNC consoles), all named g1/ns1/x1.
type matrixNode struct {
	addr   string
	routes []string
}

func startMatrixNode(t *testing.T, ca *pki.CA, secret string) matrixNode {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	files := matrixFiles(t.TempDir())
	for _, p := range []string{files.BlockStorageFile("g1", "ns1", "x1"), files.ImageEntityFile("g1", "x1"), files.SnapshotFile("g1", "ns1", "x1", "disk0.qcow2")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vms := &consoletest.Agent{Root: t.TempDir()}
	vms.Manager = console.NewManager(vms.Dir, quiet)
	t.Cleanup(vms.Manager.Close)
	vms.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "x1"}, "login: ")

	met := metrics.New("node-a", quiet)
	met.ReconciledOutcome("matrix", time.Millisecond, "success", nil)
	l := nodeListener(secret, files, files, vms.Manager, met, quiet)
	// node-a's listener TLS, as nodecred.ListenerTLS makes it.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*pkitest.NodeCert(t, ca, "node-a")},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- downloadapi.ServeMTLS(ctx, addr, l, cfg, quiet) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s is not listening", addr)
		}
	}
	return matrixNode{addr: addr, routes: l.Routes()}
}

// websocketRoute reports whether a route is a console websocket.
func websocketRoute(pattern string) bool {
	return strings.HasSuffix(pattern, "/serial") || strings.HasSuffix(pattern, "/vnc")
}

// call requests path as c from node-a's listener: the status (101 for an
// accepted websocket), or an error when no answer came (a refused
// handshake).
func (n matrixNode) call(t *testing.T, ca *pki.CA, c nodeCaller, secret, pattern, path string) (int, string, error) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}}
	scheme := "http"
	if c.tls {
		scheme = "https"
		hc.Transport = &http.Transport{TLSClientConfig: pki.PeerClientConfig(ca.Pool(), func() *tls.Certificate { return c.cert }, "node-a")}
	}
	defer hc.CloseIdleConnections()
	hdr := http.Header{}
	if b := strings.ReplaceAll(c.bearer, "@secret@", secret); b != "" {
		hdr.Set("Authorization", "Bearer "+b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := scheme + "://" + n.addr + path
	if websocketRoute(pattern) {
		ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr, Subprotocols: []string{console.Subprotocol}})
		if err == nil {
			ws.CloseNow()
			return http.StatusSwitchingProtocols, "", nil
		}
		if resp == nil {
			return 0, "", err
		}
		return resp.StatusCode, "", nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// want is a cell's answer by the rule table: 0 for a refused handshake.
func want(c nodeCaller, secret string, allow []downloadapi.Caller, exists bool) int {
	proves := c.proves
	if secret == "" {
		proves = slices.DeleteFunc(slices.Clone(proves), func(p downloadapi.Caller) bool { return p == downloadapi.CallerSecret })
	}
	switch {
	case c.refused:
		return 0
	case len(proves) == 0:
		return http.StatusUnauthorized
	case !slices.ContainsFunc(proves, func(p downloadapi.Caller) bool { return slices.Contains(allow, p) }):
		return http.StatusForbidden
	case !exists:
		return http.StatusNotFound
	}
	return http.StatusOK
}

func TestNodeListenerMatrix(t *testing.T) {
	ca, _ := pki.NewCA(time.Now())
	other, _ := pki.NewCA(time.Now())
	callers := nodeCallers(t, ca, other)
	cells := 0
	for _, secret := range []string{matrixSecret, ""} {
		n := startMatrixNode(t, ca, secret)
		for _, pattern := range n.routes {
			allow, ok := downloadapi.RuleOf(pattern)
			if !ok {
				t.Errorf("route %s has no rule in the node listener's table", pattern)
				continue
			}
			_, tmpl, _ := strings.Cut(pattern, " ")
			ids := []string{"x1", "missing"}
			if !strings.Contains(tmpl, "{id}") { // /metrics: one object only
				ids = ids[:1]
			}
			for _, id := range ids {
				path := strings.NewReplacer("{group}", "g1", "{namespace}", "ns1", "{id}", id, "{file}", "disk0.qcow2").Replace(tmpl)
				for _, c := range callers {
					cells++
					w := want(c, secret, allow, id == "x1")
					got, body, err := n.call(t, ca, c, secret, pattern, path)
					name := fmt.Sprintf("secret %t, %s, GET %s", secret != "", c.name, path)
					switch {
					case w == 0:
						if err == nil || !strings.Contains(err.Error(), "tls:") {
							t.Errorf("%s: %d %v, want the handshake refused", name, got, err)
						}
					case err != nil:
						t.Errorf("%s: %v, want %d", name, err, w)
					case w == http.StatusOK && websocketRoute(pattern):
						if got != http.StatusSwitchingProtocols {
							t.Errorf("%s: %d, want the websocket (101)", name, got)
						}
					case got != w:
						t.Errorf("%s: %d %q, want %d", name, got, body, w)
					case w == http.StatusOK && pattern == "GET "+metrics.Path:
						if !strings.Contains(body, `humstack_agent_reconcile_total{controller="matrix",node="node-a",result="success"} 1`) {
							t.Errorf("%s: not the agent's metrics: %.300q", name, body)
						}
					case w == http.StatusOK && !strings.HasSuffix(pattern, "/log") && body != "content":
						t.Errorf("%s: body %q", name, body)
					}
				}
			}
		}
	}
	t.Logf("%d routes x %d callers x up to 2 objects x 2 listeners: %d cells", len(downloadapi.RulePatterns()), len(callers), cells)
}

// TestEveryNodeRouteHasARule: the routes the agent serves on its node
// listener and the rows of the rule table are the same set.
func TestEveryNodeRouteHasARule(t *testing.T) {
	m := console.NewManager(func(console.Key) string { return t.TempDir() }, nil)
	defer m.Close()
	l := nodeListener("", matrixFiles(t.TempDir()), matrixFiles(t.TempDir()), m, metrics.New("node-a", nil), slog.New(slog.DiscardHandler))
	used := map[string]bool{}
	for _, r := range l.Routes() {
		if _, ok := downloadapi.RuleOf(r); !ok {
			t.Errorf("node listener route %s has no rule in downloadapi's table", r)
		}
		used[r] = true
	}
	for _, r := range downloadapi.RulePatterns() {
		if !used[r] {
			t.Errorf("rule %s matches no node listener route: remove it", r)
		}
	}
}

// TestNodeRulesLeastPrivilege states, apart from the table, what its rows
// must never allow, so a mistaken row fails even though the matrix takes
// its expectations from the table: a node certificate reaches image
// entities and snapshots only (what a node needs from another to make a
// disk from an image or restore one from a snapshot; never disks, never consoles, which a stolen node credential would
// open on every node, never metrics, which name every VM of the node), and
// the API server's certificate the consoles and the metrics only.
func TestNodeRulesLeastPrivilege(t *testing.T) {
	for _, p := range downloadapi.RulePatterns() {
		allow, _ := downloadapi.RuleOf(p)
		entity := p == "GET /v0/imageentities/{group}/{id}" || p == "GET /v0/snapshots/{group}/{namespace}/{id}/{file}"
		consoleRoute := strings.HasPrefix(p, "GET /v0/consoles/") || p == "GET "+metrics.Path
		if slices.Contains(allow, downloadapi.CallerNode) != entity {
			t.Errorf("%s: node certificates allowed %t, want %t", p, !entity, entity)
		}
		if slices.Contains(allow, downloadapi.CallerAPIServer) != consoleRoute {
			t.Errorf("%s: the apiserver certificate allowed %t, want %t", p, !consoleRoute, consoleRoute)
		}
	}
}
