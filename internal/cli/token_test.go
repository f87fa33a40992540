package cli

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// newRBACEnv serves an apiserver with --authorization rbac and returns
// tokens for admin (cluster-admin), alice (viewer of group1/ns1) and an
// expired one.
func newRBACEnv(t *testing.T) (*env, map[string]string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := apiserver.New(st, apiserver.Options{Log: quiet, Authorization: apiserver.AuthorizationRBAC,
		Authenticator: auth.Chain{&auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(st)}}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	toks := map[string]string{
		"admin":   putToken(t, st, "admin", "", auth.GroupMasters),
		"alice":   putToken(t, st, "alice", ""),
		"expired": putToken(t, st, "old", "2020-01-01T00:00:00Z"),
	}
	b := api.RoleBindingKind.New().(*api.RoleBinding)
	b.Meta.ID, b.Meta.Group = "alice", "group1"
	b.Spec = api.RoleBindingSpec{Role: auth.RoleViewer, Namespace: "ns1", Subjects: []api.Subject{{Kind: api.SubjectUser, Name: "alice"}}}
	put(t, st, "/rolebindings/group1/alice", b)
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	return &env{t: t, host: host, port: port}, toks
}

func putToken(t *testing.T, st storage.Store, owner, expires string, groups ...string) string {
	bearer, salt, hash, err := auth.IssueToken(owner)
	if err != nil {
		t.Fatal(err)
	}
	tok := api.TokenKind.New().(*api.Token)
	tok.Meta.ID = owner
	tok.Spec = api.TokenSpec{Owner: owner, ExpiresAt: expires, Groups: groups}
	tok.Status = api.TokenStatus{Salt: salt, Hash: hash}
	put(t, st, "/tokens/"+owner, tok)
	return bearer
}

func put(t *testing.T, st storage.Store, key string, o api.Object) {
	data, err := api.Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(context.Background(), key, data); err != nil {
		t.Fatal(err)
	}
}

// TestToken: --token, the config file's token and $HUMSTACK_TOKEN reach
// the server; 401 and 403 are one clear line.
func TestToken(t *testing.T) {
	e, toks := newRBACEnv(t)
	r := e.run("create", "-f", "../../examples/seed/01-group.yaml", "--token", toks["admin"])
	if r.code != 0 {
		t.Fatalf("admin creates: %v", r)
	}
	e.run("create", "-f", "../../examples/seed/02-namespace.yaml", "--token", toks["admin"])
	cfg := writeFile(t, "humcli.yaml", "token: "+toks["alice"]+"\n")
	for _, tc := range []struct {
		name   string
		env    string
		args   []string
		code   int
		stderr string
	}{
		{"anonymous", "", []string{"get", "vm"}, 1, "error: authentication required: send Authorization: Bearer <token>\n"},
		{"expired", "", []string{"get", "vm", "--token", toks["expired"]}, 1, "error: token expired\n"},
		{"flag", "", []string{"get", "vm", "--g", "group1", "--n", "ns1", "--token", toks["alice"]}, 0, "No virtualmachines found in namespace group1/ns1.\n"},
		{"config file", "", []string{"get", "vm", "--g", "group1", "--n", "ns1", "--config", cfg}, 0, "No virtualmachines found in namespace group1/ns1.\n"},
		{"environment", toks["alice"], []string{"get", "vm", "--g", "group1", "--n", "ns1"}, 0, "No virtualmachines found in namespace group1/ns1.\n"},
		{"flag beats environment", toks["expired"], []string{"get", "vm", "--g", "group1", "--n", "ns1", "--token", toks["alice"]}, 0, "No virtualmachines found in namespace group1/ns1.\n"},
		{"forbidden", "", []string{"delete", "ns", "ns1", "--g", "group1", "--token", toks["alice"]}, 1,
			"error: user alice may not delete namespace group1/ns1\n"},
		{"invisible", "", []string{"get", "vm", "--g", "group1", "--n", "ns2", "--token", toks["alice"]}, 1,
			"error: list virtualmachines: namespace group1/ns2 not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envToken, tc.env)
			r := e.run(tc.args...)
			if r.code != tc.code || r.stderr != tc.stderr {
				t.Errorf("got %v\nwant exit %d, stderr %q", r, tc.code, tc.stderr)
			}
		})
	}
	// A token made with humcli shows its secret once, and it works.
	tf := writeFile(t, "tok.yaml", "meta: {apiType: corev0/token, id: bob-1}\nspec: {owner: bob}\n")
	r = e.run("create", "-f", tf, "--token", toks["admin"])
	secret, ok := strings.CutPrefix(strings.TrimSpace(r.stdout), "token bob-1 created; bearer token (shown only now): ")
	if r.code != 0 || !ok {
		t.Fatalf("create token: %v", r)
	}
	if r := e.run("get", "token", "bob-1", "-o", "yaml", "--token", toks["admin"]); r.code != 0 || strings.Contains(r.stdout, secret) {
		t.Errorf("get token shows the secret or fails: %v", r)
	}
	if r := e.run("get", "vm", "--g", "group1", "--n", "ns1", "--token", secret); r.stderr != "error: list virtualmachines: namespace group1/ns1 not found\n" {
		t.Errorf("bob without bindings: %v", r)
	}
	if r := e.run("get", "vm", "--config", writeFile(t, "bad.yaml", "tokn: x\n")); !strings.Contains(r.stderr, "token") {
		t.Errorf("config keys listed without token: %v", r)
	}
}
