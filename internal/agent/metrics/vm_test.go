package metrics

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/vm"
)

// fakeProc writes what the collector reads of process pid under root.
func fakeProc(t *testing.T, root string, pid int, comm string, utime, stime, rssKB int) {
	t.Helper()
	dir := filepath.Join(root, itoa(pid))
	// Fields 1-15 of proc(5): pid (comm) state ppid pgrp session tty_nr
	// tpgid flags minflt cminflt majflt cmajflt utime stime, and more.
	writeFile(t, filepath.Join(dir, "stat"), itoa(pid)+" ("+comm+") S 1 4242 4242 0 -1 4194560 9000 0 12 0 "+
		itoa(utime)+" "+itoa(stime)+" 0 0 20 0 4 0 5000 3000000000 25600 18446744073709551615\n")
	writeFile(t, filepath.Join(dir, "status"), "Name:\tqemu-system-x86\nVmPeak:\t 3000000 kB\nVmRSS:\t "+itoa(rssKB)+" kB\nThreads:\t4\n")
}

// netDev is /proc/net/dev of a host with lo and the tap hs-aaaa, which
// received (from the guest) 1000 bytes in 10 packets and sent 5000 in 50.
const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0
hs-aaaa:    1000      10    0    0    0     0          0         0     5000      50    0    0    0     0       0          0
`

func itoa(i int) string { return strconv.Itoa(i) }

// TestVMMetrics: a running VM's CPU, memory, NIC (from the guest's side)
// and disk counters from fakes of /proc, sysfs and QMP; a VM whose QMP
// hangs costs only its disk counters, within the timeout; a stopped VM
// has its state only.
func TestVMMetrics(t *testing.T) {
	procRoot, netDevPath := t.TempDir(), filepath.Join(t.TempDir(), "dev")
	writeFile(t, netDevPath, netDev)
	fakeProc(t, procRoot, 4242, "qemu-system-x86) (odd", 250, 50, 102400)
	fakeProc(t, procRoot, 4343, "qemu-system-x86", 7, 3, 2048)
	good, hung := t.TempDir(), t.TempDir()
	serveQMP(t, good, false)
	serveQMP(t, hung, true)
	procs := fakeProcs{
		"g1/ns1/web": {Dir: good, PID: 4242, VCPUs: 2, MemoryBytes: 512 << 20,
			Disks: []vm.ProcessDisk{{Node: "disk0", Namespace: "ns1", ID: "root"}, {Node: "disk1", Namespace: "ns2", ID: "data"}},
			NICs:  []vm.ProcessNIC{{Tap: "hs-aaaa", NetworkID: "net1"}, {Tap: "hs-gone", NetworkID: "net2"}}},
		"g1/ns1/stuck": {Dir: hung, PID: 4343, VCPUs: 1, MemoryBytes: 128 << 20,
			Disks: []vm.ProcessDisk{{Node: "disk0", Namespace: "ns1", ID: "d2"}}},
	}
	vms := []api.Object{virtualMachine("g1", "ns1", "web", vm.StateRunning), virtualMachine("g1", "ns1", "stuck", vm.StateRunning),
		virtualMachine("g1", "ns1", "off", vm.StateStopped)}
	a := New("node-a", nil)
	a.AddVMs(VMOptions{VMs: func() []api.Object { return vms }, Procs: procs, Timeout: 300 * time.Millisecond,
		ProcRoot: procRoot, NetDev: netDevPath})
	start := time.Now()
	out := scrape(t, a)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("scrape took %v with a hung QMP (timeout 300ms)", d)
	}
	l := `group="g1",namespace="ns1",node="node-a",vm="web"`
	mustHave(t, out,
		`humstack_vm_state{group="g1",namespace="ns1",node="node-a",state="Running",vm="web"} 1`,
		`humstack_vm_state{group="g1",namespace="ns1",node="node-a",state="Stopped",vm="web"} 0`,
		`humstack_vm_state{group="g1",namespace="ns1",node="node-a",state="Stopped",vm="off"} 1`,
		`humstack_vm_cpu_seconds_total{`+l+`} 3`,
		`humstack_vm_vcpus{`+l+`} 2`,
		`humstack_vm_memory_bytes{`+l+`} 1.048576e+08`,
		`humstack_vm_memory_configured_bytes{`+l+`} 5.36870912e+08`,
		// The guest received what the tap transmitted, and the reverse.
		`humstack_vm_network_receive_bytes_total{group="g1",namespace="ns1",network="net1",node="node-a",tap="hs-aaaa",vm="web"} 5000`,
		`humstack_vm_network_transmit_bytes_total{group="g1",namespace="ns1",network="net1",node="node-a",tap="hs-aaaa",vm="web"} 1000`,
		`humstack_vm_network_receive_packets_total{group="g1",namespace="ns1",network="net1",node="node-a",tap="hs-aaaa",vm="web"} 50`,
		`humstack_vm_network_transmit_packets_total{group="g1",namespace="ns1",network="net1",node="node-a",tap="hs-aaaa",vm="web"} 10`,
		`humstack_vm_disk_read_bytes_total{disk="root",`+l+`} 1.048576e+06`,
		`humstack_vm_disk_write_bytes_total{disk="root",`+l+`} 4096`,
		`humstack_vm_disk_reads_total{disk="root",`+l+`} 256`,
		`humstack_vm_disk_writes_total{disk="root",`+l+`} 1`,
		`humstack_vm_disk_writes_total{disk="ns2/data",`+l+`} 4`,
		// The stuck VM: its process, not its disks.
		`humstack_vm_cpu_seconds_total{group="g1",namespace="ns1",node="node-a",vm="stuck"} 0.1`,
	)
	for _, bad := range []string{`disk="d2"`, `humstack_vm_cpu_seconds_total{group="g1",namespace="ns1",node="node-a",vm="off"}`, `tap="hs-gone"`} {
		if strings.Contains(out, bad) {
			t.Errorf("exposition has %s", bad)
		}
	}
	// Each scrape counts its failures: the hung QMP, the missing tap.
	out = scrape(t, a)
	for _, src := range []string{"qmp", "net"} {
		if n := testutil.ToFloat64(a.collectErr.WithLabelValues(src)); n != 2 {
			t.Errorf("%s errors after two scrapes: %v, want 2", src, n)
		}
	}
	if n := testutil.ToFloat64(a.collectErr.WithLabelValues("proc")); n != 0 {
		t.Errorf("proc errors: %v, want 0", n)
	}
	promtool(t, out)
}
