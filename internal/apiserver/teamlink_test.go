package apiserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
)

// teamEnv is a console env under rbac with vm1 and vm2 in g1/ns1 (both
// with a console), vm3 in g1/ns2, and the tokens of an operator and a
// viewer of g1/ns1.
type teamEnv struct {
	*consoleEnv
	op, viewer string
}

func newTeamEnv(t *testing.T) *teamEnv { t.Helper(); return newTeamEnvWith(t, 0) }

// newTeamEnvWith is newTeamEnv checking console links every recheck
// (0: the default).
func newTeamEnvWith(t *testing.T, recheck time.Duration) *teamEnv {
	t.Helper()
	e := newConsoleEnvWith(t, apiserver.Options{NodeSecret: nodeSecret, Authorization: apiserver.AuthorizationRBAC,
		ConsoleLinkRecheck: recheck})
	e.create(t, vmDoc("vm2", "worker1"))
	e.agent.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm2"}, "vm2 login: ")
	e.create(t, "meta: {apiType: corev0/namespace, id: ns2, group: g1}")
	e.create(t, strings.Replace(vmDoc("vm3", "worker1"), "namespace: ns1", "namespace: ns2", 1))
	te := &teamEnv{consoleEnv: e, op: storeToken(t, e.st, "op"), viewer: storeToken(t, e.st, "viewer")}
	for user, role := range map[string]string{"op": auth.RoleOperator, "viewer": auth.RoleViewer} {
		e.create(t, "meta: {apiType: corev0/rolebinding, id: "+user+", group: g1}\n"+
			"spec: {role: "+role+", namespace: ns1, subjects: [{kind: user, name: "+user+"}]}")
	}
	return te
}

// call sends a request with bearer (or, when bearer is a console link
// token, ?link=) and returns the status and body.
func (e *teamEnv) call(t *testing.T, bearer, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx(t), method, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(bearer, auth.TokenPrefix) {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else if bearer != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		req.URL, _ = req.URL.Parse(path + sep + "link=" + bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

const linksPath = "/api/v0/groups/g1/namespaces/ns1/consolelinks"

// TestTeamConsoleLink: an operator makes a link to every VM of its
// namespace with power; the answer has the web console's page; the link
// reads, lists and watches those VMs only, opens each one's console,
// powers them, and may do nothing else. A viewer cannot make such a link.
func TestTeamConsoleLink(t *testing.T) {
	e := newTeamEnv(t)
	doc := `{"meta":{"id":"team1"},"spec":{"allVirtualMachines":true,"power":true,"expiresAt":"2100-01-01T00:00:00Z"}}`
	if code, body := e.call(t, e.viewer, "POST", linksPath, doc); code != http.StatusForbidden {
		t.Fatalf("viewer makes a team link: %d %s", code, body)
	}
	bad := `{"meta":{"id":"bad"},"spec":{"allVirtualMachines":true,"virtualMachineID":"vm1","expiresAt":"2100-01-01T00:00:00Z"}}`
	if code, body := e.call(t, e.op, "POST", linksPath, bad); code != 400 || !strings.Contains(body, `"field":"spec.virtualMachineID"`) {
		t.Fatalf("a team link naming a VM: %d %s", code, body)
	}
	code, body := e.call(t, e.op, "POST", linksPath, doc)
	var created struct {
		Data struct{ ConsoleLink api.ConsoleLink } `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &created); code != 201 || err != nil {
		t.Fatalf("operator makes a team link: %d %s", code, body)
	}
	st := created.Data.ConsoleLink.Status
	tok := st.Token
	if tok == "" || st.UIURL != "/ui/#/link/"+tok || st.SerialURL != "" {
		t.Fatalf("create answered %+v", st)
	}

	// Reads: its namespace's VMs, at every width, and nothing of ns2.
	for _, p := range []string{vmPath, "/api/v0/groups/g1/virtualmachines", "/api/v0/virtualmachines"} {
		code, body := e.call(t, tok, "GET", p, "")
		if code != 200 || !strings.Contains(body, `"id":"vm1"`) || !strings.Contains(body, `"id":"vm2"`) || strings.Contains(body, `"id":"vm3"`) {
			t.Errorf("list %s: %d %s, want vm1 and vm2", p, code, body)
		}
	}
	events := e.watch(t, tok, "/api/v0/virtualmachines?watch=true")
	e.create(t, strings.Replace(vmDoc("vm4", "worker1"), "namespace: ns1", "namespace: ns2", 1))
	e.create(t, vmDoc("vm5", "worker1"))
	if got := nextEvent(t, events); got != "vm5" {
		t.Errorf("first watch event: %s, want vm5 (vm4 is in ns2)", got)
	}

	// Consoles of each VM, power, and refusals.
	for vm, banner := range map[string]string{"vm1": "tiny login: ", "vm2": "vm2 login: "} {
		conn, resp, err := wsDial(t, e.url, vmPath+"/"+vm+"/serial?link="+tok, []string{"binary"}, nil)
		if err != nil {
			t.Fatalf("%s serial: %v %v", vm, resp, err)
		}
		readUntil(t, conn, banner)
		conn.Close(websocket.StatusNormalClosure, "")
	}
	if code, body := e.call(t, tok, "PUT", vmPath+"/vm2/power", `{"actionState":"PowerOff"}`); code != 200 || !strings.Contains(body, `"actionState":"PowerOff"`) {
		t.Errorf("power off vm2: %d %s", code, body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v0/groups/g1/namespaces/ns2/virtualmachines/vm3", ""},
		{"GET", "/api/v0/groups/g1/namespaces/ns2/virtualmachines", ""},
		{"GET", "/api/v0/groups/g1/namespaces/ns1/networks", ""},
		{"GET", linksPath, ""},
		{"PUT", "/api/v0/groups/g1/namespaces/ns2/virtualmachines/vm3/power", `{"actionState":"PowerOff"}`},
		{"DELETE", vmPath + "/vm1", ""},
		{"POST", vmPath, `{"meta":{"id":"vm9"}}`},
	} {
		if code, body := e.call(t, tok, c.method, c.path, c.body); code != http.StatusForbidden ||
			!strings.Contains(body, "may reach only virtualmachines of g1/ns1 (get, list, watch, console, power)") {
			t.Errorf("%s %s: %d %s, want 403", c.method, c.path, code, body)
		}
	}
	// Without spec.power, no power.
	doc = `{"meta":{"id":"team2"},"spec":{"allVirtualMachines":true,"expiresAt":"2100-01-01T00:00:00Z"}}`
	code, body = e.call(t, e.op, "POST", linksPath, doc)
	if err := json.Unmarshal([]byte(body), &created); code != 201 || err != nil {
		t.Fatalf("team link without power: %d %s", code, body)
	}
	if code, _ := e.call(t, created.Data.ConsoleLink.Status.Token, "PUT", vmPath+"/vm1/power", `{"actionState":"PowerOff"}`); code != http.StatusForbidden {
		t.Errorf("power without spec.power: %d, want 403", code)
	}
}

// nextEvent is the next object id from a watch (watch), "EOF" when the
// stream ended; the test fails after 10 s without one.
func nextEvent(t *testing.T, events <-chan string) string {
	t.Helper()
	select {
	case id, ok := <-events:
		if !ok {
			return "EOF"
		}
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event in 10 s")
		return ""
	}
}

// makeLink has the operator create a console link of spec in g1/ns1 and
// returns its token.
func (e *teamEnv) makeLink(t *testing.T, id, spec string) string {
	t.Helper()
	code, body := e.call(t, e.op, "POST", linksPath, `{"meta":{"id":"`+id+`"},"spec":`+spec+`}`)
	var created struct {
		Data struct{ ConsoleLink api.ConsoleLink } `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &created); code != 201 || err != nil {
		t.Fatalf("create link %s: %d %s", id, code, body)
	}
	return created.Data.ConsoleLink.Status.Token
}

// TestTeamLinkWatchEnds: a watch opened with a console link ends when the
// link is deleted (at the next recheck) and when it expires (at its
// expiry, before any recheck), and delivers nothing after.
func TestTeamLinkWatchEnds(t *testing.T) {
	e := newTeamEnvWith(t, 100*time.Millisecond)
	tok := e.makeLink(t, "revoked", `{"allVirtualMachines":true,"expiresAt":"2100-01-01T00:00:00Z"}`)
	events := e.watch(t, tok, "/api/v0/virtualmachines?watch=true")
	e.create(t, vmDoc("vm5", "worker1"))
	if got := nextEvent(t, events); got != "vm5" {
		t.Fatalf("first event: %s, want vm5", got)
	}
	if code, body := e.call(t, e.op, "DELETE", linksPath+"/revoked", ""); code != 200 {
		t.Fatalf("delete the link: %d %s", code, body)
	}
	time.Sleep(300 * time.Millisecond) // past a recheck
	e.create(t, vmDoc("vm6", "worker1"))
	if got := nextEvent(t, events); got != "EOF" {
		t.Errorf("after the link's delete the watch delivered %s, want the stream's end", got)
	}

	// Expiry: the recheck is an hour away, the expiry 2-3 s.
	e = newTeamEnvWith(t, time.Hour)
	exp := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	tok = e.makeLink(t, "short", `{"allVirtualMachines":true,"expiresAt":"`+exp.Format(time.RFC3339)+`"}`)
	events = e.watch(t, tok, "/api/v0/virtualmachines?watch=true")
	for time.Now().Before(exp.Add(500 * time.Millisecond)) {
		time.Sleep(100 * time.Millisecond)
	}
	e.create(t, vmDoc("vm6", "worker1"))
	if got := nextEvent(t, events); got != "EOF" {
		t.Errorf("after the link's expiry the watch delivered %s, want the stream's end", got)
	}
}

// watch opens a watch with a link token and sends the id of each event's
// object; it ends with the test.
func (e *teamEnv) watch(t *testing.T, tok, path string) <-chan string {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(c, "GET", e.url+path+"&link="+tok, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("watch %s: %v %v", path, resp, err)
	}
	return eventIDs(resp)
}
