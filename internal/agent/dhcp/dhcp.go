// Package dhcp runs the DHCP and DNS server of the networks a node serves
// (networkv0/dhcp_node_name): one dnsmasq per network (package
// host/dnsmasq), in a network namespace of its own, "<prefix>hsdhcp-<hash>"
// (hash: 8 hex digits of sha256 of group/namespace/network; prefix as for
// routers, router.DefaultNetnsPrefix), joined to the network's bridge by a
// veth whose node end is "hd<hash>" and whose inside end, eth0, holds
// spec.dhcp.address with the network's prefix; its default route goes via
// the network's gateway, through which the upstreams are reached.
//
// The server hands every VM NIC of the network's namespace with an
// address (the IPAM's) a static lease on its MAC, and answers
// <vm>.<namespace>.<group>.<domain> (and <vm>, for the search domain) for
// each VM's first NIC on the network. A changed server option (address,
// domain, upstreams) restarts dnsmasq (the lease file stays); changed
// hosts, gateway or nameservers only reload it (SIGHUP). Its state
// (options, hosts, leases, pidfile, log bounded to two files of
// dnsmasq.MaxLogSize) lives in <Dir>/<hash>, Dir beside the agent's VM
// directory.
//
// The leases and the router's gateway come from the network's
// status.dhcp, where the Core agent writes them (package leases): this
// node may not read the VMs placed on others.
//
// It is a system.NetworkService: the network controller realizes the
// network on this node while the node serves it, calls Apply after the
// bridge is right, and Remove (before it lets the network go) when the
// node no longer serves it: DHCP disabled, the annotation moved, the
// network deleted.
package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/router"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/dnsmasq"
)

// Server states (status.dhcp.state).
const (
	StateRunning = "Running"
	StatePending = "Pending"
	StateError   = "Error"
)

// retryError is how soon a server in Error is tried again besides resyncs.
const retryError = 10 * time.Second

// Config configures the node's servers.
type Config struct {
	Node string
	// Dir holds one state directory per server.
	Dir    string
	Client *client.Client
	// NetnsPrefix starts every server namespace; empty: derived from the
	// agent's own namespace, as for routers.
	NetnsPrefix string
	Log         *slog.Logger
}

// Server is the node's system.NetworkService for DHCP and DNS.
type Server struct {
	node, dir, prefix string
	c                 *client.Client
}

var _ system.NetworkService = (*Server)(nil)

// New returns the service.
func New(cfg Config) *Server {
	prefix := cfg.NetnsPrefix
	if prefix == "" {
		prefix = router.DefaultNetnsPrefix(cfg.Log)
	}
	return &Server{node: cfg.Node, dir: cfg.Dir, prefix: prefix, c: cfg.Client}
}

// Name implements system.NetworkService.
func (s *Server) Name() string { return "DHCP server" }

// Serves implements system.NetworkService: DHCP on, with an address, and
// this node named by networkv0/dhcp_node_name.
func (s *Server) Serves(n *api.Network) bool {
	return On(n) && spec(n).Address != "" && n.Meta.Annotations[api.AnnotationDHCPNode] == s.node
}

type names struct{ hash, netns, link, dir string }

func (s *Server) names(m *api.Meta) names {
	h := Hash(m.Group, m.Namespace, m.ID)
	return names{hash: h, netns: NetnsName(s.prefix, h), link: HostLink(h), dir: filepath.Join(s.dir, h)}
}

// Apply implements system.NetworkService.
func (s *Server) Apply(ctx context.Context, n *api.Network) (controller.Result, error) {
	nm := s.names(&n.Meta)
	p, err := makePlan(n, nm.dir)
	var w waitError
	if errors.As(err, &w) {
		return controller.Result{}, s.report(ctx, n, StatePending, w.msg, 0)
	}
	if err == nil {
		err = s.converge(ctx, n, nm, p)
	}
	if err != nil {
		return controller.Result{RequeueAfter: retryError}, errors.Join(err, s.report(ctx, n, StateError, err.Error(), 0))
	}
	return controller.Result{}, s.report(ctx, n, StateRunning, "", len(p.conf.Hosts))
}

// converge makes the namespace, the files and the process right.
func (s *Server) converge(ctx context.Context, n *api.Network, nm names, p plan) error {
	st := site{Netns: nm.netns, HostLink: nm.link, Bridge: system.BridgeName(n.Meta.Group, n.Meta.Namespace, n.Meta.ID),
		Address: p.conf.Address, Gateway: p.conf.Gateway}
	if err := ensureSite(st, nm.hash); err != nil {
		return err
	}
	files, err := dnsmasq.Render(p.conf)
	if err != nil {
		return err
	}
	ch, err := dnsmasq.Write(nm.dir, files)
	if err != nil {
		return err
	}
	log := controller.Logger(ctx).With("netns", nm.netns)
	if rotated, err := dnsmasq.RotateLog(nm.dir, dnsmasq.MaxLogSize); err != nil {
		return err
	} else if rotated {
		log.Info("dhcp server log rotated", "keep", dnsmasq.LogName+".1")
	}
	pid, running := dnsmasq.Find(nm.dir)
	switch {
	case running && ch.Conf:
		if err := dnsmasq.Stop(ctx, nm.dir); err != nil {
			return err
		}
		log.Info("dhcp server options changed: restarting", "pid", pid)
	case running && ch.Reload:
		log.Info("dhcp server hosts or handed-out options changed: reloading", "pid", pid, "hosts", len(p.conf.Hosts),
			"gateway", p.gatewayFrom)
		return dnsmasq.Reload(nm.dir)
	case running:
		return nil
	}
	pid, err = dnsmasq.Start(ctx, nm.dir, nm.netns)
	if err != nil {
		return err
	}
	log.Info("dhcp server started", "pid", pid, "hosts", len(p.conf.Hosts), "gateway", p.gatewayFrom)
	return nil
}

// Remove implements system.NetworkService: the process, the namespace and
// veth, the state directory (leases included), and status.dhcp if it is
// this node's.
func (s *Server) Remove(ctx context.Context, n *api.Network) error {
	nm := s.names(&n.Meta)
	_, statErr := os.Stat(nm.dir)
	if errors.Is(statErr, os.ErrNotExist) && !siteExists(nm.netns, nm.link) {
		return s.clearStatus(ctx, n)
	}
	if err := dnsmasq.Stop(ctx, nm.dir); err != nil {
		return err
	}
	if err := removeSite(nm.netns, nm.link); err != nil {
		return err
	}
	if err := os.RemoveAll(nm.dir); err != nil {
		return fmt.Errorf("dhcp state: %w", err)
	}
	controller.Logger(ctx).Info("dhcp server removed", "netns", nm.netns)
	return s.clearStatus(ctx, n)
}

func (s *Server) clearStatus(ctx context.Context, n *api.Network) error {
	if n.Status.DHCP == nil || n.Status.DHCP.Node != s.node {
		return nil
	}
	// The Core agent's hosts stay: another node may take over.
	_, err := controller.UpdateStatus(ctx, s.c, n, func(x *api.Network) bool {
		if x.Status.DHCP == nil || x.Status.DHCP.Node != s.node {
			return false
		}
		x.Status.DHCP.Node, x.Status.DHCP.State, x.Status.DHCP.Message, x.Status.DHCP.Leases = "", "", "", 0
		if len(x.Status.DHCP.Hosts) == 0 && x.Status.DHCP.RouterGateway == "" {
			x.Status.DHCP = nil // DHCP disabled: the Core agent cleared its part already
		}
		return true
	})
	return ignoreNotFound(err)
}

// report writes status.dhcp, if it changed.
func (s *Server) report(ctx context.Context, n *api.Network, state, msg string, leases int) error {
	_, err := controller.UpdateStatus(ctx, s.c, n, func(x *api.Network) bool {
		d := x.Status.DHCP
		if d == nil {
			d = &api.NetworkDHCPStatus{}
		}
		if d.Node == s.node && d.State == state && d.Message == msg && d.Leases == leases {
			return false
		}
		d.Node, d.State, d.Message, d.Leases = s.node, state, msg, leases
		x.Status.DHCP = d
		return true
	})
	return ignoreNotFound(err)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}
