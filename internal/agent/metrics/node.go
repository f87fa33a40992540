package metrics

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/node"
)

// NodeSource is the node's capacity and allocation (node.Agent).
type NodeSource interface {
	Capacity() node.Resources
	Allocated() (node.Resources, bool)
}

// Storage is what the node holds on disk: the disks placed on it (an
// informer's List) and where their files are, and the image cache.
type Storage struct {
	Disks    func() []api.Object
	DiskPath func(group, namespace, id string) string
	ImageDir string
}

// AddNode adds the node's capacity, allocation and storage.
func (a *Agent) AddNode(n NodeSource, s Storage) {
	a.wrapped.MustRegister(&nodeCollector{n: n, s: s})
}

var (
	capMemDesc = prometheus.NewDesc("humstack_agent_node_capacity_memory_bytes",
		"The node's memory capacity (limitMemory).", nil, nil)
	capCPUDesc = prometheus.NewDesc("humstack_agent_node_capacity_vcpus",
		"The node's vCPU capacity (limitVcpus).", nil, nil)
	allocMemDesc = prometheus.NewDesc("humstack_agent_node_allocated_memory_bytes",
		"Memory requested by the VMs placed on the node.", nil, nil)
	allocCPUDesc = prometheus.NewDesc("humstack_agent_node_allocated_vcpus",
		"vCPUs requested by the VMs placed on the node.", nil, nil)
	allocStorageDesc = prometheus.NewDesc("humstack_agent_node_allocated_storage_bytes",
		"Size requested by the disks placed on the node.", nil, nil)
	imageCacheDesc = prometheus.NewDesc("humstack_agent_image_cache_bytes",
		"Space the files under imageDirPath take on disk.", nil, nil)
	diskAllocDesc = prometheus.NewDesc("humstack_agent_disk_allocated_bytes",
		"Space a disk's file takes on disk (allocated blocks).", []string{"group", "namespace", "disk"}, nil)
)

type nodeCollector struct {
	n NodeSource
	s Storage
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{capMemDesc, capCPUDesc, allocMemDesc, allocCPUDesc, allocStorageDesc, imageCacheDesc, diskAllocDesc} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	capacity := c.n.Capacity()
	gauge(capMemDesc, float64(capacity.MemoryBytes))
	gauge(capCPUDesc, float64(capacity.MilliCPU)/1000)
	if alloc, ok := c.n.Allocated(); ok {
		gauge(allocMemDesc, float64(alloc.MemoryBytes))
		gauge(allocCPUDesc, float64(alloc.MilliCPU)/1000)
		gauge(allocStorageDesc, float64(alloc.StorageBytes))
	}
	if c.s.ImageDir != "" {
		gauge(imageCacheDesc, float64(treeAllocated(c.s.ImageDir)))
	}
	if c.s.Disks == nil || c.s.DiskPath == nil {
		return
	}
	for _, o := range c.s.Disks() {
		m := o.GetMeta()
		if b, ok := allocated(c.s.DiskPath(m.Group, m.Namespace, m.ID)); ok {
			gauge(diskAllocDesc, float64(b), m.Group, m.Namespace, m.ID)
		}
	}
}

// allocated is the space path takes on disk: its allocated 512-byte
// blocks (st_blocks), which for a sparse qcow2 is what `qemu-img info`
// calls its actual size, at the cost of one stat.
func allocated(path string) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return blocksOf(fi), true
}

func blocksOf(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// treeAllocated adds up the allocated space of the regular files under
// dir (a missing dir is 0).
func treeAllocated(dir string) int64 {
	var sum int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			sum += blocksOf(fi)
		}
		return nil
	})
	return sum
}
