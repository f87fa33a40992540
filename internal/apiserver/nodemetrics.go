package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// The node metrics proxy: GET /api/v0/nodes/{id}/metrics relays the
// agent's /metrics (on its node listener, which only the API server's
// certificate may read) to the caller, so Prometheus scrapes every node
// through the API server with one scrape token, authorized like any route
// (verb get on the kind metrics: the metrics role, cluster-admin). It
// reaches the node the way the console proxy does: mutual TLS with the
// API server's client certificate, the node's certificate checked by the
// node's name, falling back to the shared secret for an agent that has
// not joined.

// agentMetricsPath is the agent's metrics route on its node listener
// (internal/agent/metrics.Path).
const agentMetricsPath = "/metrics"

// nodeMetricsTimeout bounds one relayed scrape; the agent bounds each VM
// it reads, so a healthy agent answers well within it.
const nodeMetricsTimeout = 30 * time.Second

func (s *Server) nodeMetricsRoutes() {
	s.handle(nil, "GET /api/v0/nodes/{id}/metrics", s.proxyNodeMetrics)
}

// nodeTarget finds the node listener of node id.
func (s *Server) nodeTarget(ctx context.Context, id string) (consoleTarget, error) {
	t := consoleTarget{node: id, name: "node " + id, tls: s.consoles.peer != nil}
	if !api.IsID(id) {
		return t, api.Invalid("(path).id", "%q is not a valid node id", id)
	}
	if s.consoles.secret == "" && s.consoles.peer == nil {
		return t, fmt.Errorf("node metrics are off: the apiserver was started without --tls auto and without "+
			"--node-secret-file, so it cannot reach node listeners: %w", api.ErrUnavailable)
	}
	obj, _, err := (&resource{s: s, kind: api.NodeKind}).read(ctx, &api.Meta{ID: id})
	if errors.Is(err, api.ErrNotFound) {
		return t, fmt.Errorf("node %s is not registered: %w", id, api.ErrNotFound)
	}
	if err != nil {
		return t, err
	}
	t.host = obj.(*api.Node).Spec.DownloadHost
	switch {
	case t.host == "":
		return t, fmt.Errorf("node %s has no downloadHost: its agent's node listener is off, so its metrics cannot be reached: %w",
			id, api.ErrUnavailable)
	case !isHostPort(t.host):
		return t, fmt.Errorf("node %s has a malformed downloadHost %q (want host:port): %w", id, t.host, api.ErrUnavailable)
	}
	return t, nil
}

// proxyNodeMetrics relays the agent's exposition, in the format the
// caller asked for (Accept is passed on).
func (s *Server) proxyNodeMetrics(w http.ResponseWriter, r *http.Request) {
	t, err := s.nodeTarget(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(r.Context(), w, s.log, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), nodeMetricsTimeout)
	defer cancel()
	resp, err := s.getNodeMetrics(ctx, &t, r.Header.Get("Accept"))
	if err != nil {
		writeBadGateway(r.Context(), w, s, fmt.Sprintf("cannot reach the agent of node %s at %s: %v", t.node, t.host, unwrapURLError(err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		writeBadGateway(r.Context(), w, s, fmt.Sprintf("the agent of node %s answered its metrics with HTTP %d: %s",
			t.node, resp.StatusCode, strings.TrimSpace(string(b))))
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, resp.Body); err != nil {
		s.log.WarnContext(r.Context(), "node metrics relay cut short", "request_id", requestID(r.Context()), "node", t.node, "err", err)
	}
}

// getNodeMetrics requests t's /metrics, with the console proxy's fallback
// to plain HTTP and the secret.
func (s *Server) getNodeMetrics(ctx context.Context, t *consoleTarget, accept string) (*http.Response, error) {
	get := func() (*http.Response, error) {
		scheme := "http://"
		if t.tls {
			scheme = "https://"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+t.host+agentMetricsPath, nil)
		if err != nil {
			return nil, err
		}
		req.Header = s.consoles.header(*t)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return s.consoles.client(*t).Do(req)
	}
	resp, err := get()
	if s.fallBack(t, resp, err) {
		resp, err = get()
	}
	return resp, err
}
