package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// rbacEnv is an apiserver with --authorization rbac. Node identities come
// from a test authenticator (header X-Test-Node), since node certificates
// are another part's; everyone else presents tokens.
type rbacEnv struct {
	*env
	api    *apiserver.Server
	tokens map[string]string // who -> bearer token
}

func newRBACEnv(t testing.TB) *rbacEnv { t.Helper(); return newRBACEnvAudit(t, nil) }

// newRBACEnvAsAdmin is newRBACEnv whose client e.c is the admin's (also
// returned).
func newRBACEnvAsAdmin(t testing.TB) (*rbacEnv, *client.Client) {
	t.Helper()
	e := newRBACEnv(t)
	admin, err := client.New(e.srv.URL, client.WithToken(e.tokens["admin"]))
	if err != nil {
		t.Fatal(err)
	}
	e.c = admin
	return e, admin
}

// newRBACEnvAudit is newRBACEnv writing its audit log to al (nil: none).
func newRBACEnvAudit(t testing.TB, al *audit.Logger) *rbacEnv {
	t.Helper()
	return newRBACEnvWith(t, al, false)
}

// testNodeAuth authenticates the header X-Test-Node: N as node N (a node
// certificate's identity, without TLS).
var testNodeAuth = auth.Static(func(r *http.Request) *auth.Identity {
	if n := r.Header.Get("X-Test-Node"); n != "" {
		return &auth.Identity{Name: "node:" + n, Kind: auth.KindNode, Node: n, Via: "test"}
	}
	return nil
})

// newRBACEnvWith is newRBACEnvAudit served over HTTPS when secure (the
// test server's own certificate; e.srv.Client() trusts it).
func newRBACEnvWith(t testing.TB, al *audit.Logger, secure bool) *rbacEnv {
	t.Helper()
	return newRBACEnvOpts(t, al, secure, nil)
}

// newRBACEnvOpts is newRBACEnvWith with its options changed by tweak
// (nil: none). By default a team's resets are held back only while one is
// unfinished (no interval): the matrix makes many in a row.
func newRBACEnvOpts(t testing.TB, al *audit.Logger, secure bool, tweak func(*apiserver.Options)) *rbacEnv {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nodeAuth := testNodeAuth
	opts := apiserver.Options{
		Log: slog.New(slog.DiscardHandler), Heartbeat: time.Second, Authorization: apiserver.AuthorizationRBAC,
		NodeSecret: "test-secret", Audit: al, Metrics: apiserver.NewMetrics(),
		Authenticator: auth.Chain{nodeAuth, &auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(st)}},
		ResetInterval: -1,
	}
	if tweak != nil {
		tweak(&opts)
	}
	s := apiserver.New(st, opts)
	srv := httptest.NewUnstartedServer(s.Handler())
	if secure {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		st.Close()
	})
	e := &rbacEnv{env: &env{t: t, store: st, srv: srv}, api: s, tokens: map[string]string{}}
	e.token("admin", "", auth.GroupMasters)
	return e
}

// token stores a token for owner straight into the store (as the server
// would) and remembers its bearer under owner.
func (e *rbacEnv) token(owner, expiresAt string, groups ...string) string {
	e.t.Helper()
	id := strings.ReplaceAll(owner, ":", "-") + "-token"
	bearer, salt, hash, err := auth.IssueToken(id)
	if err != nil {
		e.t.Fatal(err)
	}
	t := api.TokenKind.New().(*api.Token)
	t.Meta.ID = id
	t.Spec = api.TokenSpec{Owner: owner, Groups: groups, ExpiresAt: expiresAt}
	t.Status = api.TokenStatus{Salt: salt, Hash: hash}
	e.put("/tokens/"+id, t)
	e.tokens[owner] = bearer
	return bearer
}

// consoleLink has admin create a console link of spec (in g1/ns1)
// through the API, and remembers its token as who's.
func (e *rbacEnv) consoleLink(who string, spec api.ConsoleLinkSpec) {
	e.t.Helper()
	l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
	l.Meta.ID, l.Meta.Group, l.Meta.Namespace = strings.ReplaceAll(who, ":", "-"), "g1", "ns1"
	l.Spec = spec
	l.Spec.ExpiresAt = "2100-01-01T00:00:00Z"
	body, err := api.Encode(l)
	if err != nil {
		e.t.Fatal(err)
	}
	code, answer := e.call("admin", "POST", "/api/v0/groups/g1/namespaces/ns1/consolelinks", string(body))
	var created struct {
		Data struct{ ConsoleLink api.ConsoleLink } `json:"data"`
	}
	if err := json.Unmarshal([]byte(answer), &created); code != http.StatusCreated || err != nil || created.Data.ConsoleLink.Status.Token == "" {
		e.t.Fatalf("create the console link: %d %s %v", code, answer, err)
	}
	e.tokens[who] = created.Data.ConsoleLink.Status.Token
}

// put writes obj at key, bypassing the API (fixtures).
func (e *rbacEnv) put(key string, obj api.Object) {
	e.t.Helper()
	data, err := api.Encode(obj)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.Create(context.Background(), key, data); err != nil {
		e.t.Fatalf("put %s: %v", key, err)
	}
}

// bind grants role to user in scope g/ns (g empty: cluster-wide).
func (e *rbacEnv) bind(user, role, g, ns string) {
	e.t.Helper()
	subj := []api.Subject{{Kind: api.SubjectUser, Name: user}}
	if g == "" {
		b := api.ClusterRoleBindingKind.New().(*api.ClusterRoleBinding)
		b.Meta.ID = user + "-" + role
		b.Spec = api.ClusterRoleBindingSpec{Role: role, Subjects: subj}
		e.put("/clusterrolebindings/"+b.Meta.ID, b)
		return
	}
	b := api.RoleBindingKind.New().(*api.RoleBinding)
	b.Meta.ID, b.Meta.Group = user+"-"+role, g
	b.Spec = api.RoleBindingSpec{Role: role, Namespace: ns, Subjects: subj}
	e.put("/rolebindings/"+g+"/"+b.Meta.ID, b)
}

// bindNode grants role to a node everywhere (a clusterrolebinding).
func (e *rbacEnv) bindNode(node, role string) {
	e.t.Helper()
	b := api.ClusterRoleBindingKind.New().(*api.ClusterRoleBinding)
	b.Meta.ID = node + "-" + role
	b.Spec = api.ClusterRoleBindingSpec{Role: role, Subjects: []api.Subject{{Kind: api.SubjectNode, Name: node}}}
	e.put("/clusterrolebindings/"+b.Meta.ID, b)
}

// call sends a request as who ("" anonymous; "node:x" a node) and returns
// the status and body.
func (e *rbacEnv) call(who, method, path, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx(e.t), method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	e.as(req, who)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if strings.Contains(path, "watch=true") {
		// A stream: the status and headers are the answer.
		return resp.StatusCode, ""
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// listIDs lists path as who and returns the ids of the items.
func (e *rbacEnv) listIDs(who, path string) (int, []string) {
	e.t.Helper()
	code, body := e.call(who, "GET", path, "")
	var env struct {
		Data map[string][]struct{ Meta api.Meta } `json:"data"`
	}
	if code != http.StatusOK {
		return code, nil
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		e.t.Fatalf("list %s: %v", path, err)
	}
	var ids []string
	for _, items := range env.Data {
		for _, it := range items {
			ids = append(ids, it.Meta.Group+"/"+it.Meta.Namespace+"/"+it.Meta.ID)
		}
	}
	return code, ids
}

// seedFixture reads one of the README's examples (internal/registry's
// test data) for a kind.
func seedFixture(t testing.TB, name string) api.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "registry", "testdata", "seed", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := api.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return obj
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// as makes req come from who: "" anonymous, "node:x" node x, "link:x" the
// console link made by consoleLink, else the bearer token of who.
func (e *rbacEnv) as(req *http.Request, who string) {
	switch {
	case strings.HasPrefix(who, "node:"):
		req.Header.Set("X-Test-Node", strings.TrimPrefix(who, "node:"))
	case strings.HasPrefix(who, "link:"):
		q := req.URL.Query()
		q.Set(auth.ConsoleLinkParam, e.tokens[who])
		req.URL.RawQuery = q.Encode()
	case who != "":
		req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	}
}
