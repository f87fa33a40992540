// Package agent is humstack's node agent: it loads config.yaml, registers
// the node and heartbeats it, and runs the controllers of its mode — the
// cluster-wide ones (Core: node liveness, cascading deletion, external IPs),
// the per-node ones (System: what is placed on this node), or both (All).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/agent/dhcp"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/leader"
	"github.com/humstack/humstack/internal/agent/metrics"
	"github.com/humstack/humstack/internal/agent/migration"
	"github.com/humstack/humstack/internal/agent/network"
	"github.com/humstack/humstack/internal/agent/node"
	"github.com/humstack/humstack/internal/agent/nodecred"
	"github.com/humstack/humstack/internal/agent/router"
	"github.com/humstack/humstack/internal/agent/secgroup"
	"github.com/humstack/humstack/internal/agent/snapshot"
	"github.com/humstack/humstack/internal/agent/storage"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/qemu"
	hsg "github.com/humstack/humstack/internal/host/secgroup"
	"github.com/humstack/humstack/internal/scheduler"
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

	cred, opts, err := credential(ctx, cfg, log)
	if err != nil || cred == nil && ctx.Err() != nil {
		return err
	}
	c, err := client.New(cfg.APIServerURLs(), opts...)
	if err != nil {
		return err
	}
	m := controller.NewManager(c, log)
	met := metrics.New(cfg.NodeName, log)
	m.Metrics = met
	m.Events = record.New(c, record.Options{Node: cfg.NodeName, Log: log})
	m.Add(m.Events)
	if cred != nil {
		m.Add(controller.RunnableFunc(cred.Run))
	}
	accel := cfg.Accel
	if cfg.AgentMode.RunsSystem() {
		var why string
		accel, why = qemu.DetectAccel(ctx, cfg.Accel)
		log.Info("accelerator chosen", "mode", cfg.Accel, "accel", accel, "reason", why)
	}
	self := node.New(m, node.Options{
		Name: cfg.NodeName, Address: cfg.NodeAddress,
		LimitMemory: cfg.LimitMemory, LimitVcpus: cfg.LimitVcpus, LimitStorage: cfg.LimitStorage,
		AgentMode: string(cfg.AgentMode), Accelerator: accel, ExternalBridges: cfg.NetworkAgentConfig.ExternalBridges,
		Heartbeat: cfg.Heartbeat(), Log: log, DownloadHost: downloadHost(cfg, cred), Labels: cfg.NodeLabels,
	})
	if err := setupMode(m, cfg, accel, cred, self, met, log); err != nil {
		return err
	}
	if err := self.Register(ctx); err != nil {
		if ctx.Err() != nil {
			log.Info("agent stopped before the node was registered")
			return nil
		}
		return joinHint(err, cred)
	}
	m.Add(self)
	err = m.Start(ctx)
	log.Info("agent stopped", "node", cfg.NodeName)
	return err
}

// setupMode adds the controllers of cfg's mode to m.
func setupMode(m *controller.Manager, cfg Config, accel string, cred *nodecred.Credential, self *node.Agent, met *metrics.Agent, log *slog.Logger) error {
	if cfg.AgentMode.RunsCore() {
		// Several Core agents may run: only the holder of the lease runs
		// the cluster-wide controllers, each term in a fresh manager.
		m.Add(leader.New(leader.Config{Client: m.Client, Identity: cfg.NodeName, Log: log}, func(ctx context.Context) error {
			lm := controller.NewManager(m.Client, log)
			lm.Metrics = m.Metrics
			lm.Events = m.Events // run by m
			if err := node.SetupLiveness(lm, cfg.NodeGrace()); err != nil {
				return fmt.Errorf("set up node liveness: %w", err)
			}
			opts := coreOptions(cfg, log)
			if err := core.Setup(lm, opts); err != nil {
				return fmt.Errorf("set up core controllers: %w", err)
			}
			core.SetupScheduler(lm, opts)
			return lm.Start(ctx)
		}))
	}
	if cfg.AgentMode.RunsSystem() {
		return setupSystem(m, cfg, accel, cred, self, met, log)
	}
	return nil
}

// coreOptions are the options of the Core controllers and the scheduler:
// one policy for both, so that a migration's target is chosen as the
// scheduler would place the VM.
func coreOptions(cfg Config, log *slog.Logger) core.Options {
	return core.Options{Log: log, Resync: cfg.Resync(),
		Scheduler: core.SchedulerOptions{Policy: scheduler.Policy(cfg.Scheduler.Policy)},
		Resets: core.ResetOptions{PerNode: cfg.Resets.PerNode,
			Timeout: time.Duration(cfg.Resets.TimeoutSeconds) * time.Second}}
}

// setupSystem adds the per-node controllers and the node listener (the
// download API and the console routes, behind the node certificates or
// the cluster's secret), and the node's metrics.
func setupSystem(m *controller.Manager, cfg Config, accel string, cred *nodecred.Credential, self *node.Agent, met *metrics.Agent, log *slog.Logger) error {
	var vms *vm.Driver
	var snaps *snapshot.Node
	inUse := func(g, ns, id string) string { return vms.DiskUser(g, ns, id) }
	sc := storageConfig(cfg, m.Client, cred, inUse)
	sc.WhileUnused = func(ctx context.Context, g, ns, id string, f func(context.Context) error) error {
		return vms.WhileDiskUnused(ctx, g, ns, id, f)
	}
	sc.Events = m.Recorder("blockstorage")
	sc.Snapshots = snapshotsOf{&snaps}
	disks := storage.New(sc)
	consoles := console.NewManager(func(k console.Key) string { return vms.Dir(k.Group, k.Namespace, k.ID) }, log)
	vc := cfg.VirtualMachineAgentConfig
	vms = vm.New(vm.Config{
		Node: cfg.NodeName, Dir: vc.VirtualMachineDirPath, DiskPath: disks.Path, Client: m.Client,
		Accel: accel, PowerOffTimeout: seconds(vc.PowerOffTimeoutSeconds), Consoles: consoleAdapter{consoles},
		Events: m.Recorder("virtualmachine"), Snapshots: snapshotsOf{&snaps}, Disks: disks,
	})
	opts := systemOptions(cfg, log, disks, vms)
	opts.Drivers[api.VirtualRouterKind] = router.New(router.Config{Node: cfg.NodeName, Client: m.Client, Log: log,
		Events: m.Recorder("virtualrouter")})
	opts.NetworkService = dhcp.New(dhcp.Config{Node: cfg.NodeName, Dir: DHCPDir(cfg), Client: m.Client, Log: log})
	if err := system.Setup(m, opts); err != nil {
		return fmt.Errorf("set up system controllers: %w", err)
	}
	secgroup.Setup(m, cfg.NodeName, hsg.Runner{}, controller.Options{Resync: opts.Resync, Log: log.With("node", cfg.NodeName)})
	storage.SetupImageEntities(m, disks, controller.Options{Resync: opts.Resync, Log: log.With("node", cfg.NodeName)})
	snaps = snapshot.New(snapshotConfig(cfg, sc, disks, vms, inUse, m.Recorder("snapshot"), log))
	snaps.Setup(m, controller.Options{Resync: opts.Resync, Log: log.With("node", cfg.NodeName)})
	migrations := migration.Setup(m, cfg.NodeName, disks, vms, controller.Options{Resync: opts.Resync, Log: log.With("node", cfg.NodeName)})
	addSystemMetrics(met, m, cfg, self, disks, vms)
	m.Add(controller.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		consoles.Close()
		return nil
	}))
	d := cfg.BlockStorageAgentConfig.DownloadAPI
	if d.Secret == "" && !cred.Joined() {
		log.Warn("node listener off: no node certificate (joinToken) and no blockStorageAgentConfig.downloadAPI secret; disks from images held on other nodes cannot be fetched, other nodes cannot fetch from this one, and consoles and metrics cannot be reached")
		return nil
	}
	h := nodeListener(d.Secret, disks, snaps, consoles, met, log)
	h.SetMigrationTargets(migrations.Targets)
	addr := net.JoinHostPort(d.ListenAddress, strconv.Itoa(d.ListenPort))
	if !cred.Joined() { // the shared secret only, as before
		m.Add(controller.RunnableFunc(func(ctx context.Context) error { return downloadapi.Serve(ctx, addr, h, log) }))
		return nil
	}
	if d.Secret != "" {
		log.Warn("blockStorageAgentConfig.downloadAPI.secret is deprecated: the node certificate authenticates this node; the secret is still accepted from peers without one")
	}
	tc := cred.ListenerTLS()
	m.Add(controller.RunnableFunc(func(ctx context.Context) error { return downloadapi.ServeMTLS(ctx, addr, h, tc, log) }))
	return nil
}

// DHCPDir holds the state of the networks' DHCP servers on this node
// (options, hosts, leases, pidfiles, logs): "dhcp" beside
// virtualMachineDirPath, so it is kept with the VMs' state.
func DHCPDir(cfg Config) string {
	return filepath.Join(filepath.Dir(cfg.VirtualMachineAgentConfig.VirtualMachineDirPath), "dhcp")
}

// nodeListener is everything the node listener serves, each route behind
// its row of the one rule table (downloadapi/rules.go): image entities and
// snapshots for other nodes, consoles and metrics for the API server, all
// of it for the deprecated secret. TestNodeListenerMatrix calls it for the
// routes it checks.
func nodeListener(secret string, files downloadapi.Files, snaps downloadapi.SnapshotFiles, consoles *console.Manager, met *metrics.Agent, log *slog.Logger) *downloadapi.Listener {
	return downloadapi.NodeListener(secret, files, log, consoles, met, downloadapi.SnapshotRoutes{Files: snaps, Log: log})
}

// snapshotConfig is the node's snapshots' part of cfg: their files beside
// the disks, their cache beside the images', fetched like images.
func snapshotConfig(cfg Config, sc storage.Config, disks *storage.Driver, vms *vm.Driver, inUse func(g, ns, id string) string, ev record.Recorder, log *slog.Logger) snapshot.Config {
	return snapshot.Config{
		Node: cfg.NodeName, Dir: sc.Dir, ImageDir: sc.ImageDir, Client: sc.Client, DownloadHost: sc.DownloadHost,
		Secret: sc.Secret, Peer: sc.Peer, Disks: disks, VMs: vms, InUse: inUse, Events: ev, Log: log.With("node", cfg.NodeName),
	}
}

// snapshotsOf lets the storage driver, made first, use the node's
// snapshots, made after it.
type snapshotsOf struct{ n **snapshot.Node }

func (s snapshotsOf) Local(ctx context.Context, snap *api.Snapshot) ([]string, string, error) {
	return (*s.n).Local(ctx, snap)
}

// consoleAdapter lets the VM driver start and stop console relays without
// knowing package console.
type consoleAdapter struct{ m *console.Manager }

func (a consoleAdapter) Start(g, ns, id string) {
	a.m.Start(console.Key{Group: g, Namespace: ns, ID: id})
}
func (a consoleAdapter) Stop(g, ns, id string) {
	a.m.Stop(console.Key{Group: g, Namespace: ns, ID: id})
}

// downloadHost is the node listener's advertised host:port, or "" when it
// is off (no node certificate and no secret).
func downloadHost(cfg Config, cred *nodecred.Credential) string {
	d := cfg.BlockStorageAgentConfig.DownloadAPI
	if d.Secret == "" && !cred.Joined() {
		return ""
	}
	return net.JoinHostPort(d.AdvertiseAddress, strconv.Itoa(d.ListenPort))
}

// storageConfig is the disk and image driver's part of cfg.
func storageConfig(cfg Config, c *client.Client, cred *nodecred.Credential, inUse func(g, ns, id string) string) storage.Config {
	b := cfg.BlockStorageAgentConfig
	sc := storage.Config{
		Node: cfg.NodeName, Dir: b.BlockStorageDirPath, ImageDir: b.ImageDirPath,
		ParallelLimit: b.ParallelLimit, Client: c, Secret: b.DownloadAPI.Secret, DownloadHost: downloadHost(cfg, cred), InUse: inUse,
	}
	if cred.Joined() {
		sc.Peer = cred.PeerClient
	}
	return sc
}

// systemOptions are the node's controllers with the host drivers this agent
// has; kinds without one are reported as not implemented.
func systemOptions(cfg Config, log *slog.Logger, disks *storage.Driver, vms *vm.Driver) system.Options {
	vx := cfg.NetworkAgentConfig.VXLAN
	return system.Options{
		Node: cfg.NodeName, Log: log, Resync: cfg.Resync(),
		Drivers: map[*api.Kind]system.Driver{
			api.BlockStorageKind:   disks,
			api.VirtualMachineKind: vms,
		},
		NetworkDriver: network.New(network.Config{
			VXLANDev:   vx.DevName,
			VXLANGroup: net.ParseIP(vx.Group), // validated at load; "" is nil: unicast
			VLANDev:    cfg.NetworkAgentConfig.VLAN.DevName,
		}),
	}
}

// joinHint says what a node without credentials lacks when the API server
// turns it away: it serves HTTPS, or wants a credential (both defaults).
func joinHint(err error, cred *nodecred.Credential) error {
	const how = "add joinToken (and, recommended, apiServerCAFingerprint), as printed by `humcli node join-token`, to the agent's config (docs/tls.md)"
	switch {
	case cred != nil:
		return err
	case errors.Is(err, client.ErrHTTPSRequired):
		return fmt.Errorf("%w; this agent has no CA to verify it with: %s", err, how)
	case errors.Is(err, api.ErrUnauthorized):
		return fmt.Errorf("%w; this agent has no node credential: %s", err, how)
	}
	return err
}
