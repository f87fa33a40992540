package lab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// apiserverName is the process name of the API server in the state file
// and for LogTail.
const apiserverName = "apiserver"

// startAPIServer runs the API server in node-a's namespace on its underlay
// address and waits until /healthz answers.
func (l *Lab) startAPIServer(ctx context.Context) error {
	home := filepath.Join(l.st.Dir, apiserverName)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("apiserver dir: %w", err)
	}
	n := l.st.Nodes[0]
	argv := []string{l.cfg.Binaries.APIServer, "--listen-address", n.Address,
		"--listen-port", strconv.Itoa(l.cfg.APIPort), "--data-dir", filepath.Join(home, "db")}
	if l.st.Secure {
		// Consoles are reached with the API server's own certificate.
		argv = append(argv, "--tls", "auto", "--authorization", "rbac")
	} else {
		// Plain HTTP and no authorization, asked for by name (the
		// defaults are HTTPS and RBAC); the API server holds the agents'
		// secret to reach their consoles.
		argv = append(argv, "--insecure-http", "--authorization", "off")
		secret := filepath.Join(home, "node-secret")
		if err := os.WriteFile(secret, []byte(l.cfg.DownloadSecret+"\n"), 0o600); err != nil {
			return fmt.Errorf("apiserver secret: %w", err)
		}
		argv = append(argv, "--node-secret-file", secret)
	}
	p := &proc{Name: apiserverName, NS: n.NS, Log: filepath.Join(home, "apiserver.log"), Argv: argv}
	if err := l.run(p); err != nil {
		return err
	}
	return l.waitHealthy(ctx, p)
}

// run starts p and records it in the state file.
func (l *Lab) run(p *proc) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := p.start(l.cfg.Detach); err != nil {
		return err
	}
	replaced := false
	for i, q := range l.st.Procs {
		if q.Name == p.Name {
			l.st.Procs[i], replaced = p, true
		}
	}
	if !replaced {
		l.st.Procs = append(l.st.Procs, p)
	}
	l.log.Info("started", "proc", p.Name, "pid", p.PID, "log", p.Log)
	return l.st.save()
}

// waitHealthy polls the API server's /healthz from the test process.
func (l *Lab) waitHealthy(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReadyTimeout)
	defer cancel()
	hc := &http.Client{Transport: l.tr, Timeout: time.Second}
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("apiserver exited during start-up:\n%s", l.LogTail(apiserverName, 20))
		}
		resp, err := l.getHealthz(hc)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("apiserver not healthy: %w (last: %v)\n%s", ctx.Err(), last, l.LogTail(apiserverName, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartAgent (re)starts the agent of a node, with the config it was first
// given, appending to its log.
func (l *Lab) StartAgent(node string) error {
	n, ok := l.node(node)
	if !ok {
		return fmt.Errorf("lab %s: no node %q", l.st.ID, node)
	}
	if p := l.procOf(node); p != nil && !p.exited() {
		return fmt.Errorf("lab %s: the agent of %s runs (pid %d); StopAgent first", l.st.ID, node, p.PID)
	}
	home := filepath.Join(l.st.Dir, n.Name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("agent dir: %w", err)
	}
	cfgPath := filepath.Join(home, "agent.yaml")
	if _, err := os.Stat(cfgPath); os.IsNotExist(err) {
		y := agentConfig(&l.cfg, l.st.Nodes[0].Address, l.cfg.APIPort, n, home)
		if l.st.Secure {
			y += l.joinKeys(n.Name, home)
		}
		if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
			return fmt.Errorf("agent config: %w", err)
		}
	}
	p := &proc{Name: n.Name, NS: n.NS, Log: filepath.Join(home, "agent.log"),
		Argv: []string{l.cfg.Binaries.Agent, "--config", cfgPath}}
	return l.run(p)
}

// StopAgent kills a node's agent with SIGKILL, by PID, and waits for it:
// the node's heartbeat stops as if the machine had crashed.
func (l *Lab) StopAgent(node string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.st.proc(node)
	if p == nil {
		return fmt.Errorf("lab %s: no agent on %q", l.st.ID, node)
	}
	if err := p.kill(); err != nil {
		return fmt.Errorf("stop agent %s: %w", node, err)
	}
	l.log.Info("killed", "proc", node, "pid", p.PID)
	return nil
}

// procOf returns the process recorded under name, or nil.
func (l *Lab) procOf(name string) *proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.proc(name)
}

// node finds a node by name.
func (l *Lab) node(name string) (Node, bool) {
	for _, n := range l.st.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// waitNodesReady waits until every node is Ready, failing early with the
// log of an agent that has exited.
func (l *Lab) waitNodesReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReadyTimeout)
	defer cancel()
	var why string
	for {
		for _, n := range l.st.Nodes {
			if p := l.procOf(n.Name); p != nil && p.exited() {
				return fmt.Errorf("agent %s exited during start-up:\n%s", n.Name, l.LogTail(n.Name, 20))
			}
		}
		ready, w := l.nodesReady(ctx)
		if ready {
			return nil
		}
		why = w
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes not Ready: %w: %s", ctx.Err(), why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// nodesReady reports whether every node is Ready, and if not, why.
func (l *Lab) nodesReady(ctx context.Context) (bool, string) {
	objs, _, err := l.client.List(ctx, api.NodeKind, client.Scope{})
	if err != nil {
		return false, err.Error()
	}
	state := map[string]string{}
	for _, o := range objs {
		state[o.GetMeta().ID] = o.(*api.Node).Status.State
	}
	var notReady []string
	for _, n := range l.st.Nodes {
		if state[n.Name] != api.NodeReady {
			notReady = append(notReady, fmt.Sprintf("%s=%q", n.Name, state[n.Name]))
		}
	}
	return len(notReady) == 0, "not Ready: " + strings.Join(notReady, ", ")
}
