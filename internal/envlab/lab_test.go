package envlab_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// group is where every object of these tests lives (testdata/base.yaml).
const group = "envlab"

var groupScope = client.Scope{Group: group}

// envLab is a two-node lab (node-a runs the API server and an All agent,
// node-b a System agent: both run VMs) with the shared objects of
// testdata/base.yaml applied and the image ready, and a fresh SSH key the
// templates install in every guest.
type envLab struct {
	tb     testing.TB
	l      *lab.Lab
	c      *client.Client
	signer ssh.Signer
	key    string
	last   time.Time
	nextEP int // numbers the management endpoints
}

// upEnvLab brings the lab up. The guests need little (128M and 100-250m
// each): the nodes' stated capacity holds them many times over. Both
// nodes hold the image (base.yaml puts a disk from it on node-b), so the
// scheduler's image bonus is the same on both and its spread puts the
// copies' VMs on both.
func upEnvLab(tb testing.TB) *envLab {
	tb.Helper()
	labtest.Require(tb) // root first: the image is built in root's cache
	testenv.RequireCommands(tb, append([]string{"qemu-system-x86_64", "qemu-img"}, tiny.RequiredCommands...)...)
	cache, err := guestcache.TestDir()
	if err != nil {
		tb.Fatal(err)
	}
	img, err := tiny.Build(context.Background(), cache)
	if err != nil {
		tb.Fatal(err)
	}
	l := labtest.Up(tb, lab.Config{Nodes: 2, Modes: []string{lab.ModeAll, lab.ModeSystem},
		HeartbeatSeconds: 1, NodeGraceSeconds: 5, LimitVcpus: "16", LimitMemory: "8G"})
	e := &envLab{tb: tb, l: l, c: l.Client(), last: time.Now()}
	e.signer, e.key = labtest.NewKey(tb)
	e.apply("base.yaml", map[string]string{"IMAGE_URL": labtest.ServeFromHub(tb, l, img.Disk)})
	e.wait("imageentity", groupScope, "tiny", "Available", 3*time.Minute)
	e.wait("blockstorage", client.Scope{Group: group, Namespace: "base"}, "cache-b", "Active", 3*time.Minute)
	e.step("lab up, image ready")
	return e
}

// step logs what was done and how long it took since the last step.
func (e *envLab) step(what string) {
	e.tb.Helper()
	e.tb.Logf("%-72s %8v", what, time.Since(e.last).Round(time.Millisecond))
	e.last = time.Now()
}

// apply applies testdata/name with humcli, after replacing each key of
// repl by its value (SSH_KEY always: the test's key).
func (e *envLab) apply(name string, repl map[string]string) {
	e.tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		e.tb.Fatal(err)
	}
	e.applyText(name, string(b), repl)
}

// applyText applies a YAML text as apply does.
func (e *envLab) applyText(name, text string, repl map[string]string) {
	e.tb.Helper()
	pairs := []string{"SSH_KEY", e.key}
	for k, v := range repl {
		pairs = append(pairs, k, v)
	}
	p := filepath.Join(e.tb.TempDir(), filepath.Base(name))
	if err := os.WriteFile(p, []byte(strings.NewReplacer(pairs...).Replace(text)), 0o600); err != nil {
		e.tb.Fatal(err)
	}
	e.humcli("apply", "-f", p)
}

// applyFleet applies the benchmarks' template testdata/fleet.yaml.tmpl
// as template id with vms VMs named vm01, vm02, ... at 10.0.1.1, .2, ...
func (e *envLab) applyFleet(id string, vms int) (names, addrs []string) {
	e.tb.Helper()
	host := map[string]int{}
	for i := 1; i <= vms; i++ {
		n := "vm" + two(i)
		names = append(names, n)
		addrs = append(addrs, "10.0.1."+itoa(i))
		host[n] = i
	}
	tpl, err := template.ParseFiles(filepath.Join("testdata", "fleet.yaml.tmpl"))
	if err != nil {
		e.tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, map[string]any{"ID": id, "VMs": vms, "Names": names, "Host": host}); err != nil {
		e.tb.Fatal(err)
	}
	e.applyText(id+".yaml", b.String(), nil)
	return names, addrs
}

// humcli runs humcli against the lab; a failure ends the test.
func (e *envLab) humcli(args ...string) string {
	e.tb.Helper()
	out, err := e.l.Humcli(context.Background(), args...)
	if err != nil {
		e.tb.Fatalf("humcli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// wait waits for an object's state (lab.WaitState, which shows the
// object's status and its agents' logs on failure).
func (e *envLab) wait(kind string, sc client.Scope, id, state string, timeout time.Duration) {
	e.tb.Helper()
	if err := e.l.WaitState(context.Background(), kind, sc, id, state, timeout); err != nil {
		e.tb.Fatal(err)
	}
}

// logs are the last lines of every agent's log, for failure messages.
func (e *envLab) logs(n int) string {
	var b strings.Builder
	for _, node := range e.l.Nodes() {
		b.WriteString("\n--- " + node.Name + " agent ---\n" + e.l.LogTail(node.Name, n))
	}
	return b.String()
}
