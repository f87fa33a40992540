package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/leader"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// startEtcdAPIServer runs bin/apiserver --store etcd on port; its log is
// dir/apiserver-<port>.log. Killed at test end if still running.
func startEtcdAPIServer(t *testing.T, dir string, port int, endpoints []string) *apiserver {
	t.Helper()
	logPath := filepath.Join(dir, fmt.Sprintf("apiserver-%d.log", port))
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "apiserver"), "--listen-address", "127.0.0.1",
		"--listen-port", strconv.Itoa(port), "--store", "etcd", "--etcd-endpoints", strings.Join(endpoints, ","),
		"--insecure-http", "--authorization", "off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &apiserver{t: t, cmd: cmd, addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(s.kill)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("apiserver exited during start-up; see %s", logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("apiserver did not become healthy; see %s", logPath)
	return nil
}

// humcli runs the real humcli against servers and returns its output.
func humcli(t *testing.T, servers string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "humcli"), append([]string{"--api-server-address", servers}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("humcli %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), err
}

// TestHA: 3 etcd members (embedded), 2 apiservers on them, 2 Core agents
// listing both apiservers, a writer and a watcher listing both too. Kill -9
// the first apiserver (the one everybody uses) and the leading Core agent
// at once. Then: a new leader within 15 s, whose controllers act (the dead
// agent's node goes NotReady); the surviving agent's heartbeats carry on
// through the other apiserver (its node stays Ready); humcli works with the
// dead server first in its list; every acknowledged create is stored and
// was seen exactly once by the watch, which resumed on the other server.
func TestHA(t *testing.T) {
	t.Parallel()
	const heartbeat, grace = 1, 4
	dir := t.TempDir()
	eps := etcdtest.Start(t, etcdtest.Options{Members: 3}).Endpoints()
	portA, portB := freePort(t), freePort(t)
	apiA := startEtcdAPIServer(t, dir, portA, eps[:2])
	startEtcdAPIServer(t, dir, portB, eps[1:])
	servers := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)

	agents := map[string]*agentProc{}
	for _, name := range []string{"core-a", "core-b"} {
		cfg := writeAgentConfig(t, dir, portA, agentSpec{name: name, mode: "Core", memory: "4G", vcpus: "2000m", heartbeat: heartbeat, grace: grace})
		f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "apiServers: [127.0.0.1:%d, 127.0.0.1:%d]\n", portA, portB)
		f.Close()
		agents[name] = startAgent(t, name, cfg)
	}
	c, err := client.New(servers)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 2*time.Minute)
	leases := client.For[*api.Lease](c)
	holder := func() string {
		l, err := leases.Get(ctx, client.Scope{}, leader.DefaultLease)
		if err != nil {
			return ""
		}
		return l.Spec.HolderIdentity
	}
	waitFor(t, 15*time.Second, "a leader", func() bool { return holder() != "" })
	first := holder()
	survivor := map[string]string{"core-a": "core-b", "core-b": "core-a"}[first]
	nodes := client.For[*api.Node](c)
	nodeState := func(id string) string {
		n, err := nodes.Get(ctx, client.Scope{}, id)
		if err != nil {
			return ""
		}
		return n.Status.State
	}
	waitFor(t, 10*time.Second, "both nodes Ready", func() bool {
		return nodeState("core-a") == api.NodeReady && nodeState("core-b") == api.NodeReady
	})
	t.Logf("leader: %s", first)

	if _, err := client.For[*api.Group](c).Create(ctx, newGroup("g")); err != nil {
		t.Fatal(err)
	}
	watch, err := client.For[*api.Namespace](c).Watch(ctx, client.Scope{Group: "g"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	stopWriter := writeNamespaces(ctx, c)

	time.Sleep(500 * time.Millisecond)
	apiA.kill()
	agents[first].kill()
	killed := time.Now()
	t.Logf("killed apiserver %s and leader %s", apiA.addr, first)

	waitFor(t, 15*time.Second, "a new leader", func() bool { return holder() == survivor })
	t.Logf("new leader %s after %v", survivor, time.Since(killed).Round(time.Millisecond))
	if out, err := humcli(t, servers, "get", "lease"); err != nil || !strings.Contains(out, survivor) {
		t.Fatalf("humcli get lease with %s dead: %q, %v", apiA.addr, out, err)
	}
	waitFor(t, time.Duration(grace+5)*time.Second, "the dead leader's node NotReady (the new leader acts)", func() bool {
		return nodeState(first) == api.NodeNotReady
	})
	t.Logf("%s NotReady %v after the kill", first, time.Since(killed).Round(time.Millisecond))
	if s := nodeState(survivor); s != api.NodeReady {
		t.Fatalf("surviving node %s is %q: its heartbeats did not fail over", survivor, s)
	}
	out, err := humcli(t, servers, "get", "node")
	if err != nil || !strings.Contains(out, "NotReady") {
		t.Fatalf("humcli get node: %q, %v", out, err)
	}

	ids := stopWriter()
	checkAcked(t, ctx, c, watch, ids)
}

// writeNamespaces creates namespaces in g one after another until stopped,
// and returns the ids whose create was acknowledged. Failed creates (the
// server died under them) are retried under a new id, as a user would.
func writeNamespaces(ctx context.Context, c *client.Client) (stop func() []string) {
	var mu sync.Mutex
	var ids []string
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		nss := client.For[*api.Namespace](c)
		for i := 0; wctx.Err() == nil; i++ {
			id := fmt.Sprintf("ns-%d", i)
			if _, err := nss.Create(wctx, newNamespace("g", id)); err == nil {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	return func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// checkAcked fails unless every acknowledged id is stored and the watch
// delivered each exactly once.
func checkAcked(t *testing.T, ctx context.Context, c *client.Client, watch <-chan client.Event, ids []string) {
	t.Helper()
	list, _, err := client.For[*api.Namespace](c).List(ctx, client.Scope{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, ns := range list {
		stored[ns.Meta.ID] = true
	}
	for _, id := range ids {
		if !stored[id] {
			t.Errorf("acknowledged namespace %s lost", id)
		}
	}
	seen := map[string]int{}
	deadline := time.After(15 * time.Second)
	for len(seen) < len(stored) {
		select {
		case ev := <-watch:
			if ev.Err != nil {
				t.Fatalf("watch ended: %v", ev.Err)
			}
			if ev.Type == client.Added {
				seen[ev.Object.GetMeta().ID]++
			}
		case <-deadline:
			t.Fatalf("watch delivered %d of %d namespaces", len(seen), len(stored))
		}
	}
	for id, n := range seen {
		if n != 1 || !stored[id] {
			t.Errorf("watch delivered %s %d times (stored: %v)", id, n, stored[id])
		}
	}
	t.Logf("%d creates acknowledged, %d stored, each seen once by the watch", len(ids), len(stored))
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
