package lab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Addresses and names of the lab's networks; see the package doc.
const (
	UnderlayCIDR   = "172.31.0.0/24"
	HubAddress     = "172.31.0.254"
	UnderlayDev    = "eth0" // a node's underlay interface: the agents' VXLAN/VLAN device
	ExternalDev    = "eth1" // a node's uplink to the outside, a port of its ExternalBridge
	ExternalBridge = "exBr" // the seed's ExternalIPPool bridgeName, on every node and outside
	ExternalCIDR   = "192.168.10.0/24"
	OutsideAddress = "192.168.10.254" // the external gateway
	InternetHost   = "203.0.113.1"    // a host standing for the internet, in the outside namespace
	DefaultGroup   = "239.0.0.1"      // the seed's VXLAN multicast group
	DefaultAPIPort = 8080

	hubBridge = "ulbr"
	// Hub and Outside are the lab names of the two non-node namespaces.
	Hub     = "hub"
	Outside = "outside"
)

// Agent modes, as in the agent's config.yaml.
const (
	ModeCore   = "Core"
	ModeSystem = "System"
	ModeAll    = "All"
)

// Config describes a lab. The zero value (with BinDir) is three nodes:
// node-a Core, node-b and node-c System.
type Config struct {
	// ID names everything the lab makes (see the package doc); 3-12
	// lowercase letters and digits. Default: random (6 hex digits).
	ID string
	// BaseDir holds the work directory humstack-lab-<ID>. Default: os.TempDir().
	BaseDir string
	// BinDir holds apiserver, agent and humcli; Binaries overrides each.
	BinDir   string
	Binaries Binaries
	// Nodes is the number of nodes, 1-26. Default 3.
	Nodes int
	// Modes is the agentMode of each node in order; a missing entry is
	// Core for node-a and System for the others.
	Modes []string
	// HeartbeatSeconds and NodeGraceSeconds go to every agent; 0 leaves
	// the agent's default.
	HeartbeatSeconds, NodeGraceSeconds int
	// VXLANGroup is the agents' multicast group (default DefaultGroup);
	// VXLANUnicast leaves it out, for unicast VXLAN.
	VXLANGroup   string
	VXLANUnicast bool
	// Accel is the agents' accel key; empty leaves the default.
	Accel string
	// PollingSeconds is the agents' resync period (drift repair); 0 leaves
	// the agent's default.
	PollingSeconds int
	// LimitMemory and LimitVcpus are every node's capacity; empty: the host's.
	LimitMemory, LimitVcpus string
	// NodeLimits override LimitMemory and LimitVcpus per node, in node
	// order (node-a first): nodes of unequal capacity for the scheduler.
	NodeLimits []NodeLimits
	// SchedulerPolicy is the Core agents' scheduler.policy; empty leaves
	// the agent's default (spread).
	SchedulerPolicy string
	// APIPort is the API server's port on node-a. Default 8080.
	APIPort int
	// CleanStale removes leftovers of an earlier lab with the same ID
	// instead of refusing to start.
	CleanStale bool
	// Detach starts the processes in their own session so they outlive
	// the process that started them (humlab); tests leave it false, so an
	// interrupt of the test also stops them.
	Detach bool
	// ReadyTimeout bounds the wait for the API server and every node to be
	// Ready. Default 30 s.
	ReadyTimeout time.Duration
	// DownloadSecret is every agent's download API secret in an Insecure
	// lab. Default: random, per lab; none in a secure lab.
	DownloadSecret string
	// Insecure runs the lab the way a trusted lab of the original humstack
	// ran: plain HTTP (--insecure-http), --authorization off, and the
	// agents sharing a download secret (the deprecated downloadAPI key).
	// By default (false) a lab is secure, as the API server is: --tls
	// auto --authorization rbac; every agent joined by a join token of its
	// own (bound to its node name, single use) with the CA's fingerprint
	// pinned, and no shared secret in any config; the Core node bound to
	// the built-in role core-agent. Client and Humcli then speak HTTPS,
	// trusting the cluster CA, with the bootstrap admin token.
	Insecure bool
	// Log receives progress; default: discarded.
	Log *slog.Logger
}

// NodeLimits are one node's capacity; an empty field keeps the lab's.
type NodeLimits struct{ Memory, Vcpus string }

// Binaries are the paths of the programs the lab runs.
type Binaries struct {
	APIServer, Agent, Humcli string
}

// idRE: at least 3 characters, so a lab's prefix is not a one-letter
// "hs-x-" that other tools' namespaces might also use.
var idRE = regexp.MustCompile(`^[a-z0-9]{3,12}$`)

// withDefaults returns cfg with every default filled in, or an error
// naming what is wrong.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.ID == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		cfg.ID = hex.EncodeToString(b)
	}
	if cfg.BaseDir == "" {
		cfg.BaseDir = os.TempDir()
	}
	if cfg.DownloadSecret == "" && cfg.Insecure {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		cfg.DownloadSecret = hex.EncodeToString(b)
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.VXLANUnicast {
		cfg.VXLANGroup = ""
	} else if cfg.VXLANGroup == "" {
		cfg.VXLANGroup = DefaultGroup
	}
	if cfg.APIPort == 0 {
		cfg.APIPort = DefaultAPIPort
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	return cfg, cfg.fillBinaries()
}

// validate checks what defaults cannot repair.
func (cfg *Config) validate() error {
	if !idRE.MatchString(cfg.ID) {
		return fmt.Errorf("lab ID %q: want 3-12 lowercase letters or digits", cfg.ID)
	}
	if cfg.Nodes < 1 || cfg.Nodes > 26 {
		return fmt.Errorf("lab nodes %d: want 1-26", cfg.Nodes)
	}
	if !cfg.Insecure && cfg.DownloadSecret != "" {
		return fmt.Errorf("lab: only an Insecure lab has a DownloadSecret (in a secure one the nodes' certificates replace it)")
	}
	if len(cfg.Modes) > cfg.Nodes {
		return fmt.Errorf("lab modes: %d given for %d nodes", len(cfg.Modes), cfg.Nodes)
	}
	for _, m := range cfg.Modes {
		if m != ModeCore && m != ModeSystem && m != ModeAll {
			return fmt.Errorf("lab mode %q: want Core, System or All", m)
		}
	}
	return nil
}

// fillBinaries makes every binary path absolute, defaulting to BinDir.
func (cfg *Config) fillBinaries() error {
	b := &cfg.Binaries
	for _, p := range []struct {
		path *string
		name string
	}{{&b.APIServer, "apiserver"}, {&b.Agent, "agent"}, {&b.Humcli, "humcli"}} {
		if *p.path == "" {
			if cfg.BinDir == "" {
				return fmt.Errorf("lab: BinDir or Binaries.%s is required", p.name)
			}
			*p.path = filepath.Join(cfg.BinDir, p.name)
		}
		abs, err := filepath.Abs(*p.path)
		if err != nil {
			return fmt.Errorf("lab: %s path: %w", p.name, err)
		}
		*p.path = abs
	}
	return nil
}

// Prefix is what every namespace of the lab with this ID starts with.
func Prefix(id string) string { return "hs-" + id + "-" }

// WorkDir is the work directory of the lab with this ID under base.
func WorkDir(base, id string) string { return filepath.Join(base, "humstack-lab-"+id) }

// nodeName is the name of the i-th node (0-based): node-a, node-b, ...
func nodeName(i int) string { return "node-" + string(rune('a'+i)) }

// nodeAddress is the underlay address of the i-th node: 172.31.0.(i+1).
func nodeAddress(i int) string { return fmt.Sprintf("172.31.0.%d", i+1) }

// mode is the agentMode of the i-th node.
func (cfg *Config) mode(i int) string {
	switch {
	case i < len(cfg.Modes):
		return cfg.Modes[i]
	case i == 0:
		return ModeCore
	default:
		return ModeSystem
	}
}
