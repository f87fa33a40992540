package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// Mode is what an agent runs: the cluster-wide controllers (Core), the
// per-node host work (System), or both (All: a single-node install).
type Mode string

// Agent modes, spelt as in the seed's config.yaml.
const (
	ModeCore   Mode = "Core"
	ModeSystem Mode = "System"
	ModeAll    Mode = "All"
)

// RunsCore reports whether the mode includes the cluster-wide controllers.
func (m Mode) RunsCore() bool { return m == ModeCore || m == ModeAll }

// RunsSystem reports whether the mode includes the per-node controllers.
func (m Mode) RunsSystem() bool { return m == ModeSystem || m == ModeAll }

// Config is the agent's config.yaml: every key of the seed's sample, plus
// nodeName, pollingSeconds, heartbeatSeconds, nodeGraceSeconds and accel.
// Field names are the YAML keys, matched exactly.
type Config struct {
	APIServerAddress string `json:"apiServerAddress"`
	APIServerPort    int    `json:"apiServerPort"`
	// APIServers, beyond the seed, lists several API servers of one
	// cluster as host:port; when set it replaces apiServerAddress and
	// apiServerPort, and the agent fails over between them.
	APIServers []string `json:"apiServers"`
	AgentMode  Mode     `json:"agentMode"`
	// LimitMemory and LimitVcpus are the node's capacity, as written
	// ("8G", "8000m"); the parsed values are in MemoryBytes and VcpusMilli.
	LimitMemory string `json:"limitMemory"`
	LimitVcpus  string `json:"limitVcpus"`
	// LimitStorage is the disk space for block storages ("500G"); left
	// out, the size of the file system of blockStorageDirPath.
	LimitStorage string `json:"limitStorage"`
	NodeAddress  string `json:"nodeAddress"`
	NodeName     string `json:"nodeName"`
	// NodeLabels are set on the node when the agent registers, for the
	// scheduler's node selectors (docs/placement.md); labels set with
	// humcli label stay beside them.
	NodeLabels map[string]string `json:"nodeLabels"`
	// PollingSeconds is the seed's polling interval; here it is the resync
	// period of the controllers (changes arrive by watch).
	PollingSeconds   int    `json:"pollingSeconds"`
	HeartbeatSeconds int    `json:"heartbeatSeconds"`
	NodeGraceSeconds int    `json:"nodeGraceSeconds"`
	Accel            string `json:"accel"`

	// Node credentials (config_tls.go): the join token an agent joins
	// with, the CA (file or fingerprint pin) that the API servers'
	// certificates chain to, and where the node's key and certificate live.
	JoinToken              string `json:"joinToken"`
	JoinTokenFile          string `json:"joinTokenFile"`
	APIServerCAFile        string `json:"apiServerCAFile"`
	APIServerCAFingerprint string `json:"apiServerCAFingerprint"`
	PKIDirPath             string `json:"pkiDirPath"`

	BlockStorageAgentConfig BlockStorageAgentConfig `json:"blockStorageAgentConfig"`
	NetworkAgentConfig      NetworkAgentConfig      `json:"networkAgentConfig"`
	ImageAgentConfig        ImageAgentConfig        `json:"imageAgentConfig"`
	// VirtualMachineAgentConfig is beyond the seed: where VMs live and
	// how long a power-off waits for the guest.
	VirtualMachineAgentConfig VirtualMachineAgentConfig `json:"virtualMachineAgentConfig"`
	// Scheduler is beyond the seed: how the Core agent's scheduler places
	// objects without a node annotation (docs/placement.md).
	Scheduler SchedulerConfig `json:"scheduler"`
	// Resets is beyond the seed: the reset queue of environments a Core
	// agent runs (docs/environments.md#resets).
	Resets ResetsConfig `json:"resets"`

	// Derived when loading; not keys of the file.
	MemoryBytes  int64    `json:"-"`
	VcpusMilli   int64    `json:"-"`
	StorageBytes int64    `json:"-"`
	Notices      []string `json:"-"` // what defaulting changed, for the start-up log
}

// BlockStorageAgentConfig is where disks and cached images live.
type BlockStorageAgentConfig struct {
	BlockStorageDirPath string `json:"blockStorageDirPath"`
	ImageDirPath        string `json:"imageDirPath"`
	// ParallelLimit bounds concurrent downloads and copies; 0 means 1.
	ParallelLimit int         `json:"parallelLimit"`
	DownloadAPI   DownloadAPI `json:"downloadAPI"`
}

// DownloadAPI is the listener other nodes fetch disks and images from.
type DownloadAPI struct {
	// AdvertiseAddress is what other nodes dial (bs-download-host).
	AdvertiseAddress string `json:"advertiseAddress"`
	ListenAddress    string `json:"listenAddress"`
	ListenPort       int    `json:"listenPort"`
	// Secret is the cluster's shared secret: other nodes present it, and
	// this node presents it to theirs. SecretFile names a file holding it
	// instead (loaded at start). Without either the API is not served and
	// disks from images held on other nodes cannot be fetched.
	Secret     string `json:"secret"`
	SecretFile string `json:"secretFile"`
}

// NetworkAgentConfig names the underlay devices of VXLAN and VLAN networks.
type NetworkAgentConfig struct {
	VXLAN VXLANConfig `json:"vxlan"`
	VLAN  VLANConfig  `json:"vlan"`
	// ExternalBridges, beyond the seed, are the external bridges this node
	// has (the bridgeName of external IP pools): the node reports them and
	// the scheduler places routers only where their pool's bridge is.
	ExternalBridges []string `json:"externalBridges"`
}

// VXLANConfig is the VXLAN underlay: device, and multicast group (empty:
// unicast, with the other nodes' addresses as peers).
type VXLANConfig struct {
	DevName string `json:"devName"`
	Group   string `json:"group"`
}

// VLANConfig is the device 802.1Q links are made on.
type VLANConfig struct {
	DevName string `json:"devName"`
}

// SchedulerConfig configures the scheduler a Core agent runs.
type SchedulerConfig struct {
	// Policy is spread (the least allocated node) or pack (the most).
	Policy string `json:"policy"`
}

// ResetsConfig configures the reset queue a Core agent runs.
type ResetsConfig struct {
	// PerNode is how many resets run at once on one node: a reset takes
	// a slot on every node its copy's VMs are on.
	PerNode int `json:"perNode"`
	// TimeoutSeconds is how long a reset may run: one whose VMs have not
	// all finished their restore by then is Failed naming them (a node
	// that never answers must not hold the copy and the slots forever).
	TimeoutSeconds int `json:"timeoutSeconds"`
}

// ImageAgentConfig is where the image agent reads disks and stores images.
type ImageAgentConfig struct {
	BlockStorageDirPath string `json:"blockStorageDirPath"`
	ImageDirPath        string `json:"imageDirPath"`
}

// VirtualMachineAgentConfig configures the VM driver.
type VirtualMachineAgentConfig struct {
	// VirtualMachineDirPath holds one directory per VM: QEMU's sockets,
	// pidfile and log, the cloud-init seed, the serial console log.
	VirtualMachineDirPath string `json:"virtualMachineDirPath"`
	// PowerOffTimeoutSeconds is how long PowerOff (and deletion) waits for
	// the guest to shut down before QEMU is stopped hard.
	PowerOffTimeoutSeconds int `json:"powerOffTimeoutSeconds"`
}

// Defaults of keys that have a fixed default; the rest are derived from the
// host or from other keys (see resolve).
const (
	DefaultAPIServerAddress = "localhost"
	DefaultAPIServerPort    = 8080
	DefaultAgentMode        = ModeAll
	DefaultPollingSeconds   = 300
	DefaultHeartbeatSeconds = 5
	DefaultNodeGraceSeconds = 30
	DefaultAccel            = "auto"
	DefaultBlockStorageDir  = "./blockstorages"
	DefaultImageDir         = "./images"
	DefaultParallelLimit    = 1
	DefaultListenAddress    = "0.0.0.0"
	DefaultListenPort       = 8082
	DefaultVMDir            = "./virtualmachines"
	DefaultPowerOffTimeout  = 60
	DefaultPKIDir           = "./pki"
	DefaultSchedulerPolicy  = "spread"
	DefaultResetsPerNode    = 2
	DefaultResetsTimeout    = 600
)

// defaults is the config before the file is applied: an omitted key keeps
// its default, a key given explicitly (even as 0) is validated as given.
func defaults() Config {
	return Config{
		APIServerAddress: DefaultAPIServerAddress,
		APIServerPort:    DefaultAPIServerPort,
		AgentMode:        DefaultAgentMode,
		PollingSeconds:   DefaultPollingSeconds,
		HeartbeatSeconds: DefaultHeartbeatSeconds,
		NodeGraceSeconds: DefaultNodeGraceSeconds,
		Accel:            DefaultAccel,
		PKIDirPath:       DefaultPKIDir,
		BlockStorageAgentConfig: BlockStorageAgentConfig{
			BlockStorageDirPath: DefaultBlockStorageDir,
			ImageDirPath:        DefaultImageDir,
			ParallelLimit:       DefaultParallelLimit,
			DownloadAPI:         DownloadAPI{ListenAddress: DefaultListenAddress, ListenPort: DefaultListenPort},
		},
		VirtualMachineAgentConfig: VirtualMachineAgentConfig{
			VirtualMachineDirPath: DefaultVMDir, PowerOffTimeoutSeconds: DefaultPowerOffTimeout,
		},
		Scheduler: SchedulerConfig{Policy: DefaultSchedulerPolicy},
		Resets:    ResetsConfig{PerNode: DefaultResetsPerNode, TimeoutSeconds: DefaultResetsTimeout},
	}
}

// LoadConfig reads, defaults and validates the config file at path. Unknown
// keys and bad values are one error naming every such key.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parseConfig(data, realHost{})
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes data over the defaults, fills what is derived from
// the host, and validates the result.
func parseConfig(data []byte, h host) (Config, error) {
	cfg := defaults()
	// Every bad key at once: unknown keys (with "did you mean") and bad
	// values, so a config needs one round of fixes, not one per key.
	fe, err := api.DecodeYAMLReport(data, &cfg)
	if err != nil {
		return Config{}, err
	}
	cfg.validate(&fe)
	if err := fe.Err(); err != nil {
		return Config{}, err
	}
	if err := cfg.resolve(h); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// APIServer is the API server's host:port, or several, comma-separated,
// from apiServers (the form client.New takes).
func (c *Config) APIServer() string {
	if len(c.APIServers) > 0 {
		return strings.Join(c.APIServers, ",")
	}
	return net.JoinHostPort(c.APIServerAddress, strconv.Itoa(c.APIServerPort))
}

// Heartbeat is the interval of the node's heartbeat.
func (c *Config) Heartbeat() time.Duration { return seconds(c.HeartbeatSeconds) }

// NodeGrace is how long a node may miss heartbeats before it is NotReady.
func (c *Config) NodeGrace() time.Duration { return seconds(c.NodeGraceSeconds) }

// Resync is the controllers' periodic resync (the seed's polling interval).
func (c *Config) Resync() time.Duration { return seconds(c.PollingSeconds) }

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// absPaths makes the directory keys absolute, relative to the working
// directory as in the seed, so they mean the same wherever they are used.
func (c *Config) absPaths() error {
	for _, p := range []*string{
		&c.BlockStorageAgentConfig.BlockStorageDirPath, &c.BlockStorageAgentConfig.ImageDirPath,
		&c.ImageAgentConfig.BlockStorageDirPath, &c.ImageAgentConfig.ImageDirPath,
		&c.VirtualMachineAgentConfig.VirtualMachineDirPath, &c.PKIDirPath,
	} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("path %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}
