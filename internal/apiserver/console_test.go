package apiserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/console/consoletest"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage/bolt"
)

const nodeSecret = "cluster-secret-cluster-secret"

var vmScope = client.Scope{Group: "g1", Namespace: "ns1"}

// consoleEnv is an API server with the node secret, an agent's node
// listener serving consoles, a node object pointing at it and a VM placed
// on the node whose serial port is a fake QEMU.
type consoleEnv struct {
	st     *bolt.Store
	c      *client.Client
	url    string
	agent  *consoletest.Agent
	serial *consoletest.Serial
	admin  string // the admin's bearer token, with authorization rbac
}

func newConsoleEnv(t *testing.T, apiSecret string) *consoleEnv {
	t.Helper()
	return newConsoleEnvWith(t, apiserver.Options{NodeSecret: apiSecret})
}

// newConsoleEnvWith is newConsoleEnv with the server's options.
func newConsoleEnvWith(t *testing.T, opts apiserver.Options) *consoleEnv {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	var copts []client.Option
	var admin string
	if opts.Authorization == apiserver.AuthorizationRBAC {
		// The cluster admin's token, stored as the server would.
		admin = storeToken(t, st, "admin", auth.GroupMasters)
		opts.Authenticator = &auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(st)}
		copts = append(copts, client.WithToken(admin))
	}
	s := apiserver.New(st, opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		st.Close()
	})
	c, err := client.New(srv.URL, copts...)
	if err != nil {
		t.Fatal(err)
	}
	e := &consoleEnv{st: st, c: c, url: srv.URL, agent: consoletest.StartAgent(t, nodeSecret), admin: admin}
	e.create(t, "meta: {apiType: corev0/group, id: g1}")
	e.create(t, "meta: {apiType: corev0/namespace, id: ns1, group: g1}")
	e.create(t, "meta: {apiType: systemv0/node, id: worker1}\nspec: {address: 127.0.0.1, downloadHost: '"+e.agent.Host()+"'}")
	e.create(t, "meta: {apiType: systemv0/node, id: worker2}\nspec: {address: 127.0.0.2}")
	e.create(t, vmDoc("vm1", "worker1"))
	e.serial = e.agent.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm1"}, "tiny login: ")
	return e
}

func vmDoc(id, node string) string {
	ann := ""
	if node != "" {
		ann = ", annotations: {virtualmachinev0/node_name: " + node + "}"
	}
	return "meta: {apiType: systemv0/virtualmachine, id: " + id + ", group: g1, namespace: ns1" + ann + "}\n" +
		"spec: {requestVcpus: 1000m, limitVcpus: 1000m, requestMemory: 128M, limitMemory: 128M}\n"
}

func (e *consoleEnv) create(t *testing.T, doc string) {
	t.Helper()
	obj, err := api.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Create(ctx(t), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetMeta().ID, err)
	}
}

// readUntil reads console messages until the text received holds want.
func readUntil(t *testing.T, c *websocket.Conn, want string) string {
	t.Helper()
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		_, data, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("waiting for %q, got %q: %v", want, got.String(), err)
		}
		got.Write(data)
	}
	return got.String()
}

func TestSerialConsoleThroughTheAPIServer(t *testing.T) {
	e := newConsoleEnv(t, nodeSecret)
	conn, err := e.c.DialConsole(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	readUntil(t, conn, "tiny login: ")
	if err := conn.Write(ctx(t), websocket.MessageBinary, []byte("root\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "root\n")
	if got := e.serial.Received(); got != "root\n" {
		t.Fatalf("the VM's serial port got %q", got)
	}
	// A second session shares the console and sees the history first.
	conn2, err := e.c.DialConsole(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn2, "tiny login: root\n")
	conn2.Close(websocket.StatusNormalClosure, "")

	// The log, through the API server.
	rc, err := e.c.ConsoleLog(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "tiny login: root\n" {
		t.Fatalf("log %q", b)
	}

	// The user leaving closes the agent's session; the relay stays.
	if err := conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if e.serial.Clients() != 1 {
		t.Fatalf("QEMU saw %d clients", e.serial.Clients())
	}

	// The agent ending the console (the VM is deleted) reaches the user
	// with the agent's close status.
	conn3, err := e.c.DialConsole(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn3, "root\n")
	e.agent.Manager.Stop(console.Key{Group: "g1", Namespace: "ns1", ID: "vm1"})
	_, _, err = conn3.Read(ctx(t))
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after the relay stopped: %v, want going away", err)
	}
}

func TestVNCConsoleThroughTheAPIServer(t *testing.T) {
	e := newConsoleEnv(t, nodeSecret)
	conn, err := e.c.DialVNC(ctx(t), vmScope, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != "binary" {
		t.Fatalf("subprotocol %q, want binary", conn.Subprotocol())
	}
	if got := readUntil(t, conn, "\n"); got != consoletest.RFBGreeting {
		t.Fatalf("greeting %q", got)
	}
	msg := []byte("RFB 003.008\n\x01\x00\xff")
	if err := conn.Write(ctx(t), websocket.MessageBinary, msg); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, conn, string(msg)); got != string(msg) {
		t.Fatalf("echo %q", got)
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// TestConsoleFailures: each way a console cannot be reached has its
// status and a message that says why.
func TestConsoleFailures(t *testing.T) {
	e := newConsoleEnv(t, nodeSecret)
	// Validation requires the placement; an older object may lack it.
	obj, _ := api.Decode([]byte(vmDoc("unplaced", "")))
	data, _ := api.Encode(obj)
	if _, err := e.st.Create(ctx(t), "/virtualmachines/g1/ns1/unplaced", data); err != nil {
		t.Fatal(err)
	}
	e.create(t, vmDoc("nohost", "worker2"))
	e.create(t, vmDoc("ghost", "worker9"))
	e.create(t, vmDoc("stopped", "worker1")) // on the node, but no relay there

	for _, tc := range []struct {
		id     string
		class  error // nil: 502, no class
		status string
		msg    string
	}{
		{"missing", api.ErrNotFound, "404", "virtualmachine g1/ns1/missing not found"},
		{"unplaced", api.ErrUnavailable, "503", "not placed on a node"},
		{"nohost", api.ErrUnavailable, "503", "node worker2 of virtualmachine g1/ns1/nohost has no downloadHost"},
		{"ghost", api.ErrUnavailable, "503", "node worker9, which is not registered"},
		{"stopped", api.ErrNotFound, "404", "has no console on node worker1"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			_, err := e.c.DialConsole(ctx(t), vmScope, tc.id)
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("serial: %v, want %v with %q", err, tc.class, tc.msg)
			}
			_, err = e.c.ConsoleLog(ctx(t), vmScope, tc.id)
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("log: %v, want %v with %q", err, tc.class, tc.msg)
			}
		})
	}

	// The agent is down: 502.
	e.agent.Server.Close()
	_, err := e.c.DialConsole(ctx(t), vmScope, "vm1")
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "cannot reach the agent of node worker1") {
		t.Errorf("agent down: %v", err)
	}
}

// TestConsoleSecret: the API server must hold the agents' secret; with a
// wrong one the agent refuses (401), which the user sees as 502 naming
// the flag; with none the consoles are off (503).
func TestConsoleSecret(t *testing.T) {
	wrong := newConsoleEnv(t, "not-the-cluster-secret")
	_, err := wrong.c.DialConsole(ctx(t), vmScope, "vm1")
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "refused the apiserver (HTTP 401)") ||
		!strings.Contains(err.Error(), "--node-secret-file") {
		t.Errorf("wrong secret, serial: %v", err)
	}
	_, err = wrong.c.DialVNC(ctx(t), vmScope, "vm1")
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong secret, vnc: %v", err)
	}
	_, err = wrong.c.ConsoleLog(ctx(t), vmScope, "vm1")
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong secret, log: %v", err)
	}
	if wrong.serial.Received() != "" {
		t.Error("input reached the VM without the secret")
	}

	off := newConsoleEnv(t, "")
	_, err = off.c.DialConsole(ctx(t), vmScope, "vm1")
	if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "consoles are off") {
		t.Errorf("no secret: %v", err)
	}
}

// TestConsoleNeedsAWebsocket: a plain GET of a console is a client error,
// answered without bothering the agent.
func TestConsoleNeedsAWebsocket(t *testing.T) {
	e := newConsoleEnv(t, nodeSecret)
	resp, err := http.Get(e.url + "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1/serial")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("HTTP %d, want 400", resp.StatusCode)
	}
	// Why a console cannot open comes before the missing upgrade: a
	// browser page asks this way after its websocket was refused.
	resp, err = http.Get(e.url + "/api/v0/groups/g1/namespaces/ns1/virtualmachines/nosuchvm/serial")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing VM, plain GET: HTTP %d, want 404", resp.StatusCode)
	}
}
