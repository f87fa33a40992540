package cli

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
)

// newSecureEnv is an apiserver with --tls auto and --authorization rbac,
// set here whatever the defaults, and its bootstrap admin token (written
// before the server listens).
func newSecureEnv(t *testing.T) (e *tlsEnv, adminToken string) {
	t.Helper()
	e = newTLSEnvWith(t, apiserver.AuthorizationRBAC)
	return e, strings.TrimSpace(readFile(t, filepath.Join(e.dir, apiserver.BootstrapTokenFile)))
}

var joinTokenLine = regexp.MustCompile(`(?m)^joinToken: (\S+)$`)

// TestJoinTokenListRevoke: humcli node join-token makes tokens, list shows
// them with their state (valid, used, revoked) and never a secret, revoke
// stops one from admitting a node (401 saying it was revoked), and an
// unknown id or a caller without rights is one clear error line.
func TestJoinTokenListRevoke(t *testing.T) {
	t.Setenv(contextsEnv, filepath.Join(t.TempDir(), "config"))
	e, admin := newSecureEnv(t)
	flags := []string{"--api-server-address", e.url(), "--ca-file", e.caFile}
	run := func(args ...string) result {
		return runRaw(context.Background(), "", append(append(args, flags...), "--token", admin)...)
	}
	mustToken := func(args ...string) (token, id string) {
		t.Helper()
		r := run(append([]string{"node", "join-token"}, args...)...)
		m := joinTokenLine.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("join-token %v: %v", args, r)
		}
		id, _, _ = strings.Cut(m[1], ".")
		return m[1], id
	}
	once, onceID := mustToken("--uses", "1", "--description", "rack 2")
	multi, multiID := mustToken("--uses", "0", "--ttl", "2h", "--node", "node-b")

	pin, err := client.TrustCAFile(e.caFile)
	if err != nil {
		t.Fatal(err)
	}
	node, _ := client.New(e.url(), client.WithTLS(pin))
	csr, _, _ := pki.NewNodeCSR("node-a")
	if _, err := node.Join(context.Background(), "node-a", once, csr); err != nil {
		t.Fatalf("join with the single-use token: %v", err)
	}
	r := run("node", "join-token", "revoke", multiID)
	if r.code != 0 || !strings.Contains(r.stdout, "join token "+multiID+" revoked at ") {
		t.Fatalf("revoke: %v", r)
	}
	csrB, _, _ := pki.NewNodeCSR("node-b")
	_, err = node.Join(context.Background(), "node-b", multi, csrB)
	if !errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), "join token "+multiID+" was revoked at ") {
		t.Errorf("join with the revoked token: err = %v, want 401 saying it was revoked", err)
	}

	r = run("node", "join-token", "list")
	if r.code != 0 {
		t.Fatalf("list: %v", r)
	}
	t.Logf("humcli node join-token list:\n%s", r.stdout)
	rows := map[string][]string{}
	for _, l := range lines(r.stdout) {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	// ID STATE NODE USES USED-BY EXPIRES CREATED-BY DESCRIPTION
	want := map[string][]string{
		"ID":    {"ID", "STATE", "NODE", "USES", "USED-BY", "EXPIRES", "CREATED-BY", "DESCRIPTION"},
		onceID:  {onceID, "used", "-", "1/1", "node-a", "", "admin", "rack", "2"},
		multiID: {multiID, "revoked", "node-b", "0/any", "-", "", "admin", "-"},
	}
	if len(rows) != len(want) {
		t.Fatalf("list: %d rows, want %d:\n%s", len(rows), len(want), r.stdout)
	}
	for id, w := range want {
		got := rows[id]
		if len(got) != len(w) {
			t.Errorf("row %s: %q, want %q", id, got, w)
			continue
		}
		for i := range w {
			if w[i] != "" && got[i] != w[i] {
				t.Errorf("row %s, column %d: %q, want %q", id, i, got[i], w[i])
			}
		}
	}
	for _, tok := range []string{once, multi} {
		if _, secret, _ := strings.Cut(tok, "."); strings.Contains(r.stdout, secret) {
			t.Errorf("list shows a secret:\n%s", r.stdout)
		}
	}

	for _, tc := range []struct {
		name   string
		r      result
		stderr string
	}{
		{"unknown id", run("node", "join-token", "revoke", "0123456789ab"), "join token 0123456789ab not found"},
		{"no id", run("node", "join-token", "revoke"), "accepts 1 arg"},
		{"anonymous list", runRaw(context.Background(), "", append([]string{"node", "join-token", "list"}, flags...)...),
			"authentication required"},
	} {
		if tc.r.code != 1 || !strings.Contains(tc.r.stderr, tc.stderr) || len(lines(tc.r.stderr)) != 1 {
			t.Errorf("%s: %v\nwant exit 1 and one line with %q", tc.name, tc.r, tc.stderr)
		}
	}
}
