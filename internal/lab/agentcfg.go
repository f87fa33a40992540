package lab

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strings"
)

// agentDownloadPort is every agent's download API port; each node has its
// own namespace, so they do not collide.
const agentDownloadPort = 8082

// agentConfig renders the config.yaml of node n's agent, whose files live
// in home. Every path is absolute and under home, every address is the
// node's underlay address, and the devices are named, so nothing is
// derived from the machine the lab runs on except the capacity (unless
// LimitMemory/LimitVcpus are set).
func agentConfig(cfg *Config, apiAddr string, apiPort int, n Node, home string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("apiServerAddress: %s", apiAddr)
	line("apiServerPort: %d", apiPort)
	line("agentMode: %s", n.Mode)
	line("nodeName: %s", n.Name)
	line("nodeAddress: %s", n.Address)
	mem, cpu := cfg.LimitMemory, cfg.LimitVcpus
	if i := nodeIndex(n.Name); i >= 0 && i < len(cfg.NodeLimits) {
		mem = cmp.Or(cfg.NodeLimits[i].Memory, mem)
		cpu = cmp.Or(cfg.NodeLimits[i].Vcpus, cpu)
	}
	if mem != "" {
		line("limitMemory: %s", mem)
	}
	if cpu != "" {
		line("limitVcpus: %s", cpu)
	}
	if cfg.SchedulerPolicy != "" {
		line("scheduler: {policy: %s}", cfg.SchedulerPolicy)
	}
	if cfg.HeartbeatSeconds > 0 {
		line("heartbeatSeconds: %d", cfg.HeartbeatSeconds)
	}
	if cfg.NodeGraceSeconds > 0 {
		line("nodeGraceSeconds: %d", cfg.NodeGraceSeconds)
	}
	if cfg.Accel != "" {
		line("accel: %s", cfg.Accel)
	}
	if cfg.PollingSeconds > 0 {
		line("pollingSeconds: %d", cfg.PollingSeconds)
	}
	line("blockStorageAgentConfig:")
	line("  blockStorageDirPath: %q", filepath.Join(home, "blockstorages"))
	line("  imageDirPath: %q", filepath.Join(home, "images"))
	line("  downloadAPI:")
	line("    advertiseAddress: %s", n.Address)
	line("    listenAddress: %s", n.Address)
	line("    listenPort: %d", agentDownloadPort)
	if cfg.DownloadSecret != "" {
		line("    secret: %s", cfg.DownloadSecret)
	}
	line("virtualMachineAgentConfig:")
	line("  virtualMachineDirPath: %q", filepath.Join(home, "vms"))
	line("networkAgentConfig:")
	line("  vxlan:")
	line("    devName: %s", UnderlayDev)
	if cfg.VXLANGroup != "" {
		line("    group: %s", cfg.VXLANGroup)
	}
	line("  vlan:")
	line("    devName: %s", UnderlayDev)
	return b.String()
}

// nodeIndex is the position of node-a, node-b, ... in the lab (-1 for
// another name).
func nodeIndex(name string) int {
	if len(name) != len("node-a") || !strings.HasPrefix(name, "node-") || name[5] < 'a' || name[5] > 'z' {
		return -1
	}
	return int(name[5] - 'a')
}
