// Package agent is humstack's node agent: it loads config.yaml, registers
// the node and heartbeats it, and runs the controllers of its mode — the
// cluster-wide ones (Core: node liveness, cascading deletion, external IPs),
// the per-node ones (System: what is placed on this node), or both (All).
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/network"
	"github.com/humstack/humstack/internal/agent/node"
	"github.com/humstack/humstack/internal/agent/storage"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// Run runs the agent until ctx ends (a clean stop returns nil) or a part
// of it fails for good.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	for _, n := range cfg.Notices {
		log.Warn("config notice", "notice", n)
	}
	log.Info("agent starting", "node", cfg.NodeName, "mode", cfg.AgentMode, "apiServer", cfg.APIServer(),
		"nodeAddress", cfg.NodeAddress, "limitMemory", cfg.LimitMemory, "limitVcpus", cfg.LimitVcpus,
		"accel", cfg.Accel, "version", node.Version,
		"heartbeat", cfg.Heartbeat(), "nodeGrace", cfg.NodeGrace(), "resync", cfg.Resync())
	log.Debug("agent config", "config", fmt.Sprintf("%+v", cfg))

	c, err := client.New(cfg.APIServer())
	if err != nil {
		return err
	}
	m := controller.NewManager(c, log)
	self := node.New(m, node.Options{
		Name: cfg.NodeName, Address: cfg.NodeAddress,
		LimitMemory: cfg.LimitMemory, LimitVcpus: cfg.LimitVcpus,
		AgentMode: string(cfg.AgentMode), Accelerator: cfg.Accel,
		Heartbeat: cfg.Heartbeat(), Log: log,
	})
	if err := setupMode(m, cfg, log); err != nil {
		return err
	}
	if err := self.Register(ctx); err != nil {
		if ctx.Err() != nil {
			log.Info("agent stopped before the node was registered")
			return nil
		}
		return err
	}
	m.Add(self)
	err = m.Start(ctx)
	log.Info("agent stopped", "node", cfg.NodeName)
	return err
}

// setupMode adds the controllers of cfg's mode to m.
func setupMode(m *controller.Manager, cfg Config, log *slog.Logger) error {
	if cfg.AgentMode.RunsCore() {
		if err := node.SetupLiveness(m, cfg.NodeGrace()); err != nil {
			return fmt.Errorf("set up node liveness: %w", err)
		}
		if err := core.Setup(m, core.Options{Log: log, Resync: cfg.Resync()}); err != nil {
			return fmt.Errorf("set up core controllers: %w", err)
		}
	}
	if cfg.AgentMode.RunsSystem() {
		disks := storage.New(storageConfig(cfg, m.Client))
		opts := systemOptions(cfg, log, disks)
		if err := system.Setup(m, opts); err != nil {
			return fmt.Errorf("set up system controllers: %w", err)
		}
		storage.SetupImageEntities(m, disks, controller.Options{Resync: opts.Resync, Log: log.With("node", cfg.NodeName)})
		if d := cfg.BlockStorageAgentConfig.DownloadAPI; d.Secret != "" {
			addr := net.JoinHostPort(d.ListenAddress, strconv.Itoa(d.ListenPort))
			h := downloadapi.Handler(d.Secret, disks, log)
			m.Add(controller.RunnableFunc(func(ctx context.Context) error { return downloadapi.Serve(ctx, addr, h, log) }))
		} else {
			log.Warn("download API off: blockStorageAgentConfig.downloadAPI has no secret; disks from images held on other nodes cannot be fetched, and other nodes cannot fetch from this one")
		}
	}
	return nil
}

// storageConfig is the disk and image driver's part of cfg.
func storageConfig(cfg Config, c *client.Client) storage.Config {
	b := cfg.BlockStorageAgentConfig
	host := ""
	if b.DownloadAPI.Secret != "" {
		host = net.JoinHostPort(b.DownloadAPI.AdvertiseAddress, strconv.Itoa(b.DownloadAPI.ListenPort))
	}
	return storage.Config{
		Node: cfg.NodeName, Dir: b.BlockStorageDirPath, ImageDir: b.ImageDirPath,
		ParallelLimit: b.ParallelLimit, Client: c, Secret: b.DownloadAPI.Secret, DownloadHost: host,
	}
}

// systemOptions are the node's controllers with the host drivers this agent
// has; kinds without one are reported as not implemented.
func systemOptions(cfg Config, log *slog.Logger, disks *storage.Driver) system.Options {
	vx := cfg.NetworkAgentConfig.VXLAN
	return system.Options{
		Node: cfg.NodeName, Log: log, Resync: cfg.Resync(),
		Drivers: map[*api.Kind]system.Driver{
			api.BlockStorageKind: disks,
		},
		NetworkDriver: network.New(network.Config{
			VXLANDev:   vx.DevName,
			VXLANGroup: net.ParseIP(vx.Group), // validated at load; "" is nil: unicast
			VLANDev:    cfg.NetworkAgentConfig.VLAN.DevName,
		}),
	}
}
