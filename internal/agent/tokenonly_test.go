package agent

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/testenv/apiservertest"
)

// TestRunTokenOnly: the seed's config.yaml, pointed at this machine, plus
// one line (joinToken) and no CA key, against an API server with TLS and
// RBAC on: the agent learns the CA from the token's cluster info, joins,
// registers its node over HTTPS as that node, advertises its node
// listener (cross-node images and consoles, with no secret), which
// presents the node certificate of the cluster CA.
func TestRunTokenOnly(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sv, err := pki.NewServing(ca, t.TempDir(), []string{"127.0.0.1"}, time.Now(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.New(st, apiserver.Options{Log: quiet, Heartbeat: time.Second, Authorization: apiserver.AuthorizationRBAC,
		TLS: &apiserver.TLSOptions{CA: ca}})
	srv := httptest.NewUnstartedServer(s.Handler())
	cert, _ := sv.GetCertificate(nil)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at the end
	srv.StartTLS()
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); s.Close(); st.Close() })
	tok, _, err := pki.CreateJoinToken(context.Background(), st, pki.TokenOptions{TTL: time.Hour, MaxUses: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	_, apiPort, _ := net.SplitHostPort(srv.Listener.Addr().String())
	listenPort := apiservertest.FreePort(t)
	dir := t.TempDir()
	seed, err := os.ReadFile("testdata/seed-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer(
		"apiServerAddress: localhost", "apiServerAddress: 127.0.0.1",
		"apiServerPort: 8080", "apiServerPort: "+apiPort,
		"agentMode: All", "agentMode: System", // All would need a core-agent binding
		"192.168.10.1", "127.0.0.1", "listenAddress: 0.0.0.0", "listenAddress: 127.0.0.1",
		"listenPort: 8082", "listenPort: "+strconv.Itoa(listenPort),
		"./blockstorages", filepath.Join(dir, "bs"), "./images", filepath.Join(dir, "img"),
	).Replace(string(seed))
	// Where this test keeps its files, then the one line the issue is about.
	yaml += "nodeName: node-t\nheartbeatSeconds: 1\npkiDirPath: " + filepath.Join(dir, "pki") + "\n"
	yaml += "joinToken: " + tok + "\n"
	if strings.Contains(yaml, "apiServerCA") || strings.Contains(strings.ToLower(yaml), "secret") {
		t.Fatalf("the config holds more than the token:\n%s", yaml)
	}
	cfg, err := parseConfig([]byte(yaml), testHost)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- Run(ctx, cfg, quiet) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	n := waitNode(t, st, "node-t", done)
	t.Logf("joined and Ready in %v", time.Since(start))
	want := net.JoinHostPort("127.0.0.1", strconv.Itoa(listenPort))
	if n.Spec.DownloadHost != want || n.Spec.AgentMode != string(ModeSystem) {
		t.Errorf("node spec %+v, want downloadHost %s (the listener on, with no secret)", n.Spec, want)
	}
	stored, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if string(stored) != string(ca.CertPEM) {
		t.Error("the stored CA is not the cluster CA")
	}
	// Ready is written when the node registers, just before the agent
	// starts its runnables, the listener among them: it may take a moment.
	var conn *tls.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = tls.Dial("tcp", want, &tls.Config{RootCAs: ca.Pool(), InsecureSkipVerify: true}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node listener: %v", err)
		}
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	if name, ok := pki.NodeName(leaf); !ok || name != "node-t" || leaf.CheckSignatureFrom(ca.Cert) != nil {
		t.Errorf("the node listener presents %s, want node-t's certificate from the cluster CA", leaf.Subject)
	}
}

// waitNode waits until node is registered and Ready in st.
func waitNode(t *testing.T, st *bolt.Store, node string, done <-chan error) *api.Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("agent stopped: %v", err)
		default:
		}
		if kv, err := st.Get(context.Background(), "/nodes/"+node); err == nil {
			if o, err := api.Decode(kv.Value); err == nil {
				if n := o.(*api.Node); n.Status.State == api.NodeReady {
					return n
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not Ready", node)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
