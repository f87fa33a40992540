package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/host/qemu"
)

// Defaults of VMOptions.
const (
	DefaultVMTimeout = 2 * time.Second
	// maxParallelVMs bounds the VMs read at once during a scrape.
	maxParallelVMs = 8
)

// ProcessSource finds the running QEMU of a VM (vm.Driver).
type ProcessSource interface {
	Process(group, namespace, id string) (vm.Process, bool)
}

// VMOptions say where the per-VM values come from.
type VMOptions struct {
	VMs      func() []api.Object // the VMs placed on the node (an informer's List)
	Procs    ProcessSource
	Timeout  time.Duration // per VM (QMP); default DefaultVMTimeout
	ProcRoot string        // default /proc
	NetDev   string        // default /proc/net/dev
}

// AddVMs adds the per-VM metrics.
func (a *Agent) AddVMs(o VMOptions) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultVMTimeout
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.NetDev == "" {
		o.NetDev = "/proc/net/dev"
	}
	a.wrapped.MustRegister(&vmCollector{o: o, errs: a.collectErr})
}

// vmStates are the states humstack_vm_state has a series for (SPEC §2).
var vmStates = []string{vm.StatePending, vm.StateStarting, vm.StateRunning, vm.StateStopping, vm.StateStopped, vm.StateError, api.VMStateUnknown}

var (
	vmLabels     = []string{"group", "namespace", "vm"}
	vmStateDesc  = prometheus.NewDesc("humstack_vm_state", "1 for the VM's status.state, 0 for the other states.", append(vmLabels, "state"), nil)
	vmCPUDesc    = prometheus.NewDesc("humstack_vm_cpu_seconds_total", "User and system CPU time of the VM's QEMU process.", vmLabels, nil)
	vmVCPUsDesc  = prometheus.NewDesc("humstack_vm_vcpus", "vCPUs QEMU runs the VM with.", vmLabels, nil)
	vmMemDesc    = prometheus.NewDesc("humstack_vm_memory_bytes", "Resident memory of the VM's QEMU process.", vmLabels, nil)
	vmMemCfgDesc = prometheus.NewDesc("humstack_vm_memory_configured_bytes", "Memory QEMU runs the VM with.", vmLabels, nil)
	diskLabels   = append(vmLabels[:3:3], "disk")
	vmRdBDesc    = prometheus.NewDesc("humstack_vm_disk_read_bytes_total", "Bytes the guest read from the disk.", diskLabels, nil)
	vmWrBDesc    = prometheus.NewDesc("humstack_vm_disk_write_bytes_total", "Bytes the guest wrote to the disk.", diskLabels, nil)
	vmRdDesc     = prometheus.NewDesc("humstack_vm_disk_reads_total", "Read operations of the guest on the disk.", diskLabels, nil)
	vmWrDesc     = prometheus.NewDesc("humstack_vm_disk_writes_total", "Write operations of the guest on the disk.", diskLabels, nil)
	nicLabels    = append(vmLabels[:3:3], "network", "tap")
	vmRxBDesc    = prometheus.NewDesc("humstack_vm_network_receive_bytes_total", "Bytes the guest received on the NIC (the tap's transmit).", nicLabels, nil)
	vmTxBDesc    = prometheus.NewDesc("humstack_vm_network_transmit_bytes_total", "Bytes the guest sent on the NIC (the tap's receive).", nicLabels, nil)
	vmRxPDesc    = prometheus.NewDesc("humstack_vm_network_receive_packets_total", "Packets the guest received on the NIC.", nicLabels, nil)
	vmTxPDesc    = prometheus.NewDesc("humstack_vm_network_transmit_packets_total", "Packets the guest sent on the NIC.", nicLabels, nil)
)

type vmCollector struct {
	o    VMOptions
	errs *prometheus.CounterVec
}

func (c *vmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{vmStateDesc, vmCPUDesc, vmVCPUsDesc, vmMemDesc, vmMemCfgDesc,
		vmRdBDesc, vmWrBDesc, vmRdDesc, vmWrDesc, vmRxBDesc, vmTxBDesc, vmRxPDesc, vmTxPDesc} {
		ch <- d
	}
}

// Collect reports every VM's state, and reads the running ones in
// parallel, each under the timeout.
func (c *vmCollector) Collect(ch chan<- prometheus.Metric) {
	nics := sync.OnceValue(c.netDev)
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelVMs)
	for _, o := range c.o.VMs() {
		v, ok := o.(*api.VirtualMachine)
		if !ok {
			continue
		}
		m := &v.Meta
		for _, s := range vmStates {
			val := 0.0
			if v.Status.State == s {
				val = 1
			}
			ch <- prometheus.MustNewConstMetric(vmStateDesc, prometheus.GaugeValue, val, m.Group, m.Namespace, m.ID, s)
		}
		p, running := c.o.Procs.Process(m.Group, m.Namespace, m.ID)
		if !running {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.collectVM(ch, []string{m.Group, m.Namespace, m.ID}, p, nics)
		}()
	}
	wg.Wait()
}

// collectVM reports one running VM; what cannot be read is left out and
// counted in humstack_agent_vm_collect_errors_total.
func (c *vmCollector) collectVM(ch chan<- prometheus.Metric, labels []string, p vm.Process, nics func() map[string]tapStats) {
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, append(labels[:3:3], extra...)...)
	}
	emit(vmVCPUsDesc, prometheus.GaugeValue, float64(p.VCPUs))
	emit(vmMemCfgDesc, prometheus.GaugeValue, float64(p.MemoryBytes))
	if cpu, err := procCPUSeconds(c.o.ProcRoot, p.PID); err == nil {
		emit(vmCPUDesc, prometheus.CounterValue, cpu)
	} else {
		c.errs.WithLabelValues("proc").Inc()
	}
	if rss, err := procRSSBytes(c.o.ProcRoot, p.PID); err == nil {
		emit(vmMemDesc, prometheus.GaugeValue, float64(rss))
	} else {
		c.errs.WithLabelValues("proc").Inc()
	}
	for _, n := range p.NICs {
		s, ok := nics()[n.Tap]
		if !ok {
			c.errs.WithLabelValues("net").Inc()
			continue
		}
		// The tap is the host's end of the guest's NIC: what it
		// transmits, the guest receives.
		emit(vmRxBDesc, prometheus.CounterValue, s.txBytes, n.NetworkID, n.Tap)
		emit(vmTxBDesc, prometheus.CounterValue, s.rxBytes, n.NetworkID, n.Tap)
		emit(vmRxPDesc, prometheus.CounterValue, s.txPackets, n.NetworkID, n.Tap)
		emit(vmTxPDesc, prometheus.CounterValue, s.rxPackets, n.NetworkID, n.Tap)
	}
	if len(p.Disks) == 0 {
		return
	}
	stats, err := c.blockStats(p.Dir)
	if err != nil {
		c.errs.WithLabelValues("qmp").Inc()
		return
	}
	for _, d := range p.Disks {
		s, ok := stats[d.Node]
		if !ok {
			continue
		}
		disk := d.ID
		if d.Namespace != labels[1] { // keep two disks of one ID apart
			disk = d.Namespace + "/" + d.ID
		}
		emit(vmRdBDesc, prometheus.CounterValue, float64(s.ReadBytes), disk)
		emit(vmWrBDesc, prometheus.CounterValue, float64(s.WriteBytes), disk)
		emit(vmRdDesc, prometheus.CounterValue, float64(s.Reads), disk)
		emit(vmWrDesc, prometheus.CounterValue, float64(s.Writes), disk)
	}
}

// netDev is every interface's counters, read once per scrape (nil when
// unreadable: every NIC then counts as an error).
func (c *vmCollector) netDev() map[string]tapStats {
	m, err := readNetDev(c.o.NetDev)
	if err != nil {
		c.errs.WithLabelValues("net").Inc()
	}
	return m
}

// blockStats asks the VM's QMP for its disks' counters, within the
// timeout: QEMU serves one QMP client at a time, so a driver holding the
// socket (a shutdown in progress) makes this wait, never the scrape.
func (c *vmCollector) blockStats(dir string) (map[string]qemu.BlockStats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	q, err := qemu.DialQMP(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	return q.BlockStats(ctx)
}
