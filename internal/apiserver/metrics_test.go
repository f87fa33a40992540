package apiserver_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/testenv"
)

// newMetricsEnv is newEnv with metrics on (authorization off).
func newMetricsEnv(t *testing.T) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.New(st, apiserver.Options{Log: slog.New(slog.DiscardHandler), Heartbeat: time.Second, Metrics: apiserver.NewMetrics()})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		st.Close()
	})
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, srv: srv, c: c}
}

// scrape reads url's /metrics (bearer: its token, "" none) and parses it.
func scrape(t *testing.T, hc *http.Client, url, bearer string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx(t), "GET", url+"/metrics", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ct)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample is the value of the series of family name with labels (a
// histogram's sample count), and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsCountRequests: each API call lands in the series of its
// route's verb and kind and its code; paths no route serves are one kind
// (unknown), whatever they are; watches and their events are counted while
// they stream; the store is timed by operation; objects are counted by
// kind as they come and go.
func TestMetricsCountRequests(t *testing.T) {
	e := newMetricsEnv(t)
	e.tenancy("g1", "ns1")
	e.mustCreate(network("g1", "ns1", "net1"))
	if code, _ := e.do("GET", "/api/v0/groups/g1/namespaces/ns1/networks/nope", "", ""); code != 404 {
		t.Fatalf("get missing: %d", code)
	}
	for _, p := range []string{"/random/a", "/random/b", "/api/v0/nosuchkind"} {
		e.do("GET", p, "", "")
	}
	wctx, stopWatch := context.WithCancel(ctx(t))
	defer stopWatch()
	events, err := e.c.Watch(wctx, api.NetworkKind, client.Scope{Group: "g1", Namespace: "ns1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.mustCreate(network("g1", "ns1", "net2"))
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	// Objects are counted from a watch of their own, which may trail the
	// test's watch: wait for it (at most 10 s) before reading the rest.
	var f map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		f = scrape(t, http.DefaultClient, e.srv.URL, "")
		if n, _ := sample(f, "humstack_apiserver_objects", "kind", "network"); n == 2 || time.Now().After(deadline) {
			break
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"humstack_apiserver_requests_total", []string{"verb", "create", "kind", "network", "code", "201"}, 2},
		{"humstack_apiserver_requests_total", []string{"verb", "get", "kind", "network", "code", "404"}, 1},
		{"humstack_apiserver_requests_total", []string{"verb", "get", "kind", "unknown", "code", "404"}, 3},
		{"humstack_apiserver_request_duration_seconds", []string{"verb", "create", "kind", "group"}, 1},
		{"humstack_apiserver_watches", []string{"kind", "network"}, 1},
		{"humstack_apiserver_watch_events_total", []string{"kind", "network"}, 1},
		{"humstack_apiserver_inflight_requests", nil, 1}, // the scrape itself
		{"humstack_apiserver_objects", []string{"kind", "network"}, 2},
		{"humstack_apiserver_objects", []string{"kind", "virtualmachine"}, 0},
	} {
		if got, ok := sample(f, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if n, ok := sample(f, "humstack_apiserver_store_request_duration_seconds", "operation", "create"); !ok || n < 4 {
		t.Errorf("store create observations: %v, want >= 4", n)
	}
	for _, fam := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if f[fam] == nil {
			t.Errorf("no %s: the go and process collectors are missing", fam)
		}
	}
	kinds := map[string]bool{}
	for _, m := range f["humstack_apiserver_requests_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "kind" {
				kinds[l.GetValue()] = true
			}
		}
	}
	for k := range kinds {
		if strings.Contains(k, "random") || strings.Contains(k, "nosuchkind") {
			t.Errorf("kind label %q comes from the request path", k)
		}
	}

	stopWatch()
	if code, _ := e.do("DELETE", "/api/v0/groups/g1/namespaces/ns1/networks/net1", "", ""); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		f := scrape(t, http.DefaultClient, e.srv.URL, "")
		w, _ := sample(f, "humstack_apiserver_watches", "kind", "network")
		n, _ := sample(f, "humstack_apiserver_objects", "kind", "network")
		return w == 0 && n == 1, "watches and networks after the watch ended and a delete"
	})
}

// TestMetricsOff: without metrics there is no /metrics route.
func TestMetricsOff(t *testing.T) {
	e := newEnv(t)
	if code, r := e.do("GET", "/metrics", "", ""); code != http.StatusNotFound {
		t.Fatalf("GET /metrics with metrics off: %d %s", code, r.Error)
	}
}
