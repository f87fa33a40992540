package apiserver_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
)

// fakeClock is the clock console links expire by.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type linkEnv struct {
	*consoleEnv
	clock *fakeClock
	sink  *auditSink
}

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)}
	sink := &auditSink{}
	al := audit.New(sink, audit.Options{})
	t.Cleanup(func() { al.Close() })
	e := newConsoleEnvWith(t, apiserver.Options{NodeSecret: nodeSecret, Audit: al, Now: clock.Now,
		ConsoleLinkRecheck: 20 * time.Millisecond})
	e.create(t, vmDoc("vm2", "worker1"))
	e.agent.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm2"}, "vm2 login: ")
	return &linkEnv{consoleEnv: e, clock: clock, sink: sink}
}

// link creates a console link to vm valid for ttl, as the API answers it.
func (e *linkEnv) link(t *testing.T, id, vm string, ttl time.Duration) *api.ConsoleLink {
	t.Helper()
	l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
	l.Meta.ID, l.Meta.Group, l.Meta.Namespace = id, "g1", "ns1"
	l.Spec = api.ConsoleLinkSpec{VirtualMachineID: vm, ExpiresAt: e.clock.Now().Add(ttl).Format(time.RFC3339)}
	out, err := e.c.Create(ctx(t), l)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*api.ConsoleLink)
}

func (e *linkEnv) ws(path string) string { return "ws" + strings.TrimPrefix(e.url, "http") + path }

// dial opens a websocket as a browser would: no credentials but the URL.
func (e *linkEnv) dial(t *testing.T, path string) (*websocket.Conn, int, error) {
	t.Helper()
	conn, resp, err := websocket.Dial(ctx(t), e.ws(path), &websocket.DialOptions{Subprotocols: []string{"binary"}})
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	return conn, code, err
}

func (e *linkEnv) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleLinkOpensItsConsoleOnly: the link's URLs open its VM's serial
// console, VNC console and log; the same token on anything else is 403.
func TestConsoleLinkOpensItsConsoleOnly(t *testing.T) {
	e := newLinkEnv(t)
	l := e.link(t, "team1-vm1", "vm1", 2*time.Hour)
	st := l.Status
	tok := st.Token
	if tok == "" || !strings.HasSuffix(st.SerialURL, "/virtualmachines/vm1/serial?link="+tok) ||
		!strings.HasSuffix(st.VNCURL, "/vm1/ws?link="+tok) || !strings.HasSuffix(st.LogURL, "/vm1/serial/log?link="+tok) {
		t.Fatalf("create answered %+v", st)
	}
	// The token is shown once: reads do not carry it.
	again, err := e.c.Get(ctx(t), api.ConsoleLinkKind, vmScope, "team1-vm1")
	if err != nil || again.(*api.ConsoleLink).Status != (api.ConsoleLinkStatus{}) {
		t.Fatalf("get: %+v %v", again, err)
	}
	raw, _ := e.st.Get(ctx(t), "/consolelinks/g1/ns1/team1-vm1")
	if strings.Contains(string(raw.Value), tok[strings.LastIndex(tok, ".")+1:]) {
		t.Fatal("the token's MAC is stored")
	}

	conn, code, err := e.dial(t, st.SerialURL)
	if err != nil {
		t.Fatalf("serial: HTTP %d %v", code, err)
	}
	readUntil(t, conn, "tiny login: ")
	if err := conn.Write(ctx(t), websocket.MessageBinary, []byte("team1\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "team1\n")
	conn.Close(websocket.StatusNormalClosure, "")
	vnc, code, err := e.dial(t, st.VNCURL)
	if err != nil {
		t.Fatalf("vnc: HTTP %d %v", code, err)
	}
	readUntil(t, vnc, "RFB")
	vnc.Close(websocket.StatusNormalClosure, "")
	if code, body := e.get(t, st.LogURL); code != 200 || body != "tiny login: team1\n" {
		t.Fatalf("log: %d %q", code, body)
	}

	q := "?link=" + tok
	for _, p := range []string{
		vmPath + "/vm2/serial", vmPath + "/vm2/ws", vmPath + "/vm2/serial/log", // another VM's consoles
		vmPath + "/vm2", "/api/v0/nodes", "/api/v0/groups/g1", "/api/v0/events", // REST
		"/api/v0/groups/g1/namespaces/ns1/consolelinks/team1-vm1",
		vmPath + "/vm1%2Fserial", // decodes like vm1/serial, but routes to the VM object (id "vm1/serial")
	} {
		if code, body := e.get(t, p+q); code != http.StatusForbidden || !strings.Contains(body, "may reach only virtualmachine g1/ns1/vm1 (get, list, watch, console)") {
			t.Errorf("GET %s: %d %s, want 403", p, code, body)
		}
	}
	// Its VM may be read; lists at every width show it alone.
	if code, body := e.get(t, vmPath+"/vm1"+q); code != 200 || !strings.Contains(body, `"id":"vm1"`) {
		t.Errorf("GET its VM: %d %s", code, body)
	}
	for _, p := range []string{vmPath, "/api/v0/groups/g1/virtualmachines", "/api/v0/virtualmachines"} {
		if code, body := e.get(t, p+q); code != 200 || !strings.Contains(body, `"id":"vm1"`) || strings.Contains(body, `"id":"vm2"`) {
			t.Errorf("GET %s: %d %s, want vm1 only", p, code, body)
		}
	}
	// Paths that are no route answer as they do to anyone (404, 405),
	// before any handler; the health check is public.
	for p, want := range map[string]int{
		vmPath + "/vm1/serial/": http.StatusNotFound, vmPath + "/vm1/status": http.StatusMethodNotAllowed,
		"/api/v0/groups/g1%2Fnamespaces%2Fns1%2Fvirtualmachines%2Fvm1/serial": http.StatusNotFound,
		"/healthz": http.StatusOK,
	} {
		if code, body := e.get(t, p+q); code != want {
			t.Errorf("GET %s: %d %s, want %d", p, code, body, want)
		}
	}
	if _, code, _ := e.dial(t, vmPath+"/vm2/serial"+q); code != http.StatusForbidden {
		t.Errorf("vm2's serial websocket: HTTP %d, want 403", code)
	}
	if e.send(t, "PUT", vmPath+"/vm1/power"+q, "x", `{"actionState":"PowerOff"}`) != http.StatusForbidden {
		t.Error("a link without power powered its VM off")
	}
	if e.send(t, "DELETE", "/api/v0/groups/g1/namespaces/ns1/consolelinks/team1-vm1"+q, "x", "") != http.StatusForbidden ||
		e.send(t, "PUT", vmPath+"/vm1"+q, "x", vmDoc("vm1", "worker1")) != http.StatusForbidden ||
		e.send(t, "POST", vmPath+q, "x", vmDoc("vm3", "worker1")) != http.StatusForbidden {
		t.Error("writes with a link were not refused")
	}
	if e.serial.Received() != "team1\n" {
		t.Errorf("the VM got %q", e.serial.Received())
	}
}

// TestConsoleLinkEnds: a link stops opening its console at expiry and
// after revocation (an open session is closed then too); a tampered token
// is 401.
func TestConsoleLinkEnds(t *testing.T) {
	e := newLinkEnv(t)
	l := e.link(t, "l1", "vm1", 2*time.Hour)
	tok := l.Status.Token
	mac := tok[strings.LastIndex(tok, ".")+1:]
	flipped := []byte(mac)
	flipped[0] ^= 'A' ^ 'B'
	if flipped[0] == mac[0] {
		flipped[0] = 'C'
	}
	for name, bad := range map[string]string{
		"mac":         strings.TrimSuffix(tok, mac) + string(flipped),
		"other link":  strings.Replace(tok, ".l1.", ".l2.", 1),
		"other scope": strings.Replace(tok, "g1.ns1.", "g1.ns2.", 1),
		"truncated":   tok[:len(tok)-1],
	} {
		code, body := e.get(t, vmPath+"/vm1/serial/log?link="+bad)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, code, body)
		}
	}

	conn, _, err := e.dial(t, l.Status.SerialURL)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "tiny login: ")
	e.clock.Add(2*time.Hour - time.Second)
	if code, _ := e.get(t, l.Status.LogURL); code != 200 {
		t.Fatalf("a second before expiry: %d", code)
	}
	e.clock.Add(time.Second)
	code, body := e.get(t, l.Status.LogURL)
	if code != http.StatusUnauthorized || !strings.Contains(body, "console link expired") {
		t.Fatalf("expired: %d %s", code, body)
	}
	if _, code, _ := e.dial(t, l.Status.SerialURL); code != http.StatusUnauthorized {
		t.Fatalf("expired, websocket: %d", code)
	}
	// The open session is closed, saying why.
	if err := readToClose(t, conn); websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "console link expired") {
		t.Fatalf("open session at expiry: %v", err)
	}

	// Revocation: deleting the link.
	l2 := e.link(t, "l2", "vm1", time.Hour)
	conn2, _, err := e.dial(t, l2.Status.SerialURL)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn2, "tiny login: ")
	if _, err := e.c.Delete(ctx(t), api.ConsoleLinkKind, vmScope, "l2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, body := e.get(t, l2.Status.LogURL); code != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Fatalf("revoked: %d %s", code, body)
	}
	if err := readToClose(t, conn2); websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("open session at revocation: %v", err)
	}
	// Made again under the same id: the old token stays dead.
	e.link(t, "l2", "vm1", time.Hour)
	if code, _ := e.get(t, l2.Status.LogURL); code != http.StatusUnauthorized {
		t.Fatalf("old token of a remade link: %d", code)
	}
	// A link cannot be changed (its token signs it).
	l3 := e.link(t, "l3", "vm1", time.Hour)
	l3.Spec.ExpiresAt = e.clock.Now().Add(1000 * time.Hour).Format(time.RFC3339)
	l3.Status = api.ConsoleLinkStatus{}
	if _, err := e.c.Update(ctx(t), l3); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("extending a link: %v", err)
	}
}

func readToClose(t *testing.T, c *websocket.Conn) error {
	t.Helper()
	for {
		if _, _, err := c.Read(ctx(t)); err != nil {
			return err
		}
	}
}

// TestConsoleLinkAudit: making, using, refusing and revoking a link are in
// the audit log, with the link as the identity of its uses.
func TestConsoleLinkAudit(t *testing.T) {
	e := newLinkEnv(t)
	from := len(e.sink.events(t))
	l := e.link(t, "l1", "vm1", time.Hour)
	if code, _ := e.get(t, l.Status.LogURL); code != 200 {
		t.Fatal(code)
	}
	e.get(t, vmPath+"/vm2/serial/log?link="+l.Status.Token)
	if _, err := e.c.Delete(ctx(t), api.ConsoleLinkKind, vmScope, "l1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.get(t, l.Status.LogURL)
	evs := e.sink.since(t, from, 6)
	link := audit.Identity{Name: "consolelink:g1/ns1/l1", Kind: "consolelink", Via: "consolelink"}
	for i, want := range []struct {
		event, verb, id, sub string
		who                  audit.Identity
		code                 int
	}{
		{audit.EventRequest, "create", "l1", "", evs[0].Identity, 201},
		{audit.EventConsoleStart, "console", "vm1", "serial/log", link, 200},
		{audit.EventConsoleEnd, "console", "vm1", "serial/log", link, 200},
		{audit.EventRequest, "console", "vm2", "serial/log", link, 403},
		{audit.EventRequest, "delete", "l1", "", evs[0].Identity, 200},
		{audit.EventRequest, "console", "vm1", "serial/log", audit.Identity{Name: "system:anonymous", Kind: "anonymous", Via: "none"}, 401},
	} {
		ev := evs[i]
		if ev.Event != want.event || ev.Verb != want.verb || ev.Object.ID != want.id || ev.Object.Subresource != want.sub ||
			ev.Identity != want.who || ev.Code != want.code {
			t.Errorf("line %d: %+v, want %+v", i, ev, want)
		}
		if strings.Contains(ev.Path, l.Status.Token) {
			t.Errorf("line %d holds the token", i)
		}
	}
	if evs[0].Object.APIType != "corev0/consolelink" || !strings.Contains(evs[5].Reason, "revoked") || !strings.Contains(evs[3].Reason, "may reach only") {
		t.Errorf("lines %+v", evs)
	}
}
