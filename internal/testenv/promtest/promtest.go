// Package promtest runs a real Prometheus server for tests: Debian's
// prometheus package (/usr/bin/prometheus, promtool). Start writes a
// config with the given scrape targets (bearer_token_file, the target's CA
// as tls_config ca_file, scrape_interval 1s), starts Prometheus on a free
// loopback port with its data in the test's temp dir, waits until it is
// ready and stops it, by its PID, when the test ends; StartConfig takes a
// whole prometheus.yml instead. Query runs PromQL
// through its HTTP API; CheckMetrics runs `promtool check metrics` on a
// scraped body. Tests that use it need both commands
// (testenv.RequireCommands: under CI=true a missing one fails).
package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
)

// Target is one scrape job.
type Target struct {
	Job string
	// Address is host:port of the endpoint.
	Address string
	// Scheme is http or https (empty: https).
	Scheme string
	// MetricsPath is the path scraped (empty: /metrics).
	MetricsPath string
	// BearerTokenFile holds the scrape token; empty: none.
	BearerTokenFile string
	// CAFile verifies the target's serving certificate (https).
	CAFile string
}

// Server is a running Prometheus.
type Server struct {
	// URL is its HTTP API and UI (http://127.0.0.1:PORT).
	URL  string
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{} // closed when the process has exited
}

// Require skips (fails under CI) when prometheus or promtool is missing.
func Require(t testing.TB) { t.Helper(); testenv.RequireCommands(t, "prometheus", "promtool") }

// Start runs Prometheus scraping targets until the test ends.
func Start(t testing.TB, targets ...Target) *Server {
	t.Helper()
	return StartConfig(t, Config(targets...))
}

// StartConfig runs Prometheus with yml, a whole prometheus.yml (e.g. an
// operator's configuration from the docs after Global), until the test
// ends.
func StartConfig(t testing.TB, yml string) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	// The port is free when asked for and taken a moment later by
	// Prometheus; a race lost to another process is tried again.
	var last string
	for range 3 {
		s, err := start(t, cfg, dir)
		if err == nil {
			return s
		}
		last = err.Error()
		if !strings.Contains(last, "address already in use") {
			break
		}
	}
	t.Fatalf("prometheus did not start: %s", last)
	return nil
}

// Global is the global section of Config: scrapes and rule evaluations
// every second, so a test sees a change within seconds.
const Global = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"

// Config is the prometheus.yml scraping targets every second.
func Config(targets ...Target) string {
	var b strings.Builder
	b.WriteString(Global + "scrape_configs:\n")
	for _, tg := range targets {
		scheme, path := tg.Scheme, tg.MetricsPath
		if scheme == "" {
			scheme = "https"
		}
		if path == "" {
			path = "/metrics"
		}
		// Quoted the JSON way, which YAML reads as the same strings.
		fmt.Fprintf(&b, "  - job_name: %s\n    scheme: %s\n    metrics_path: %s\n", strconv.Quote(tg.Job), scheme, strconv.Quote(path))
		if tg.BearerTokenFile != "" {
			fmt.Fprintf(&b, "    bearer_token_file: %s\n", strconv.Quote(tg.BearerTokenFile))
		}
		if tg.CAFile != "" {
			fmt.Fprintf(&b, "    tls_config:\n      ca_file: %s\n", strconv.Quote(tg.CAFile))
		}
		fmt.Fprintf(&b, "    static_configs:\n      - targets: [%s]\n", strconv.Quote(tg.Address))
	}
	return b.String()
}

func start(t testing.TB, cfg, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	data, err := os.MkdirTemp(dir, "data")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, out: &testenv.SyncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command("prometheus", "--config.file="+cfg, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--log.level=info")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.stop(t)
		return nil, fmt.Errorf("%w\n%s", err, s.out)
	}
	t.Cleanup(func() { s.stop(t) })
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /-/ready until Prometheus answers 200.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			return errors.New("prometheus exited")
		default:
		}
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus not ready after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the process this package started, by its PID: SIGTERM, then
// SIGKILL if it has not exited after 10 s.
func (s *Server) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Errorf("prometheus (pid %d) ignored SIGTERM; killing it", s.cmd.Process.Pid)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Output is what Prometheus has logged so far.
func (s *Server) Output() string { return s.out.String() }

// Sample is one series of an instant vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query evaluates an instant PromQL query now. A query Prometheus cannot
// parse is an error naming the problem.
func (s *Server) Query(ctx context.Context, expr string) ([]Sample, error) {
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := s.api(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &body); err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: a %s, want an instant vector", expr, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		v, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %w", expr, v, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: f})
	}
	return out, nil
}

// WaitFor runs expr every 500 ms until ok accepts its result, and fails the
// test after timeout with the last result, the targets' health and the
// server's log.
func (s *Server) WaitFor(t testing.TB, timeout time.Duration, expr string, ok func([]Sample) bool) []Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last []Sample
	var err error
	for {
		if last, err = s.Query(ctx, expr); err == nil && ok(last) {
			return last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after %v: query %s: %v (err %v)\ntargets: %s\nprometheus log:\n%s", timeout, expr, last, err, s.targets(), s.Output())
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// targets describes each scrape target's health and last error.
func (s *Server) targets() string {
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.api(ctx, "/api/v1/targets", &body); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, tg := range body.Data.ActiveTargets {
		fmt.Fprintf(&b, "%s: %s %s; ", tg.ScrapeURL, tg.Health, tg.LastError)
	}
	return b.String()
}

// api GETs path from the HTTP API and decodes its JSON (errors included:
// a bad query is 400 with a JSON body).
func (s *Server) api(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %s: %q", path, resp.Status, b)
	}
	return nil
}

// CheckMetrics runs `promtool check metrics` on a scraped body (the
// Prometheus text format) and fails the test with its findings when it
// finds anything: a format error or a lint problem.
func CheckMetrics(t testing.TB, body []byte) {
	t.Helper()
	Require(t)
	if findings, err := Lint(body); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, findings)
	}
}

// Lint runs `promtool check metrics` on body and returns what it printed;
// the error is non-nil when it found anything.
func Lint(body []byte) (string, error) {
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.CombinedOutput()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		err = errors.New("findings")
	}
	return string(out), err
}
