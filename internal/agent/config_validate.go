package agent

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/humstack/humstack/api"
)

// Bounds of the interval keys: beyond them a Duration would overflow or the
// value is surely a mistake.
const (
	maxPollingSeconds   = 86400
	maxHeartbeatSeconds = 3600
	maxGraceSeconds     = 86400
	maxParallelLimit    = 1024
)

var hostnameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// validate checks every key as the file gave it (or its fixed default);
// keys derived from the host are checked only when given.
func (c *Config) validate(fe *api.FieldErrors) {
	if !isHost(c.APIServerAddress) {
		fe.Add("apiServerAddress", "%q is not a host name or IP address", c.APIServerAddress)
	}
	checkPort(fe, "apiServerPort", c.APIServerPort)
	for i, hp := range c.APIServers {
		checkHostPort(fe, fmt.Sprintf("apiServers[%d]", i), hp)
	}
	checkMode(fe, c.AgentMode)
	if c.LimitMemory != "" {
		if n, err := api.ParseSize(c.LimitMemory); err != nil {
			fe.Add("limitMemory", "%v", err)
		} else if n == 0 {
			fe.Add("limitMemory", "must be more than 0")
		}
	}
	if c.LimitStorage != "" {
		if n, err := api.ParseSize(c.LimitStorage); err != nil {
			fe.Add("limitStorage", "%v", err)
		} else if n == 0 {
			fe.Add("limitStorage", "must be more than 0")
		}
	}
	if c.LimitVcpus != "" {
		if _, err := api.ParseCPU(c.LimitVcpus); err != nil {
			fe.Add("limitVcpus", "%v", err)
		}
	}
	checkIP(fe, "nodeAddress", c.NodeAddress, true)
	if c.NodeName != "" && !api.IsID(c.NodeName) {
		fe.Add("nodeName", "%q is not a DNS label (lowercase letters, digits and '-', 1-63 characters)", c.NodeName)
	}
	checkNodeLabels(fe, c.NodeLabels)
	checkRange(fe, "pollingSeconds", c.PollingSeconds, 1, maxPollingSeconds)
	checkRange(fe, "heartbeatSeconds", c.HeartbeatSeconds, 1, maxHeartbeatSeconds)
	checkRange(fe, "nodeGraceSeconds", c.NodeGraceSeconds, 1, maxGraceSeconds)
	if c.NodeGraceSeconds >= 1 && c.NodeGraceSeconds <= c.HeartbeatSeconds {
		fe.Add("nodeGraceSeconds", "%d must be more than heartbeatSeconds (%d)", c.NodeGraceSeconds, c.HeartbeatSeconds)
	}
	checkOneOf(fe, "accel", c.Accel, "auto", "kvm", "tcg")
	c.validateTLS(fe)
	c.BlockStorageAgentConfig.validate(fe, "blockStorageAgentConfig")
	c.NetworkAgentConfig.validate(fe, "networkAgentConfig")
	v := c.VirtualMachineAgentConfig
	checkPath(fe, "virtualMachineAgentConfig.virtualMachineDirPath", v.VirtualMachineDirPath)
	checkRange(fe, "virtualMachineAgentConfig.powerOffTimeoutSeconds", v.PowerOffTimeoutSeconds, 1, 3600)
	checkOneOf(fe, "scheduler.policy", c.Scheduler.Policy, "spread", "pack")
	checkRange(fe, "resets.perNode", c.Resets.PerNode, 1, maxResetsPerNode)
	checkRange(fe, "resets.timeoutSeconds", c.Resets.TimeoutSeconds, 1, maxResetsTimeout)
}

// maxResetsPerNode bounds resets.perNode: each running reset restores its
// VMs on the node at once.
const maxResetsPerNode = 64

// maxResetsTimeout bounds resets.timeoutSeconds (a day): a reset that
// has not ended by then will not.
const maxResetsTimeout = 86400

func (b *BlockStorageAgentConfig) validate(fe *api.FieldErrors, p string) {
	checkPath(fe, p+".blockStorageDirPath", b.BlockStorageDirPath)
	checkPath(fe, p+".imageDirPath", b.ImageDirPath)
	checkRange(fe, p+".parallelLimit", b.ParallelLimit, 0, maxParallelLimit)
	d := b.DownloadAPI
	checkIP(fe, p+".downloadAPI.advertiseAddress", d.AdvertiseAddress, true)
	checkIP(fe, p+".downloadAPI.listenAddress", d.ListenAddress, false)
	checkPort(fe, p+".downloadAPI.listenPort", d.ListenPort)
	switch {
	case d.Secret != "" && d.SecretFile != "":
		fe.Add(p+".downloadAPI.secret", "give secret or secretFile, not both")
	case d.Secret != "" && len(d.Secret) < minSecretLen:
		fe.Add(p+".downloadAPI.secret", "must be at least %d characters", minSecretLen)
	}
}

// minSecretLen is the shortest download API secret accepted.
const minSecretLen = 16

func (n *NetworkAgentConfig) validate(fe *api.FieldErrors, p string) {
	checkIfName(fe, p+".vxlan.devName", n.VXLAN.DevName)
	if g := n.VXLAN.Group; g != "" {
		if a, err := netip.ParseAddr(g); err != nil || !a.IsMulticast() || a.Zone() != "" {
			fe.Add(p+".vxlan.group", "%q is not a multicast IP address (e.g. 239.0.0.1; leave it out for unicast VXLAN)", g)
		}
	}
	checkIfName(fe, p+".vlan.devName", n.VLAN.DevName)
	for i, b := range n.ExternalBridges {
		checkIfName(fe, fmt.Sprintf("%s.externalBridges[%d]", p, i), b)
	}
}

func isHost(s string) bool {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Zone() == ""
	}
	return len(s) <= 253 && hostnameRe.MatchString(s)
}

// checkHostPort checks one host:port entry.
func checkHostPort(fe *api.FieldErrors, field, hp string) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil || !isHost(host) {
		fe.Add(field, "%q is not host:port", hp)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		fe.Add(field, "%q: port out of range 1-65535", hp)
	}
}

func checkPort(fe *api.FieldErrors, field string, p int) {
	checkRange(fe, field, p, 1, 65535)
}

func checkRange(fe *api.FieldErrors, field string, v, lo, hi int) {
	if v < lo || v > hi {
		fe.Add(field, "%d is out of range %d-%d", v, lo, hi)
	}
}

func checkMode(fe *api.FieldErrors, m Mode) {
	checkOneOf(fe, "agentMode", string(m), string(ModeCore), string(ModeSystem), string(ModeAll))
}

func checkOneOf(fe *api.FieldErrors, field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			fe.Add(field, "%q is not one of %s (did you mean %q?)", v, strings.Join(allowed, ", "), a)
			return
		}
	}
	fe.Add(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// checkIP checks an IP address key; optional ones may be empty.
func checkIP(fe *api.FieldErrors, field, v string, optional bool) {
	if v == "" && optional {
		return
	}
	if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
		fe.Add(field, "%q is not an IPv4 or IPv6 address", v)
	}
}

func checkPath(fe *api.FieldErrors, field, v string) {
	if v == "" {
		fe.Add(field, "must not be empty")
	}
}

// checkIfName checks a Linux interface name as the kernel does
// (dev_valid_name); an empty one is derived later.
func checkIfName(fe *api.FieldErrors, field, v string) {
	if v == "" {
		return
	}
	if len(v) > 15 || v == "." || v == ".." || strings.ContainsAny(v, "/: \t\n\r\v\f") {
		fe.Add(field, "%q is not a network interface name (at most 15 characters, no '/', ':' or spaces)", v)
	}
}

// checkNodeLabels refuses labels a node selector could not name: a
// selector is "key=value,key=value".
func checkNodeLabels(fe *api.FieldErrors, labels map[string]string) {
	for k, v := range labels {
		f := fmt.Sprintf("nodeLabels[%s]", k)
		switch {
		case k == "" || strings.ContainsAny(k, "=, \t\n"):
			fe.Add(f, "a label key must be non-empty, without '=', ',' or spaces")
		case strings.ContainsAny(v, "=, \t\n"):
			fe.Add(f, "value %q: a label value may not hold '=', ',' or spaces (node selectors are key=value,key=value)", v)
		}
	}
}
