package apiserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
)

// teamVM is a minimal valid VM in g/ns.
func teamVM(t testing.TB, g, ns, id string) *api.VirtualMachine {
	vm := seedFixture(t, "virtualmachine").(*api.VirtualMachine)
	vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = id, g, ns
	vm.Spec.NICs[0].IPv4Address = addrFor(g + "/" + ns + "/" + id)
	return vm
}

// The operator story of issue 15: a student bound as operator in
// ns-team1 lists, powers and opens the console of its VMs, sees nothing of
// ns-team2 in any list or watch, and cannot change a VM's spec.
func TestOperatorStory(t *testing.T) {
	e, admin := newRBACEnvAsAdmin(t)
	e.tenancy("contest", "ns-team1", "ns-team2")
	for _, vm := range []*api.VirtualMachine{teamVM(t, "contest", "ns-team1", "vm1"), teamVM(t, "contest", "ns-team2", "vm2")} {
		if _, err := admin.Create(ctx(t), vm); err != nil {
			t.Fatal(err)
		}
	}
	e.token("student", "")
	e.bind("student", auth.RoleOperator, "contest", "ns-team1")
	student, err := client.New(e.srv.URL, client.WithToken(e.tokens["student"]))
	if err != nil {
		t.Fatal(err)
	}
	vms := client.For[*api.VirtualMachine](student)

	// Lists at every width show vm1 only; ns-team2 itself is not found.
	for _, sc := range []client.Scope{{Group: "contest", Namespace: "ns-team1"}, {Group: "contest"}, {}} {
		got, _, err := vms.List(ctx(t), sc)
		if err != nil || len(got) != 1 || got[0].Meta.ID != "vm1" {
			t.Errorf("list %+v: %v, %v; want vm1 only", sc, ids(got), err)
		}
	}
	if _, _, err := vms.List(ctx(t), client.Scope{Group: "contest", Namespace: "ns-team2"}); !isClass(err, api.ErrNotFound) {
		t.Errorf("list ns-team2: %v, want not found", err)
	}
	if _, err := vms.Get(ctx(t), client.Scope{Group: "contest", Namespace: "ns-team2"}, "vm2"); !isClass(err, api.ErrNotFound) {
		t.Errorf("get vm2: %v, want not found", err)
	}

	// A watch of the whole cluster carries team1's events only.
	events := e.watchIDs(t, "student", "/api/v0/virtualmachines?watch=true")
	for _, vm := range []*api.VirtualMachine{teamVM(t, "contest", "ns-team2", "vm2b"), teamVM(t, "contest", "ns-team1", "vm1b")} {
		if _, err := admin.Create(ctx(t), vm); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-events; got != "vm1b" {
		t.Errorf("first watch event: %s, want vm1b (vm2b is in ns-team2)", got)
	}
	if code, _ := e.call("student", "GET", "/api/v0/groups/contest/namespaces/ns-team2/virtualmachines?watch=true", ""); code != 404 {
		t.Errorf("watch ns-team2: %d, want 404", code)
	}

	// Power: actionState changes, nothing else may.
	code, body := e.call("student", "PUT", "/api/v0/groups/contest/namespaces/ns-team1/virtualmachines/vm1/power", `{"actionState":"PowerOff"}`)
	if code != 200 || !strings.Contains(body, `"actionState":"PowerOff"`) {
		t.Errorf("power off: %d %s", code, body)
	}
	if code, _ := e.call("student", "PUT", "/api/v0/groups/contest/namespaces/ns-team2/virtualmachines/vm2/power", `{"actionState":"PowerOff"}`); code != 404 {
		t.Errorf("power off vm2: %d, want 404", code)
	}
	vm, err := vms.Get(ctx(t), client.Scope{Group: "contest", Namespace: "ns-team1"}, "vm1")
	if err != nil || vm.Spec.ActionState != api.ActionPowerOff {
		t.Fatalf("vm1 after power off: %+v, %v", vm, err)
	}
	vm.Spec.LimitMemory, vm.Spec.RequestMemory = "2G", "2G"
	if _, err := vms.Update(ctx(t), vm); !isClass(err, api.ErrForbidden) ||
		err.Error() != "user student may not update virtualmachine contest/ns-team1/vm1" {
		t.Errorf("spec change: %v, want forbidden with one clear line", err)
	}
	vm.Spec.ActionState = api.ActionPowerOn // power through update is an update too
	if _, err := vms.Update(ctx(t), vm); !isClass(err, api.ErrForbidden) {
		t.Errorf("actionState through update: %v, want forbidden", err)
	}

	// The console: authorized (the handler answers: no agent in this test).
	for _, sub := range []string{"serial/log", "serial", "ws"} {
		code, msg := e.call("student", "GET", "/api/v0/groups/contest/namespaces/ns-team1/virtualmachines/vm1/"+sub, "")
		if code == 401 || code == 403 || code == 404 {
			t.Errorf("console %s of vm1: %d %s", sub, code, msg)
		}
		if code, _ := e.call("student", "GET", "/api/v0/groups/contest/namespaces/ns-team2/virtualmachines/vm2/"+sub, ""); code != 404 {
			t.Errorf("console %s of vm2: %d, want 404", sub, code)
		}
	}
	// Namespaces: team2 is not in the list.
	if _, got := e.listIDs("student", "/api/v0/groups/contest/namespaces"); len(got) != 0 {
		t.Errorf("operator sees namespaces %v; its role reads VMs only", got)
	}
}

func ids(vms []*api.VirtualMachine) []string {
	var out []string
	for _, v := range vms {
		out = append(out, v.Meta.Namespace+"/"+v.Meta.ID)
	}
	return out
}

func isClass(err, class error) bool { return err != nil && errorsIs(err, class) }

// openWatch opens a watch as who; it ends with the test.
func (e *rbacEnv) openWatch(t *testing.T, who, path string) *http.Response {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(c, "GET", e.srv.URL+path, nil)
	e.as(req, who)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("watch %s: %v %v", path, resp, err)
	}
	return resp
}

// watchIDs opens a watch as who and sends the id of each event's object.
func (e *rbacEnv) watchIDs(t *testing.T, who, path string) <-chan string {
	t.Helper()
	return eventIDs(e.openWatch(t, who, path))
}

// eventIDs reads a watch stream and sends the id of each event's object;
// the channel closes when the stream ends (or nobody reads for 10 s).
func eventIDs(resp *http.Response) <-chan string {
	out := make(chan string, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev struct{ Object struct{ Meta api.Meta } }
			if json.Unmarshal([]byte(data), &ev) == nil {
				select {
				case out <- ev.Object.Meta.ID:
				case <-time.After(10 * time.Second):
					return
				}
			}
		}
	}()
	return out
}

func TestTokenSecretShownOnce(t *testing.T) {
	e := newRBACEnv(t)
	code, body := e.call("admin", "POST", "/api/v0/tokens",
		`{"meta":{"id":"alice-1"},"spec":{"owner":"alice","description":"laptop","expiresAt":"2099-01-01T00:00:00Z"}}`)
	if code != 201 {
		t.Fatalf("create token: %d %s", code, body)
	}
	var created struct {
		Data struct{ Token api.Token } `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	secret := created.Data.Token.Status.Token
	if !strings.HasPrefix(secret, auth.TokenPrefix+"alice-1.") {
		t.Fatalf("create answer has no token: %s", body)
	}
	_, got := e.call("admin", "GET", "/api/v0/tokens/alice-1", "")
	_, list := e.call("admin", "GET", "/api/v0/tokens", "")
	kv, err := e.store.Get(ctx(t), "/tokens/alice-1")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, _ := strings.Cut(secret, ".")
	for name, s := range map[string]string{"GET": got, "list": list, "store": string(kv.Value)} {
		if strings.Contains(s, sec) || strings.Contains(s, `"token":"`) {
			t.Errorf("%s shows the secret: %s", name, s)
		}
	}
	// The token works; alice has no bindings, so she sees nothing.
	e.tokens["alice"] = secret
	if code, msg := e.call("alice", "GET", "/api/v0/groups/g/namespaces/ns/virtualmachines/x", ""); code != 404 {
		t.Errorf("alice without bindings: %d %s, want 404", code, msg)
	}
	if code, _ := e.call("alice", "GET", "/api/v0/nodes", ""); code != 403 {
		t.Errorf("alice lists nodes: %d, want 403", code)
	}
	// Revoked: deleted, then 401.
	if code, msg := e.call("admin", "DELETE", "/api/v0/tokens/alice-1", ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, msg)
	}
	if code, msg := e.call("alice", "GET", "/api/v0/nodes", ""); code != 401 || !strings.Contains(msg, "unknown token") {
		t.Errorf("revoked token: %d %s, want 401 unknown token", code, msg)
	}
	// A stored token cannot be given a secret by a status write either.
	if code, _ := e.call("admin", "POST", "/api/v0/tokens", `{"meta":{"id":"x"},"spec":{"owner":"x"},"status":{"token":"hst_x.y"}}`); code != 201 {
		t.Errorf("create with a status: %d (status is server-set and ignored)", code)
	}
}

func TestAnonymousAndExpired(t *testing.T) {
	e := newRBACEnv(t)
	e.token("old", "2020-01-01T00:00:00Z")
	if code, _ := e.call("", "GET", "/healthz", ""); code != 200 {
		t.Errorf("healthz anonymous: %d", code)
	}
	// The server's root sends a browser to the web console, whose static
	// files are public (they hold no data).
	if code, msg := e.call("", "GET", "/", ""); code != 200 || !strings.HasPrefix(msg, "<!doctype html>") {
		t.Errorf("anonymous /: %d %.80s, want the console's page", code, msg)
	}
	for _, path := range []string{"/api/v0/groups", "/api/v0/nosuchthing", "/uinot", "/api/v0/ui/"} {
		if code, msg := e.call("", "GET", path, ""); code != 401 || !strings.Contains(msg, "authentication required") {
			t.Errorf("anonymous %s: %d %s", path, code, msg)
		}
	}
	if code, msg := e.call("old", "GET", "/api/v0/groups", ""); code != 401 || !strings.Contains(msg, `"token expired"`) {
		t.Errorf("expired: %d %s, want 401 \"token expired\"", code, msg)
	}
}

// A binding works at once, before its watch event reaches the cache, and a
// deleted one stops working.
func TestBindingTakesEffect(t *testing.T) {
	e := newRBACEnv(t)
	e.token("bob", "")
	if code, _ := e.call("bob", "GET", "/api/v0/groups", ""); code != 403 {
		t.Fatalf("before: %d", code)
	}
	code, msg := e.call("admin", "POST", "/api/v0/clusterrolebindings",
		`{"meta":{"id":"bob-viewer"},"spec":{"role":"viewer","subjects":[{"kind":"user","name":"bob"}]}}`)
	if code != 201 {
		t.Fatalf("bind: %d %s", code, msg)
	}
	if code, msg := e.call("bob", "GET", "/api/v0/groups", ""); code != 200 {
		t.Errorf("after binding: %d %s", code, msg)
	}
	e.call("admin", "DELETE", "/api/v0/clusterrolebindings/bob-viewer", "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := e.call("bob", "GET", "/api/v0/groups", "")
		if code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after unbinding: still %d", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, msg := e.call("admin", "POST", "/api/v0/roles", `{"meta":{"id":"viewer"},"spec":{"rules":[{"kinds":["*"],"verbs":["*"]}]}}`); code != 400 {
		t.Errorf("redefining a built-in role: %d %s, want 400", code, msg)
	}
}

// The group-admin of g2 manages bindings in g2 only, and a binding it makes
// grants nothing outside g2 whatever role it names.
func TestGroupAdminBindings(t *testing.T) {
	e := newRBACEnv(t)
	e.token("g2admin", "")
	e.token("carol", "")
	e.bind("g2admin", auth.RoleGroupAdmin, "g2", "")
	rb := `{"meta":{"id":"carol"},"spec":{"role":"cluster-admin","subjects":[{"kind":"user","name":"carol"}]}}`
	if code, msg := e.call("g2admin", "POST", "/api/v0/groups/g1/rolebindings", rb); code != 404 {
		t.Errorf("binding in g1: %d %s, want 404", code, msg)
	}
	e.put("/groups/g2", &api.Group{Meta: api.Meta{ID: "g2", APIType: api.GroupKind.APIType}})
	if code, msg := e.call("g2admin", "POST", "/api/v0/groups/g2/rolebindings", rb); code != 201 {
		t.Fatalf("binding in g2: %d %s", code, msg)
	}
	if code, _ := e.call("carol", "GET", "/api/v0/groups/g2/images", ""); code != 200 {
		t.Errorf("carol in g2: %d", code)
	}
	if code, _ := e.call("carol", "GET", "/api/v0/nodes", ""); code != 403 {
		t.Errorf("carol's cluster-admin bound in g2 reaches nodes: %d, want 403", code)
	}
}

func TestBootstrapAdminToken(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := apiserver.Config{ListenAddress: "127.0.0.1", ListenPort: 0, DataDir: dir, Authorization: "rbac",
		Log: slog.New(slog.DiscardHandler)}
	go func() { done <- apiserver.Run(ctx, cfg) }()
	path := filepath.Join(dir, apiserver.BootstrapTokenFile)
	var fi os.FileInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if fi, err = os.Stat(path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fi == nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, want mode 0600", fi)
	}
	b, _ := os.ReadFile(path)
	// A second start keeps the token; the file is not rewritten.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := apiserver.Run(ctx2, cfg); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("admin.token changed on the second start")
	}
	if !strings.HasPrefix(string(b), auth.TokenPrefix+apiserver.BootstrapTokenID+".") {
		t.Errorf("admin.token holds %q", b)
	}
	bad := cfg
	bad.Authorization = "yes"
	if err := apiserver.Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "--authorization") {
		t.Errorf("bad --authorization: %v", err)
	}
}

// A node's credential reaches what is placed on it and nothing placed on
// another node: in lists, watches, reads and status writes.
func TestNodeSeesItsOwn(t *testing.T) {
	e, admin := newRBACEnvAsAdmin(t)
	e.tenancy("g", "ns")
	for id, node := range map[string]string{"on-a": "node-a", "on-b": "node-b"} {
		vm := teamVM(t, "g", "ns", id)
		vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = node
		if _, err := admin.Create(ctx(t), vm); err != nil {
			t.Fatal(err)
		}
	}
	events := e.watchIDs(t, "node:node-a", "/api/v0/virtualmachines?watch=true")
	if code, got := e.listIDs("node:node-a", "/api/v0/virtualmachines"); code != 200 || !slices.Equal(got, []string{"g/ns/on-a"}) {
		t.Errorf("node-a lists %d %v, want g/ns/on-a only", code, got)
	}
	vmPath := "/api/v0/groups/g/namespaces/ns/virtualmachines/"
	status := `{"status":{"state":"Running"}}`
	if code, msg := e.call("node:node-a", "PUT", vmPath+"on-a/status", status); code != 200 {
		t.Errorf("node-a writes its VM's status: %d %s", code, msg)
	}
	// What is placed on another node is out of node-a's sight: 404, as for
	// a VM that does not exist (TestNodeWritesVanishedObject).
	if code, msg := e.call("node:node-a", "PUT", vmPath+"on-b/status", status); code != 404 || msg == "" {
		t.Errorf("node-a writes node-b's VM's status: %d, want 404", code)
	}
	if code, _ := e.call("node:node-a", "GET", vmPath+"on-b", ""); code != 404 {
		t.Errorf("node-a reads node-b's VM: %d, want 404", code)
	}
	if code, _ := e.call("node:node-a", "DELETE", vmPath+"on-a", ""); code != 403 {
		t.Errorf("node-a deletes its VM: %d, want 403 (deleting is the owner's)", code)
	}
	if got := <-events; got != "on-a" {
		t.Errorf("node-a's watch saw %s first, want on-a (its status write)", got)
	}
}
