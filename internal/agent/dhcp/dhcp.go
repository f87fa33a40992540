// Package dhcp runs the DHCP and DNS server of the networks a node serves:
// a VXLAN or VLAN network's one server on the node named by
// networkv0/dhcp_node_name, and a Bridge network's (api.DHCPPerNode)
// wherever the network is realized for a VM or router, since each node's
// bridge is an L2 island of its own: the same address and configuration
// on every island, like the distributed gateway. One dnsmasq per network
// and node (package
// host/dnsmasq), in a network namespace of its own, "<prefix>hsdhcp-<hash>"
// (hash: 8 hex digits of sha256 of group/namespace/network; prefix as for
// routers, router.DefaultNetnsPrefix), joined to the network's bridge by a
// veth whose node end is "hd<hash>" and whose inside end, eth0, holds
// spec.dhcp.address with the network's prefix; its default route goes via
// the network's gateway, through which the upstreams are reached.
//
// The server hands every VM NIC of the network's namespace with an
// address (the IPAM's) a static lease on its MAC, the bridge's MTU
// (option 26), and answers
// <vm>.<namespace>.<group>.<domain> (and <vm>, for the search domain) for
// each VM's first NIC on the network. A changed server option (address,
// domain, upstreams) restarts dnsmasq (the lease file stays); changed
// hosts, gateway, nameservers or MTU only reload it (SIGHUP). Its state
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
// network's last user here gone (Bridge), the network deleted. The state
// goes to status.dhcp (VXLAN, VLAN) or to this node's entry of
// status.dhcp.servers (Bridge).
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
// for a Bridge network used here, else this node named by
// networkv0/dhcp_node_name.
func (s *Server) Serves(n *api.Network, used bool) bool {
	if !n.Spec.DHCPOn() || spec(n).Address == "" {
		return false
	}
	if api.DHCPPerNode(&n.Meta) {
		return used
	}
	return n.Meta.Annotations[api.AnnotationDHCPNode] == s.node
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
	mtu, err := bridgeMTU(st.Bridge)
	if err != nil {
		return err
	}
	p.conf.MTU = mtu
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
	pid, running, err := find(nm)
	if err != nil {
		return err
	}
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
	// Not running here: a server of this directory elsewhere (a namespace
	// deleted under it, a lost pidfile) holds the leases file; it goes.
	if err := dnsmasq.Stop(ctx, nm.dir); err != nil {
		return err
	}
	pid, err = dnsmasq.Start(ctx, nm.dir, nm.netns)
	if err != nil {
		return err
	}
	log.Info("dhcp server started", "pid", pid, "hosts", len(p.conf.Hosts), "gateway", p.gatewayFrom)
	return nil
}

// find returns the server of nm if it runs in nm's namespace.
func find(nm names) (int, bool, error) {
	pid, ok := dnsmasq.Find(nm.dir)
	if !ok {
		return 0, false, nil
	}
	in, err := dnsmasq.InNetns(pid, nm.netns)
	return pid, in, err
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
	if !s.reported(n.Status.DHCP) {
		return nil
	}
	// The Core agent's hosts stay: another node may take over.
	_, err := controller.UpdateStatus(ctx, s.c, n, func(x *api.Network) bool {
		d := x.Status.DHCP
		if !s.reported(d) {
			return false
		}
		delete(d.Servers, s.node)
		if len(d.Servers) == 0 {
			d.Servers = nil
		}
		if d.Node == s.node {
			d.Node, d.State, d.Message, d.Leases = "", "", "", 0
		}
		if d.Node == "" && d.Servers == nil && len(d.Hosts) == 0 && d.RouterGateway == "" {
			x.Status.DHCP = nil // DHCP disabled: the Core agent cleared its part already
		}
		return true
	})
	return ignoreNotFound(err)
}

// reported says whether d holds a state of this node's.
func (s *Server) reported(d *api.NetworkDHCPStatus) bool {
	if d == nil {
		return false
	}
	_, ok := d.Servers[s.node]
	return ok || d.Node == s.node
}

// report writes this node's server state, if it changed: status.dhcp's
// for the one server of a VXLAN or VLAN network, this node's entry of
// status.dhcp.servers for a Bridge network's.
func (s *Server) report(ctx context.Context, n *api.Network, state, msg string, leases int) error {
	perNode := api.DHCPPerNode(&n.Meta)
	want := api.NetworkDHCPServer{State: state, Message: msg, Leases: leases}
	_, err := controller.UpdateStatus(ctx, s.c, n, func(x *api.Network) bool {
		d := x.Status.DHCP
		if d == nil {
			d = &api.NetworkDHCPStatus{}
		}
		if perNode {
			if got, ok := d.Servers[s.node]; ok && got == want {
				return false
			}
			if d.Servers == nil {
				d.Servers = map[string]api.NetworkDHCPServer{}
			}
			d.Servers[s.node] = want
		} else {
			if d.Node == s.node && d.State == state && d.Message == msg && d.Leases == leases {
				return false
			}
			d.Node, d.State, d.Message, d.Leases = s.node, state, msg, leases
		}
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
