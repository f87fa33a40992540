package scenario_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
)

// TestReferenceScenarioInsecure is one run of the reference scenario in
// an Insecure lab: the trusted-lab setup the original humstack had and its
// clients need (API server with --insecure-http --authorization off, the
// agents sharing the deprecated downloadAPI secret, the API server holding
// it in --node-secret-file to reach consoles). Everything works as in the
// secure default: the disk from the image on node-c comes from node-b's
// download API with the secret, the VMs ping each other, SNAT and the
// external IP work, vm2 is powered off and on, vm1's console log shows its
// boot, and deleting the namespace and the group leaves nothing behind.
func TestReferenceScenarioInsecure(t *testing.T) {
	r := newRunWith(t, lab.Config{Insecure: true})
	if strings.HasPrefix(r.l.APIURL(), "https://") {
		t.Fatalf("API URL %s: want plain http", r.l.APIURL())
	}
	before := r.snapshot()
	start := time.Now()
	r.scenario(false)
	r.checkConsoleLog("vm1")
	r.teardown()
	if after := r.snapshot(); after != before {
		t.Fatalf("the insecure run left things behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	t.Logf("insecure run: whole scenario and teardown in %v, nothing left", time.Since(start).Round(time.Millisecond))
}

// checkNoSecret: every agent config joins with a token, none holds a
// shared secret (downloadAPI secret or secretFile); node-a and node-b also
// pin the CA's fingerprint, node-c has the token alone (the seed's config
// plus one line: its agent learns the CA from the token's cluster info).
func (r *run) checkNoSecret() {
	for _, n := range r.l.Nodes() {
		b, err := os.ReadFile(filepath.Join(r.l.Dir(), n.Name, "agent.yaml"))
		if err != nil {
			r.t.Fatal(err)
		}
		cfg := string(b)
		pinned := strings.Contains(cfg, "\napiServerCAFingerprint: sha256:")
		if strings.Contains(strings.ToLower(cfg), "secret") || !strings.Contains(cfg, "\njoinToken: ") || pinned == (n.Name == "node-c") {
			r.t.Fatalf("%s's agent config (want a join token, the CA pin on all but node-c, no secret):\n%s", n.Name, cfg)
		}
		if _, err := os.Stat(filepath.Join(r.l.Dir(), n.Name, "pki", "node.crt")); err != nil {
			r.t.Fatalf("%s has no node certificate: %v", n.Name, err)
		}
	}
	r.step("agent configs: join tokens (node-c's alone, the others with the CA pin), no secret; every node joined")
}

// checkAnonymous: a request without a token is 401, over HTTPS that
// verifies against the cluster CA.
func (r *run) checkAnonymous() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, path := range []string{"/api/v0/nodes", "/api/v0/groups/group1/namespaces/ns1/virtualmachines"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.l.APIURL()+path, nil)
		resp, err := r.l.HTTPClient().Do(req)
		if err != nil {
			r.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			r.t.Fatalf("anonymous GET %s: %s, want 401", path, resp.Status)
		}
	}
	r.step("anonymous requests: 401")
}

// checkConsoleLog: `humcli console --log` shows the VM's boot, relayed by
// the API server from the VM's node with its own certificate.
func (r *run) checkConsoleLog(vm string) {
	out, err := r.l.Humcli(context.Background(), "console", "--log", vm, "--g", "group1", "--n", "ns1")
	if err != nil || !strings.Contains(out, tiny.ReadyMarker) {
		r.t.Fatalf("humcli console --log %s (want the boot's %q): %v\n%s", vm, tiny.ReadyMarker, err, out)
	}
	r.step(vm + "'s console log shows its boot (through the API server, mutual TLS)")
}
