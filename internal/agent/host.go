package agent

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// host is what defaulting needs to know about the machine; tests fake it.
type host interface {
	Hostname() (string, error)
	MemoryBytes() (int64, error)
	// FilesystemBytes is the size of the file system holding path (or,
	// while path does not exist yet, its nearest existing parent).
	FilesystemBytes(path string) (int64, error)
	CPUs() int
	// SourceAddr is the local address used to reach target (host:port).
	SourceAddr(target string) (string, error)
	// InterfaceOf is the interface holding ip, or "" if none does.
	InterfaceOf(ip string) (string, error)
}

// resolve fills the keys derived from the host or from other keys. It runs
// after validate, so what the file gave is well-formed.
func (c *Config) resolve(h host) error {
	if err := c.resolveNodeName(h); err != nil {
		return err
	}
	if err := c.resolveCapacity(h); err != nil {
		return err
	}
	if c.NodeAddress == "" {
		a, err := h.SourceAddr(c.APIServer())
		if err != nil {
			return api.Invalid("nodeAddress", "not set, and the address this host uses to reach the API server %s is unknown (%v); set nodeAddress", c.APIServer(), err)
		}
		c.NodeAddress = a
	}
	b := &c.BlockStorageAgentConfig
	if b.ParallelLimit == 0 {
		b.ParallelLimit = DefaultParallelLimit
	}
	if b.DownloadAPI.AdvertiseAddress == "" {
		b.DownloadAPI.AdvertiseAddress = c.NodeAddress
	}
	if err := b.DownloadAPI.loadSecret(); err != nil {
		return err
	}
	if err := c.loadJoinToken(); err != nil {
		return err
	}
	if c.ImageAgentConfig.BlockStorageDirPath == "" {
		c.ImageAgentConfig.BlockStorageDirPath = b.BlockStorageDirPath
	}
	if c.ImageAgentConfig.ImageDirPath == "" {
		c.ImageAgentConfig.ImageDirPath = b.ImageDirPath
	}
	c.resolveDevices(h)
	if err := c.absPaths(); err != nil {
		return err
	}
	return c.sameImagePaths()
}

// sameImagePaths checks that the seed's two copies of the disk and image
// directories agree: one storage driver makes disks and image entities, so
// it cannot honour two different image directories.
func (c *Config) sameImagePaths() error {
	b, ia := c.BlockStorageAgentConfig, c.ImageAgentConfig
	if ia.BlockStorageDirPath != b.BlockStorageDirPath {
		return api.Invalid("imageAgentConfig.blockStorageDirPath", "%s differs from blockStorageAgentConfig.blockStorageDirPath %s; they must name the same directory", ia.BlockStorageDirPath, b.BlockStorageDirPath)
	}
	if ia.ImageDirPath != b.ImageDirPath {
		return api.Invalid("imageAgentConfig.imageDirPath", "%s differs from blockStorageAgentConfig.imageDirPath %s; they must name the same directory", ia.ImageDirPath, b.ImageDirPath)
	}
	return nil
}

// resolveNodeName defaults nodeName to the hostname, lowercased if that
// makes it a DNS label.
func (c *Config) resolveNodeName(h host) error {
	if c.NodeName != "" {
		return nil
	}
	hn, err := h.Hostname()
	if err != nil {
		return api.Invalid("nodeName", "not set, and the hostname is unknown (%v); set nodeName", err)
	}
	switch lower := strings.ToLower(hn); {
	case api.IsID(hn):
		c.NodeName = hn
	case api.IsID(lower):
		c.NodeName = lower
		c.Notices = append(c.Notices, fmt.Sprintf("nodeName not set: the hostname %q is not a DNS label, using %q", hn, lower))
	default:
		return api.Invalid("nodeName", "not set, and the hostname %q is not a DNS label even in lowercase (lowercase letters, digits and '-', 1-63 characters); set nodeName", hn)
	}
	return nil
}

// resolveCapacity defaults the capacity to the host's and parses it.
func (c *Config) resolveCapacity(h host) error {
	if c.LimitMemory == "" {
		n, err := h.MemoryBytes()
		if err != nil {
			return api.Invalid("limitMemory", "not set, and the host's memory is unknown (%v); set limitMemory", err)
		}
		c.LimitMemory = placement.FormatSize(n)
	}
	if c.LimitVcpus == "" {
		c.LimitVcpus = placement.FormatMilliCPU(int64(h.CPUs()) * 1000)
	}
	if c.LimitStorage == "" {
		dir := c.BlockStorageAgentConfig.BlockStorageDirPath
		n, err := h.FilesystemBytes(dir)
		if err != nil {
			return api.Invalid("limitStorage", "not set, and the size of the file system of %s is unknown (%v); set limitStorage", dir, err)
		}
		c.LimitStorage = placement.FormatSize(n)
	}
	var err error
	if c.StorageBytes, err = api.ParseSize(c.LimitStorage); err != nil {
		return api.Invalid("limitStorage", "%v", err)
	}
	if c.MemoryBytes, err = api.ParseSize(c.LimitMemory); err != nil {
		return api.Invalid("limitMemory", "%v", err)
	}
	if c.VcpusMilli, err = api.ParseCPU(c.LimitVcpus); err != nil {
		return api.Invalid("limitVcpus", "%v", err)
	}
	return nil
}

// resolveDevices defaults the VXLAN and VLAN devices to the interface that
// holds nodeAddress. Not finding one is not fatal here: only networks of
// that type need it, and their controllers report it.
func (c *Config) resolveDevices(h host) {
	n := &c.NetworkAgentConfig
	if n.VXLAN.DevName != "" && n.VLAN.DevName != "" {
		return
	}
	dev, err := h.InterfaceOf(c.NodeAddress)
	if err != nil || dev == "" {
		c.Notices = append(c.Notices, fmt.Sprintf(
			"networkAgentConfig vxlan/vlan devName not set and no interface holds nodeAddress %s: VXLAN and VLAN networks cannot be made on this node until it is set", c.NodeAddress))
		return
	}
	if n.VXLAN.DevName == "" {
		n.VXLAN.DevName = dev
	}
	if n.VLAN.DevName == "" {
		n.VLAN.DevName = dev
	}
}

// realHost reads the machine the agent runs on.
type realHost struct{}

func (realHost) Hostname() (string, error) { return os.Hostname() }

func (realHost) CPUs() int { return runtime.NumCPU() }

// MemoryBytes reads MemTotal from /proc/meminfo.
func (realHost) MemoryBytes() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: %w", err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("/proc/meminfo has no MemTotal")
}

// FilesystemBytes is statfs's blocks times block size, of path or of its
// nearest existing parent (blockStorageDirPath is made at start-up).
func (realHost) FilesystemBytes(path string) (int64, error) {
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(path, &st)
		if err == nil {
			return int64(st.Blocks) * st.Bsize, nil
		}
		parent := filepath.Dir(path)
		if !errors.Is(err, syscall.ENOENT) || parent == path {
			return 0, fmt.Errorf("statfs %s: %w", path, err)
		}
		path = parent
	}
}

// SourceAddr "connects" a UDP socket, which sends nothing but makes the
// kernel pick the route and source address.
func (realHost) SourceAddr(target string) (string, error) {
	conn, err := net.Dial("udp", target)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return "", err
	}
	return ap.Addr().Unmap().WithZone("").String(), nil
}

func (realHost) InterfaceOf(ip string) (string, error) {
	want, err := netip.ParseAddr(ip)
	if err != nil {
		return "", err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == want.Unmap() {
				return ifc.Name, nil
			}
		}
	}
	return "", nil
}

// loadSecret reads SecretFile into Secret.
func (d *DownloadAPI) loadSecret() error {
	if d.SecretFile == "" {
		return nil
	}
	b, err := os.ReadFile(d.SecretFile)
	if err != nil {
		return api.Invalid("blockStorageAgentConfig.downloadAPI.secretFile", "%v", err)
	}
	d.Secret = strings.TrimSpace(string(b))
	if len(d.Secret) < minSecretLen {
		return api.Invalid("blockStorageAgentConfig.downloadAPI.secretFile", "%s holds fewer than %d characters", d.SecretFile, minSecretLen)
	}
	return nil
}
