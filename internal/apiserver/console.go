package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
)

// The console proxy: a VM's consoles live on the agent of its node
// (internal/agent/console), on the node listener guarded by node
// certificates or the cluster's secret. These routes find the node from
// the VM's placement annotation and the node's spec.downloadHost, and relay
// the user's websocket (or the log) to the agent, over mutual TLS with the
// API server's certificate (--tls auto, console_tls.go) or presenting the
// secret. No console is ever on an open port.
//
// Failures before the relay starts are answered with the usual envelope:
// 404 for a missing VM (or a VM the agent has no console for), 503
// (api.ErrUnavailable) while consoles are off (no --node-secret-file) or
// the VM cannot have one yet (not placed, node unknown or without a
// downloadHost), and 502 "BadGateway" when the agent cannot be reached or
// refuses the apiserver (a 401 from the agent means the apiserver's
// secret is not the agents').

// consoleDialTimeout bounds reaching an agent and its handshake.
const consoleDialTimeout = 10 * time.Second

// maxConsoleMessage bounds one websocket message through the proxy; the
// agent sends at most 32 KiB at a time, noVNC and humcli less.
const maxConsoleMessage = 1 << 20

// consoleProxy is how the server reaches agents' consoles: over mutual
// TLS with its API server certificate when it has one (peer), else over
// plain HTTP with the shared secret.
type consoleProxy struct {
	secret string
	hc     *http.Client
	peer   *consolePeer
}

func newConsoleProxy(secret string) consoleProxy {
	return consoleProxy{secret: secret, hc: &http.Client{Transport: &http.Transport{
		// Nodes are on the cluster network: no proxy from the environment.
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: consoleDialTimeout,
		IdleConnTimeout:       time.Minute,
	}}}
}

// header is what a request to t presents: the secret over plain HTTP.
func (p consoleProxy) header(t consoleTarget) http.Header {
	if t.tls || p.secret == "" {
		return http.Header{}
	}
	return http.Header{"Authorization": {"Bearer " + p.secret}}
}

// client is the HTTP client for t's node listener.
func (p consoleProxy) client(t consoleTarget) *http.Client {
	if !t.tls {
		return p.hc
	}
	return p.peer.client(t.node)
}

func (s *Server) consoleRoutes() {
	vm, k := "GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}", api.VirtualMachineKind
	s.handle(k, vm+"/ws", s.proxyConsole(console.VNCPath))
	s.handle(k, vm+"/serial", s.proxyConsole(console.SerialPath))
	s.handle(k, vm+"/serial/log", s.proxyConsoleLog)
}

// consoleTarget is a VM's console on its node's agent.
type consoleTarget struct {
	vm   console.Key
	name string // "virtualmachine g/ns/id", for messages
	node string
	host string // the node's downloadHost
	tls  bool   // reach it over mutual TLS
}

func (t consoleTarget) url(path func(console.Key) string) string {
	if t.tls {
		return "https://" + t.host + path(t.vm)
	}
	return "http://" + t.host + path(t.vm)
}

// consoleTarget finds the node holding the VM of a request.
func (s *Server) consoleTarget(r *http.Request) (consoleTarget, error) {
	var t consoleTarget
	if s.consoles.secret == "" && s.consoles.peer == nil {
		return t, fmt.Errorf("consoles are off: the apiserver was started without --tls auto and without --node-secret-file "+
			"(the agents' downloadAPI secret): %w", api.ErrUnavailable)
	}
	t.tls = s.consoles.peer != nil
	m, err := (&resource{s: s, kind: api.VirtualMachineKind}).target(r)
	if err != nil {
		return t, err
	}
	t.vm, t.name = console.Key{Group: m.Group, Namespace: m.Namespace, ID: m.ID}, objectName(api.VirtualMachineKind, m)
	vm, _, err := (&resource{s: s, kind: api.VirtualMachineKind}).read(r.Context(), m)
	if err != nil {
		return t, err
	}
	t.node = vm.GetMeta().Annotations[api.AnnotationVirtualMachineNode]
	if t.node == "" {
		return t, fmt.Errorf("%s is not placed on a node yet, so it has no console: %w", t.name, api.ErrUnavailable)
	}
	obj, _, err := (&resource{s: s, kind: api.NodeKind}).read(r.Context(), &api.Meta{ID: t.node})
	if errors.Is(err, api.ErrNotFound) {
		return t, fmt.Errorf("%s is placed on node %s, which is not registered: %w", t.name, t.node, api.ErrUnavailable)
	}
	if err != nil {
		return t, err
	}
	t.host = obj.(*api.Node).Spec.DownloadHost
	if t.host == "" {
		return t, fmt.Errorf("node %s of %s has no downloadHost: its agent runs without the downloadAPI secret, "+
			"so its consoles cannot be reached: %w", t.node, t.name, api.ErrUnavailable)
	}
	if !isHostPort(t.host) {
		return t, fmt.Errorf("node %s has a malformed downloadHost %q (want host:port): %w", t.node, t.host, api.ErrUnavailable)
	}
	return t, nil
}

// isHostPort accepts host:port and nothing that would change the URL's
// meaning (a path, a query, user info).
func isHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil || port == "" || strings.ContainsAny(s, "/?#@ ") {
		return false
	}
	u, err := url.Parse("http://" + s)
	return err == nil && u.Host == s
}

// proxyConsole relays a websocket to the agent's console route path.
func (s *Server) proxyConsole(path func(console.Key) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The target first: a plain GET learns why a console cannot open
		// (no such VM, not placed, consoles off), which a browser's
		// websocket, refused before it opens, never shows its page.
		t, err := s.consoleTarget(r)
		if err != nil {
			writeError(r.Context(), w, s.log, err)
			return
		}
		if !isWebsocket(r) {
			writeError(r.Context(), w, s.log, fmt.Errorf("this is a websocket endpoint (send Upgrade: websocket): %w", api.ErrInvalid))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), consoleDialTimeout)
		up, resp, err := s.dialConsole(ctx, &t, path)
		cancel()
		if err != nil {
			s.agentFailed(w, r, t, resp, err)
			return
		}
		down, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{console.Subprotocol}})
		if err != nil { // Accept has answered
			up.CloseNow()
			return
		}
		s.log.InfoContext(r.Context(), "console attached", "request_id", requestID(r.Context()), "vm", t.vm.String(),
			"node", t.node, "path", r.URL.Path, "identity", auth.FromContext(r.Context()).Name)
		session := audit.StartConsole(r.Context(), http.StatusSwitchingProtocols)
		defer s.guardLink(r, down)()
		session.End(s.pipeWS(down, up))
	}
}

func isWebsocket(r *http.Request) bool {
	for _, v := range strings.Split(r.Header.Get("Upgrade"), ",") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// pipeWS relays messages both ways until one side closes, passes that
// close on to the other side, and returns when both are done, with the
// bytes relayed from the user (in) and to the user (out). Server shutdown
// ends it.
func (s *Server) pipeWS(down, up *websocket.Conn) (in, out int64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	down.SetReadLimit(maxConsoleMessage)
	up.SetReadLimit(maxConsoleMessage)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); in = relayMessages(ctx, cancel, up, down) }()
	go func() { defer wg.Done(); out = relayMessages(ctx, cancel, down, up) }()
	wg.Wait()
	down.CloseNow()
	up.CloseNow()
	return in, out
}

// relayMessages copies src's messages to dst until src ends, then closes
// dst the way src was closed, and cancels the other direction. It returns
// the bytes relayed.
func relayMessages(ctx context.Context, cancel context.CancelFunc, dst, src *websocket.Conn) (n int64) {
	defer cancel()
	for {
		typ, data, err := src.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				code, reason := closeOf(err)
				dst.Close(code, reason)
			}
			return n
		}
		if err := dst.Write(ctx, typ, data); err != nil {
			return n
		}
		n += int64(len(data))
	}
}

// closeOf is the close to pass on for a read error: the peer's own close
// status when it sent one that may be sent again, else going away.
func closeOf(err error) (websocket.StatusCode, string) {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return websocket.StatusGoingAway, "the other side of the console went away"
	}
	switch ce.Code {
	case websocket.StatusNoStatusRcvd:
		return websocket.StatusNormalClosure, ""
	case websocket.StatusAbnormalClosure, websocket.StatusTLSHandshake:
		return websocket.StatusGoingAway, "the other side of the console went away"
	}
	return ce.Code, ce.Reason
}

// proxyConsoleLog streams the agent's copy of the serial log.
func (s *Server) proxyConsoleLog(w http.ResponseWriter, r *http.Request) {
	t, err := s.consoleTarget(r)
	if err != nil {
		writeError(r.Context(), w, s.log, err)
		return
	}
	resp, err := s.getConsoleLog(r.Context(), &t)
	if err != nil {
		s.agentFailed(w, r, t, nil, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.agentFailed(w, r, t, resp, fmt.Errorf("HTTP %d", resp.StatusCode))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if n := resp.Header.Get("Content-Length"); n != "" {
		w.Header().Set("Content-Length", n)
	}
	w.WriteHeader(http.StatusOK)
	session := audit.StartConsole(r.Context(), http.StatusOK)
	n, _ := io.Copy(w, resp.Body)
	session.End(0, n)
}

// agentFailed answers for an agent that could not be reached (resp nil)
// or answered with an error.
func (s *Server) agentFailed(w http.ResponseWriter, r *http.Request, t consoleTarget, resp *http.Response, err error) {
	if resp == nil {
		writeBadGateway(r.Context(), w, s, fmt.Sprintf("cannot reach the agent of node %s at %s: %v", t.node, t.host, unwrapURLError(err)))
		return
	}
	var msg string
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		msg = strings.TrimSpace(string(b))
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		writeError(r.Context(), w, s.log, fmt.Errorf("%s has no console on node %s (the agent says: %s): %w", t.name, t.node, msg, api.ErrNotFound))
	case http.StatusServiceUnavailable:
		writeError(r.Context(), w, s.log, fmt.Errorf("%s: the agent of node %s says: %s: %w", t.name, t.node, msg, api.ErrUnavailable))
	case http.StatusUnauthorized, http.StatusForbidden:
		writeBadGateway(r.Context(), w, s, fmt.Sprintf("the agent of node %s refused the apiserver (HTTP %d): "+
			"--node-secret-file must hold the agents' downloadAPI secret", t.node, resp.StatusCode))
	default:
		writeBadGateway(r.Context(), w, s, fmt.Sprintf("the agent of node %s answered HTTP %d: %s", t.node, resp.StatusCode, msg))
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// writeBadGateway answers 502 in the usual envelope: the API server is
// fine, the agent behind it is not. No api error class means 502, so it
// is answered here rather than by writeError.
func writeBadGateway(ctx context.Context, w http.ResponseWriter, s *Server, msg string) {
	s.log.WarnContext(ctx, "console proxy failed", "request_id", requestID(ctx), "err", msg)
	b, _ := json.Marshal(errorBody{Code: http.StatusBadGateway, Error: msg, Reason: "BadGateway"})
	writeRaw(w, http.StatusBadGateway, append(b, '\n'))
}
