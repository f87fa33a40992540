package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/humstack/humstack/client"
)

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	cfg    Config
	log    *slog.Logger
	tr     *http.Transport // dials inside node-a; closed by Down
	client *client.Client

	mu sync.Mutex // guards st
	st state

	// A Secure lab's join tokens by node and CA fingerprint, for the
	// agents' first configs (secureSetup).
	joinTokens    map[string]string
	caFingerprint string
}

// Up makes a lab: namespaces, links, the API server and one agent per
// node, and returns when every node is Ready. On failure it removes what
// it made before returning the error. Up refuses to start over leftovers
// of a lab with the same ID unless cfg.CleanStale is set.
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l, err := newLab(cfg)
	if err != nil {
		return nil, err
	}
	if err := l.claim(ctx); err != nil {
		return nil, err
	}
	if err := l.up(ctx); err != nil {
		derr := l.Down(context.WithoutCancel(ctx))
		return nil, errors.Join(fmt.Errorf("lab %s: %w", cfg.ID, err), derr)
	}
	return l, nil
}

// newLab lays out the lab's names and addresses; it makes nothing.
func newLab(cfg Config) (*Lab, error) {
	p := Prefix(cfg.ID)
	st := state{
		ID: cfg.ID, Prefix: p, Dir: WorkDir(cfg.BaseDir, cfg.ID),
		APIAddress: net.JoinHostPort(nodeAddress(0), strconv.Itoa(cfg.APIPort)),
		Binaries:   cfg.Binaries, Detached: cfg.Detach, Secure: !cfg.Insecure,
	}
	if !cfg.Detach {
		st.Owner = self()
	}
	for i := range cfg.Nodes {
		n := nodeName(i)
		st.Nodes = append(st.Nodes, Node{Name: n, Mode: cfg.mode(i), NS: p + n, Address: nodeAddress(i)})
	}
	return attach(cfg, st)
}

// attach makes a Lab value for a lab described by st.
func attach(cfg Config, st state) (*Lab, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	l := &Lab{cfg: cfg, log: cfg.Log.With("lab", st.ID), st: st}
	l.tr = &http.Transport{DialContext: DialContext(st.Prefix + nodeName(0))}
	c, err := client.New(st.APIAddress, client.WithHTTPClient(&http.Client{Transport: l.tr}))
	if err != nil {
		return nil, fmt.Errorf("lab client: %w", err)
	}
	l.client = c
	if st.Secure {
		if err := l.useSecureClient(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err // not yet made (Up) is fine; unreadable is not
		}
	}
	return l, nil
}

// claim checks for leftovers (removing them with CleanStale) and makes
// the work directory. Failing here, Up has made nothing.
func (l *Lab) claim(ctx context.Context) error {
	left, err := leftovers(l.st.Prefix, l.st.Dir)
	if err != nil {
		return err
	}
	if len(left) > 0 && !l.cfg.CleanStale {
		return fmt.Errorf("lab %s: leftovers of an earlier run: %v; remove them with `humlab down --id %s` or set CleanStale", l.st.ID, left, l.st.ID)
	}
	if len(left) > 0 {
		l.log.Info("removing leftovers of an earlier run", "leftovers", left)
		if err := Clean(ctx, l.cfg.BaseDir, l.st.ID); err != nil {
			return fmt.Errorf("lab %s: clean leftovers: %w", l.st.ID, err)
		}
	}
	if err := os.MkdirAll(l.cfg.BaseDir, 0o755); err != nil {
		return fmt.Errorf("lab base dir: %w", err)
	}
	if err := os.Mkdir(l.st.Dir, 0o700); err != nil {
		return fmt.Errorf("lab work dir: %w", err) // exists: another Up won the race
	}
	return l.st.save()
}

// up makes the network, then starts the processes.
func (l *Lab) up(ctx context.Context) error {
	if err := l.buildNetwork(ctx); err != nil {
		return err
	}
	l.log.Info("network up", "namespaces", l.st.Namespaces)
	if err := l.startAPIServer(ctx); err != nil {
		return err
	}
	if l.st.Secure {
		if err := l.secureSetup(ctx); err != nil {
			return err
		}
	}
	for _, n := range l.st.Nodes {
		if err := l.StartAgent(n.Name); err != nil {
			return err
		}
	}
	if err := l.waitNodesReady(ctx); err != nil {
		return err
	}
	l.log.Info("lab up", "api", l.st.APIAddress, "dir", l.st.Dir)
	return nil
}

// buildNetwork makes every namespace and link (see the package doc).
func (l *Lab) buildNetwork(ctx context.Context) error {
	hub, out := l.NS(Hub), l.NS(Outside)
	if err := l.addNetns(ctx, hub, false); err != nil {
		return err
	}
	if err := l.addNetns(ctx, out, true); err != nil {
		return err
	}
	if err := buildHub(hub); err != nil {
		return err
	}
	if err := buildOutside(out); err != nil {
		return err
	}
	for _, n := range l.st.Nodes {
		if err := l.addNetns(ctx, n.NS, true); err != nil {
			return err
		}
		if err := wireNode(hub, out, n.NS, n.Name, n.Address); err != nil {
			return err
		}
	}
	for _, ns := range l.st.Namespaces {
		if err := quickARP(ns); err != nil {
			return err
		}
	}
	return nil
}

// addNetns makes and prepares one namespace, recording it first so a
// failure half-way is still cleaned up.
func (l *Lab) addNetns(ctx context.Context, name string, forward bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	l.st.Namespaces = append(l.st.Namespaces, name)
	err := l.st.save()
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if err := addNetns(ctx, name); err != nil {
		return err
	}
	return prepareNetns(name, forward)
}

// Down stops every process of the lab and removes its namespaces (and so
// every link in them), mounts under its directory, and the directory. It
// keeps going past failures and returns them all. It may be called again,
// and on a nil Lab (a failed Up), where it does nothing.
func (l *Lab) Down(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.tr.CloseIdleConnections() // an open socket would keep node-a's namespace alive
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, p := range l.st.Procs {
		errs = append(errs, p.kill())
	}
	errs = append(errs, sweep(ctx, l.st.Prefix, l.st.Dir))
	l.tr.CloseIdleConnections()
	return errors.Join(errs...)
}

// ID returns the lab's ID.
func (l *Lab) ID() string { return l.st.ID }

// Dir returns the lab's work directory.
func (l *Lab) Dir() string { return l.st.Dir }

// NS returns the namespace of a lab name: a node name, Hub or Outside.
func (l *Lab) NS(name string) string { return l.st.Prefix + name }

// Nodes returns the lab's nodes in order (node-a first).
func (l *Lab) Nodes() []Node { return append([]Node(nil), l.st.Nodes...) }

// APIAddress returns the API server's host:port on the underlay.
func (l *Lab) APIAddress() string { return l.st.APIAddress }

// Client returns a client of the lab's API server that works from the
// calling process (it dials inside node-a's namespace).
func (l *Lab) Client() *client.Client { return l.client }
