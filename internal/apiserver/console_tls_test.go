package apiserver_test

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/pki/pkitest"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/console/consoletest"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// TestConsoleOverMutualTLS: with TLS on, the
// API server reaches a joined node's console with its API server
// certificate, and refuses a listener that is not the VM's node; an agent
// that has not joined is still reached with the secret.
func TestConsoleOverMutualTLS(t *testing.T) {
	ca, _ := pki.NewCA(time.Now())
	apiCert, err := ca.IssueAPIServerClient("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: slog.New(slog.DiscardHandler),
		TLS: &apiserver.TLSOptions{CA: ca, NodeClient: apiCert}, NodeSecret: nodeSecret}).Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	})
	c, _ := client.New(srv.URL)
	e := &consoleEnv{st: st, c: c, url: srv.URL, agent: consoletest.StartAgentTLS(t, pkitest.NodeCert(t, ca, "worker1"), ca.Pool())}
	impostor := consoletest.StartAgentTLS(t, pkitest.NodeCert(t, ca, "worker9"), ca.Pool())
	unjoined := consoletest.StartAgent(t, nodeSecret) // plain HTTP and the secret only
	e.create(t, "meta: {apiType: corev0/group, id: g1}")
	e.create(t, "meta: {apiType: corev0/namespace, id: ns1, group: g1}")
	e.create(t, "meta: {apiType: systemv0/node, id: worker1}\nspec: {address: 127.0.0.1, downloadHost: '"+e.agent.Host()+"'}")
	e.create(t, "meta: {apiType: systemv0/node, id: worker2}\nspec: {address: 127.0.0.2, downloadHost: '"+impostor.Host()+"'}")
	e.create(t, vmDoc("vm1", "worker1"))
	e.create(t, "meta: {apiType: systemv0/node, id: worker3}\nspec: {address: 127.0.0.3, downloadHost: '"+unjoined.Host()+"'}")
	e.create(t, vmDoc("vm2", "worker2"))
	e.create(t, vmDoc("vm3", "worker3"))
	e.agent.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm1"}, "tiny login: ")
	impostor.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm2"}, "fake login: ")
	unjoined.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm3"}, "old login: ")

	conn, err := e.c.DialConsole(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatalf("console over mutual TLS: %v", err)
	}
	readUntil(t, conn, "tiny login: ")
	conn.CloseNow()
	if _, err := e.c.DialConsole(ctx(t), vmScope, "vm2"); err == nil || errors.Is(err, api.ErrNotFound) {
		t.Fatalf("worker2's downloadHost answered with worker9's certificate: err = %v, want a refusal", err)
	}
	// An agent that has not joined: plain HTTP with the secret, after TLS.
	old, err := e.c.DialConsole(ctx(t), vmScope, "vm3")
	if err != nil {
		t.Fatalf("console of an agent that has not joined: %v", err)
	}
	readUntil(t, old, "old login: ")
	old.CloseNow()
	rc, err := e.c.ConsoleLog(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatalf("log over mutual TLS: %v", err)
	}
	rc.Close()
}
