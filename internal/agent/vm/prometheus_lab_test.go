package vm_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
	"github.com/humstack/humstack/internal/testenv/promtest"
)

// scrapeTokenYAML is docs/metrics.md's scrape token: a token of user
// prometheus, bound cluster-wide to the built-in role metrics.
const scrapeTokenYAML = `meta: {apiType: corev0/token, id: prometheus}
spec: {owner: prometheus, description: Prometheus scrapes}
---
meta: {apiType: corev0/clusterrolebinding, id: prometheus-metrics}
spec: {role: metrics, subjects: [{kind: user, name: prometheus}]}
`

// hugeDiskYAML is the injected failure: an empty disk on node-b larger
// than a qcow2 can be (4 PiB; 2 PiB is the most with 64 KiB clusters). The
// API takes any size; qemu-img refuses it, so node-b's blockstorage
// controller fails each reconcile of it and retries with backoff.
const hugeDiskYAML = `meta:
  apiType: systemv0/blockstorage
  id: huge
  group: g
  namespace: ns
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}
spec: {requestSize: 1G, limitSize: 4096T, from: {type: Empty}}
`

// TestLabPrometheus is issue 16's acceptance with a real Prometheus
// (Debian's package) configured as docs/metrics.md tells operators: it
// scrapes a secure lab's apiserver and both nodes' agents (through the
// apiserver's relay) with a scrape token bound to the role metrics, made
// with humcli, over HTTPS verified with the cluster CA. Every target is
// up; PromQL returns the CPU series of a running tiny guest, growing, and
// node-b's reconcile error counter of the blockstorage controller grows
// after a disk qemu-img cannot make is applied; `promtool check metrics`
// passes on the body of every endpoint. node-a runs agentMode All, so it
// has a node listener too (a Core-only agent has none: docs/metrics.md).
func TestLabPrometheus(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "prometheus", "promtool"}, tiny.RequiredCommands...)...)
	img := imageFor(t, tinyImage)
	start := time.Now()
	l := labtest.Up(t, lab.Config{Nodes: 2, Modes: []string{lab.ModeAll, lab.ModeSystem}, HeartbeatSeconds: 1, PollingSeconds: 2})
	_, pub := labtest.NewKey(t)
	v := &vmLab{Lab: l, url: labtest.ServeFromHub(t, l, img), pubKey: pub}
	// The guest downloads and boots while Prometheus starts.
	v.apply(t, v.seedYAML("tester", "256M", 1))
	bearer := labScrapeToken(t, l)
	tokenFile := filepath.Join(t.TempDir(), "scrape.token")
	if err := os.WriteFile(tokenFile, []byte(bearer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Prometheus runs on the host; the apiserver listens in node-a's
	// namespace: a local port relays to it, TLS passing through, so the
	// certificate is verified for the apiserver's own address.
	host, _, _ := net.SplitHostPort(l.APIAddress())
	var nodes []string
	paths := map[string]string{"apiserver": "/metrics"}
	for _, n := range l.Nodes() {
		nodes = append(nodes, n.Name)
		paths[n.Name] = "/api/v0/nodes/" + n.Name + "/metrics"
	}
	fwd := forward(t, l.NS("node-a"), l.APIAddress())
	cfg := docScrapeConfig(t, map[string]string{
		"/etc/prometheus/humstack-scrape-token": tokenFile,
		"/etc/prometheus/humstack-ca.crt":       l.CAFile(),
		"apiserver.example.net:8080":            fwd,
		"[node-a, node-b, node-c]":              "[" + strings.Join(nodes, ", ") + "]",
		"    tls_config:\n":                     "    tls_config:\n      server_name: " + host + "\n",
	})
	promStart := time.Now()
	prom := promtest.StartConfig(t, cfg)
	ready := time.Since(promStart)
	prom.WaitFor(t, 30*time.Second, `up`, func(s []promtest.Sample) bool {
		up := 0
		for _, x := range s {
			if x.Value == 1 {
				up++
			}
		}
		return up == len(paths)
	})
	t.Logf("Prometheus ready in %v, every target (%d) up %v after its start", ready.Round(time.Millisecond), len(paths), time.Since(promStart).Round(time.Millisecond))

	v.waitVM(t, "Running", 2*time.Minute)
	t.Logf("lab start to vm1 Running: %v", time.Since(start).Round(time.Millisecond))
	vm := `{vm="vm1",group="g",namespace="ns",node="node-b",job="humstack-agents",instance="node-b"}`
	cpu := prom.WaitFor(t, 30*time.Second, `humstack_vm_cpu_seconds_total`+vm, positive)
	rate := prom.WaitFor(t, 30*time.Second, `rate(humstack_vm_cpu_seconds_total`+vm+`[5s])`, positive)
	prom.WaitFor(t, 10*time.Second, `humstack_vm_state{vm="vm1",state="Running"}`, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })
	t.Logf("vm1 CPU: %.2f s, rate over 5 s: %.3f", cpu[0].Value, rate[0].Value)

	// The failure is injected once Prometheus scrapes node-b: the error
	// counter (absent before any error, or at its value) must grow.
	const errQ = `humstack_agent_reconcile_total{controller="blockstorage",result="error",node="node-b"}`
	before := 0.0
	if s, err := prom.Query(context.Background(), errQ); err != nil {
		t.Fatal(err)
	} else if len(s) == 1 {
		before = s[0].Value
	}
	v.apply(t, hugeDiskYAML)
	injected := time.Now()
	errs := prom.WaitFor(t, 30*time.Second, errQ, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value > before })
	errs2 := prom.WaitFor(t, 10*time.Second, `humstack_agent_reconcile_errors_total{controller="blockstorage",node="node-b"}`, positive)
	t.Logf("blockstorage reconcile errors on node-b: %v before the failure, %v (errors_total %v) %v after it",
		before, errs[0].Value, errs2[0].Value, time.Since(injected).Round(time.Millisecond))
	checkHugeDisk(t, l)

	var scraped []byte
	for name, path := range paths {
		body := scrapeAs(t, l, bearer, path)
		if findings, err := promtest.Lint(body); err != nil {
			t.Errorf("promtool check metrics on %s (%s): %v\n%s", name, path, err, findings)
		}
		t.Logf("%s: %d bytes pass promtool check metrics", path, len(body))
		scraped = append(scraped, body...)
	}
	checkDashboardNames(t, scraped)
}

// checkDashboardNames: every metric the Grafana board queries
// (deploy/grafana/humstack.json) is in the lab's scrape (apiserver and
// agents, with a running guest and a failing reconcile).
func checkDashboardNames(t *testing.T, scraped []byte) {
	board, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "grafana", "humstack.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range sampleName.FindAllSubmatch(scraped, -1) {
		have[string(m[1])] = true
	}
	names := map[string]bool{}
	for _, n := range boardName.FindAll(board, -1) {
		names[string(n)] = true
	}
	for n := range names {
		if !have[n] {
			t.Errorf("the Grafana board queries %s, which no endpoint of the lab exposes", n)
		}
	}
	t.Logf("the Grafana board's %d metric names are all in the lab's scrape", len(names))
}

var (
	// sampleName is a sample line's metric name (histograms' _bucket,
	// _sum and _count included).
	sampleName = regexp.MustCompile(`(?m)^(humstack_[a-zA-Z0-9_]+)[{ ]`)
	boardName  = regexp.MustCompile(`\bhumstack_[a-zA-Z0-9_]+`)
)

// docScrapeConfig is the scrape configuration docs/metrics.md gives
// operators, both its jobs (the apiserver, the agents through the relay),
// scraping every second, with each example path and address replaced as
// subst says. A replacement the doc no longer has fails the test: the doc
// and this test go together.
func docScrapeConfig(t *testing.T, subst map[string]string) string {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if rest, ok := strings.CutPrefix(block, "scrape_configs:\n"); ok {
			jobs = append(jobs, rest)
		}
	}
	if len(jobs) != 2 {
		t.Fatalf("docs/metrics.md: %d scrape_configs blocks, want 2 (the apiserver's, the agents')", len(jobs))
	}
	cfg := promtest.Global + "scrape_configs:\n" + strings.Join(jobs, "")
	for old, repl := range subst {
		if !strings.Contains(cfg, old) {
			t.Fatalf("docs/metrics.md's scrape configuration has no %q any more:\n%s", old, cfg)
		}
		cfg = strings.ReplaceAll(cfg, old, repl)
	}
	return cfg
}

// positive: one series, above 0.
func positive(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value > 0 }

// checkHugeDisk: the errors counted are the injected ones, the disk in
// Error with qemu-img's reason.
func checkHugeDisk(t *testing.T, l *lab.Lab) {
	t.Helper()
	bs, err := client.For[*api.BlockStorage](l.Client()).Get(context.Background(), sc, "huge")
	if err != nil {
		t.Fatal(err)
	}
	if bs.Status.State != "Error" || !strings.Contains(bs.Status.Message, "too large") {
		t.Errorf("disk huge: state %q, message %q; want Error with qemu-img's reason", bs.Status.State, bs.Status.Message)
	}
}

// labScrapeToken makes the scrape token with humcli, as docs/metrics.md
// does, and returns the bearer token it shows once.
func labScrapeToken(t *testing.T, l *lab.Lab) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "prometheus-token.yaml")
	if err := os.WriteFile(f, []byte(scrapeTokenYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := l.Humcli(context.Background(), "create", "-f", f)
	if err != nil {
		t.Fatalf("humcli create -f: %v\n%s", err, out)
	}
	for line := range strings.Lines(out) {
		if _, tok, ok := strings.Cut(line, "bearer token (shown only now): "); ok {
			return strings.TrimSpace(tok)
		}
	}
	t.Fatalf("no bearer token in humcli's output:\n%s", out)
	return ""
}

// scrapeAs GETs path from the apiserver with bearer, as Prometheus does.
func scrapeAs(t *testing.T, l *lab.Lab, bearer, path string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.APIURL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := l.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s with the scrape token: %d %v %s", path, resp.StatusCode, err, body)
	}
	return body
}

// forward listens on a free loopback port of the host and relays each
// connection to addr inside the network namespace ns, until the test
// ends; it returns the local address.
func forward(t *testing.T, ns, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dial := lab.DialContext(ns)
	var wg sync.WaitGroup
	wg.Add(1) // the accept loop; each connection is added while it runs
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("forwarder: %v", err)
				}
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); relay(ctx, c, dial, addr) }()
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// relay copies both ways between c and a new connection to addr until
// both sides are done or ctx ends.
func relay(ctx context.Context, c net.Conn, dial func(context.Context, string, string) (net.Conn, error), addr string) {
	defer c.Close()
	u, err := dial(ctx, "tcp", addr)
	if err != nil {
		return // the client sees the connection close: a failed scrape
	}
	defer u.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); u.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(u, c)
		closeWrite(u)
	}()
	io.Copy(c, u)
	closeWrite(c)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
