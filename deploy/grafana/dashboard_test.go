package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/testenv/promtest"
)

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // a collapsed row's
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// variables stand for the dashboard's variables in a query promtool can
// parse; a variable without a value here fails the test.
var variables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$node", ".*", "$top", "10")

var metricName = regexp.MustCompile(`\bhumstack_[a-zA-Z0-9_]+`)

// queries returns every panel's expressions, by panel title, and checks
// the rows the dashboard must have.
func queries(t *testing.T) (map[string][]string, dashboard) {
	b, err := os.ReadFile("humstack.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("humstack.json: %v", err)
	}
	out := map[string][]string{}
	var rows []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				rows = append(rows, p.Title)
			}
			for _, tg := range p.Targets {
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, r := range []string{"API health", "Reconcile health", "Nodes", "Top VMs"} {
		if !slices.Contains(rows, r) {
			t.Errorf("no row %q (rows: %v)", r, rows)
		}
	}
	return out, d
}

// TestDashboardQueriesParse: every panel's query, its variables replaced,
// is PromQL that promtool parses (as a recording rule's expression); a
// broken one would fail, as the control shows.
func TestDashboardQueriesParse(t *testing.T) {
	promtest.Require(t)
	qs, _ := queries(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for title, exprs := range qs {
		for _, e := range exprs {
			q := variables.Replace(e)
			if strings.Contains(q, "$") {
				t.Errorf("panel %q: a variable the test does not know: %s", title, q)
			}
			n++
			fmt.Fprintf(&rules, "      - record: panel_%d\n        expr: %s\n", n, jsonQuote(q))
		}
	}
	if n < 20 {
		t.Fatalf("%d queries: the dashboard lost its panels", n)
	}
	if out, err := checkRules(t, rules.String()); err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
	broken := "groups:\n  - name: control\n    rules:\n      - record: broken\n        expr: " + jsonQuote("sum by (kind) (rate(humstack_apiserver_requests_total[5m])") + "\n"
	if out, err := checkRules(t, broken); err == nil {
		t.Fatalf("promtool accepted a broken expression: %s", out)
	}
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func checkRules(t *testing.T, rules string) (string, error) {
	p := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(p, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("promtool", "check", "rules", p).CombinedOutput()
	return string(out), err
}

// TestDashboardMetricsExist: every metric the dashboard names exists: the
// apiserver's in a real scrape of an apiserver that has served some
// requests and a watch, the agents' in docs/metrics.md (the agent
// package's list; the lab test of the agents checks them against a
// scrape). The apiserver's metrics in docs/metrics.md are exactly those
// the scrape shows.
func TestDashboardMetricsExist(t *testing.T) {
	qs, d := queries(t)
	scraped := scrapeAPIServer(t)
	documented := documentedMetrics(t)
	known := map[string]bool{}
	for name, typ := range documented {
		if !strings.HasPrefix(name, "humstack_apiserver_") {
			addFamily(known, name, typ)
		}
	}
	for name, typ := range scraped {
		addFamily(known, name, typ)
		if _, ok := documented[name]; !ok && strings.HasPrefix(name, "humstack_") {
			t.Errorf("%s (%s) is exposed but not in docs/metrics.md", name, typ)
		}
	}
	for name := range documented {
		if _, ok := scraped[name]; strings.HasPrefix(name, "humstack_apiserver_") && !ok {
			t.Errorf("docs/metrics.md documents %s, which the apiserver does not expose", name)
		}
	}
	for _, v := range d.Templating.List {
		qs["variable "+v.Name] = append(qs["variable "+v.Name], v.Definition)
	}
	for title, exprs := range qs {
		for _, e := range exprs {
			names := metricName.FindAllString(e, -1)
			if len(names) == 0 && !strings.HasPrefix(title, "variable ") {
				t.Errorf("panel %q: %s names no humstack metric", title, e)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("panel %q: %s is no metric humstack exposes", title, n)
				}
			}
		}
	}
}

// addFamily adds a family's series names (a histogram's _bucket, _sum and
// _count).
func addFamily(known map[string]bool, name, typ string) {
	known[name] = true
	if typ == "histogram" {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			known[name+s] = true
		}
	}
}

var docRow = regexp.MustCompile("(?m)^\\| `(humstack_[a-z0-9_]+)` \\| (counter|gauge|histogram|summary) \\|")

// documentedMetrics reads the metric tables of docs/metrics.md: name ->
// type.
func documentedMetrics(t *testing.T) map[string]string {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range docRow.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md has no metric table rows (| `name` | type | ...)")
	}
	return out
}

// scrapeAPIServer runs an apiserver with metrics, makes it serve creates,
// a failed get and a watch event, and returns its families: name -> type.
func scrapeAPIServer(t *testing.T) map[string]string {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.New(st, apiserver.Options{Log: slog.New(slog.DiscardHandler), Metrics: apiserver.NewMetrics()})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); s.Close(); st.Close() })
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := c.Watch(ctx, api.GroupKind, client.Scope{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := api.GroupKind.New()
	g.GetMeta().ID = "g1"
	if _, err := c.Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, f := range fams {
		out[name] = strings.ToLower(f.GetType().String())
	}
	return out
}
