package vm_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/debian"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sc = client.Scope{Group: "g", Namespace: "ns"}

// guestAddr is the VM's static address on net1 (10.0.0.0/24, gateway .1
// on node-b's bridge).
const guestAddr = "10.0.0.10"

// vmLab is a 2-node lab (node-a Core, node-b System) with an image served
// from the hub and a key for the guest's login user.
type vmLab struct {
	*lab.Lab
	url    string
	signer ssh.Signer
	pubKey string
}

func upVMLab(t *testing.T, image string) *vmLab { return upVMLabTB(t, image) }

func upVMLabTB(t testing.TB, image string) *vmLab {
	l := labtest.Up(t, lab.Config{Nodes: 2, HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	return &vmLab{Lab: l, url: labtest.ServeFromHub(t, l, image), signer: signer, pubKey: pub}
}

// seedYAML is the seed README's VM example, adapted to the lab: a Bridge
// network with a default gateway on node-b, a disk from HTTP, a VM with a
// static address and a login user.
func (v *vmLab) seedYAML(user, memory string, vcpus int) string {
	return fmt.Sprintf(`meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta:
  apiType: systemv0/network
  id: net1
  group: g
  namespace: ns
  annotations: {networkv0/network_type: Bridge, networkv0/default_gateway: 10.0.0.1/24}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
---
meta:
  apiType: systemv0/blockstorage
  id: bs1
  group: g
  namespace: ns
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}
spec:
  requestSize: 1G
  limitSize: 2G
  from: {type: HTTP, http: {url: "%s"}}
---
meta:
  apiType: systemv0/virtualmachine
  id: vm1
  name: vm1
  group: g
  namespace: ns
  annotations: {virtualmachinev0/node_name: node-b}
spec:
  hostname: labvm
  requestVcpus: %dm
  limitVcpus: %dm
  requestMemory: %s
  limitMemory: %s
  blockStorageIDs: [bs1]
  nics:
    - networkID: net1
      ipv4Address: %s
      nameservers: [10.0.0.1]
      defaultGateway: 10.0.0.1
  actionState: PowerOn
  loginUsers:
    - username: %s
      sshAuthorizedKeys: ["%s"]
`, v.url, vcpus*1000, vcpus*1000, memory, memory, guestAddr, user, v.pubKey)
}

func (v *vmLab) apply(t *testing.T, yaml string) { v.applyTB(t, yaml) }

func (v *vmLab) applyTB(t testing.TB, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := v.Humcli(context.Background(), "apply", "-f", f); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func (v *vmLab) vm(t *testing.T) *api.VirtualMachine {
	t.Helper()
	vm, err := client.For[*api.VirtualMachine](v.Client()).Get(context.Background(), sc, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func (v *vmLab) waitVM(t *testing.T, state string, timeout time.Duration) *api.VirtualMachine {
	t.Helper()
	if err := v.WaitState(context.Background(), "virtualmachine", sc, "vm1", state, timeout); err != nil {
		t.Fatalf("%v\nnode-b agent:\n%s", err, v.LogTail("node-b", 30))
	}
	return v.vm(t)
}

// login waits for the guest to answer ping and SSH and returns its host
// name.
func (v *vmLab) login(t *testing.T, user string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := v.NS("node-b")
	if err := lab.Ping(ctx, ns, guestAddr); err != nil {
		t.Fatalf("ping %s: %v\nnode-b agent:\n%s", guestAddr, err, v.LogTail("node-b", 20))
	}
	out, err := lab.SSH(ctx, ns, guestAddr+":22", user, v.signer, "hostname")
	if err != nil {
		t.Fatalf("ssh %s@%s: %v", user, guestAddr, err)
	}
	return strings.TrimSpace(out)
}

func (v *vmLab) setAction(t *testing.T, action string) {
	t.Helper()
	vms := client.For[*api.VirtualMachine](v.Client())
	for {
		vm := v.vm(t)
		vm.Spec.ActionState = action
		if _, err := vms.Update(context.Background(), vm); err == nil {
			return
		} else if !strings.Contains(err.Error(), "conflict") {
			t.Fatal(err)
		}
	}
}

// qemuProcs lists the QEMU processes whose command line names dir.
func qemuProcs(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), "qemu-system") && strings.Contains(string(cmd), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func imageFor(t testing.TB, build func(context.Context, string) (string, error)) string {
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := build(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func tinyImage(ctx context.Context, cache string) (string, error) {
	img, err := tiny.Build(ctx, cache)
	return img.Disk, err
}

func debianImage(ctx context.Context, cache string) (string, error) {
	img, err := debian.Build(ctx, cache)
	return img.Path, err
}

// TestLabTinyVM is issue 7's acceptance with the tiny guest: the seed's VM
// YAML reaches Running, the guest answers ping and SSH with its host name;
// PowerOff stops it cleanly, PowerOn brings it back with the same MAC; a
// killed QEMU is restarted and counted; a killed and restarted agent
// adopts the running QEMU; deletion removes QEMU, taps and the directory.
func TestLabTinyVM(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	v := upVMLab(t, imageFor(t, tinyImage))
	start := time.Now()
	v.apply(t, v.seedYAML("tester", "256M", 1))
	vm := v.waitVM(t, "Running", 3*time.Minute)
	t.Logf("apply to Running (disk download included): %v", time.Since(start).Round(time.Millisecond))
	if vm.Status.PID == 0 || vm.Status.Accelerator != "tcg" || len(vm.Status.NICs) != 1 {
		t.Fatalf("status %+v", vm.Status)
	}
	labConditions(t, vm, map[string]string{api.ConditionReady: "True/Running", api.ConditionDisksReady: "True/AllAvailable",
		api.ConditionNetworksReady: "True/AllAvailable", api.ConditionStarted: "True/Running"})
	if out, err := v.Humcli(context.Background(), "describe", "vm", "vm1", "--g", "g", "--n", "ns"); err != nil ||
		!strings.Contains(out, "Started") || !strings.Contains(out, "blockstorage  g/ns/bs1") || !strings.Contains(out, "Events:") {
		t.Fatalf("humcli describe vm: %v\n%s", err, out)
	}
	if host := v.login(t, "tester", 2*time.Minute); host != "labvm" {
		t.Fatalf("hostname %q, want labvm", host)
	}
	t.Logf("apply to SSH login: %v", time.Since(start).Round(time.Millisecond))
	if err := v.WaitState(context.Background(), "blockstorage", sc, "bs1", "Used", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	mac, pid := vm.Status.NICs[0].MAC, vm.Status.PID
	v.checkWhileRunning(t)
	// The console log through the API server shows the boot.
	if out, err := v.Humcli(context.Background(), "console", "--log", "vm1", "--g", "g", "--n", "ns"); err != nil || !strings.Contains(out, tiny.ReadyMarker) {
		t.Fatalf("humcli console --log: %v\n%s", err, tailLines(out, 20))
	}
	// No console (nor anything else of QEMU's) listens on TCP: only the
	// agent's node listener does.
	out, err := v.Exec(context.Background(), "node-b", "ss", "-Hltnp")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.Contains(l, `"agent"`) {
			t.Errorf("a listening TCP socket on node-b that is not the agent's: %s", l)
		}
	}

	// PowerOff: the guest shuts down by ACPI; the disk is Active again.
	stop := time.Now()
	v.setAction(t, "PowerOff")
	vm = v.waitVM(t, "Stopped", 90*time.Second)
	if !strings.Contains(vm.Status.Message, "shut down") || strings.Contains(vm.Status.Message, "hard") {
		t.Fatalf("stopped: %q, want a clean shutdown", vm.Status.Message)
	}
	t.Logf("PowerOff to Stopped: %v", time.Since(stop).Round(time.Millisecond))
	labConditions(t, vm, map[string]string{api.ConditionReady: "True/Stopped", api.ConditionStarted: "False/Stopped"})
	if log := v.serialLog(t); !strings.Contains(log, "reboot: Power down") { // the kernel's last words on a clean power-off
		t.Fatalf("the serial log does not show a clean shutdown:\n%s", tailLines(log, 15))
	}
	if err := v.WaitState(context.Background(), "blockstorage", sc, "bs1", "Active", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	v.setAction(t, "PowerOn")
	vm = v.waitVM(t, "Running", time.Minute)
	if vm.Status.NICs[0].MAC != mac || vm.Status.PID == pid {
		t.Fatalf("after PowerOn: MAC %s (was %s), pid %d (was %d)", vm.Status.NICs[0].MAC, mac, vm.Status.PID, pid)
	}
	v.login(t, "tester", 2*time.Minute)

	// kill -9 of QEMU: restarted, counted.
	pid = vm.Status.PID
	if err := killPID(pid); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		vm = v.vm(t)
		return vm.Status.State == "Running" && vm.Status.PID != pid && vm.Status.Restarts == 1, fmt.Sprintf("status %+v", vm.Status)
	})
	v.login(t, "tester", 2*time.Minute)

	// kill -9 of the agent: the restarted agent adopts the same QEMU.
	pid = vm.Status.PID
	if err := v.StopAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := v.StartAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // two resyncs of the restarted agent
	vm = v.waitVM(t, "Running", 30*time.Second)
	dir := filepath.Join(v.Dir(), "node-b")
	if procs := qemuProcs(t, dir); vm.Status.PID != pid || len(procs) != 1 || procs[0] != pid {
		t.Fatalf("after an agent restart: status pid %d, QEMU processes %v; want the one QEMU %d", vm.Status.PID, procs, pid)
	}

	// Delete: QEMU, taps and the VM directory go; the disk is Active.
	if out, err := v.Humcli(context.Background(), "delete", "virtualmachine", "vm1", "--g", "g", "--n", "ns"); err != nil {
		t.Fatalf("humcli delete: %v\n%s", err, out)
	}
	testenv.Eventually(t, 90*time.Second, func() (bool, string) {
		_, err := client.For[*api.VirtualMachine](v.Client()).Get(context.Background(), sc, "vm1")
		return err != nil && len(qemuProcs(t, dir)) == 0, "vm1 or its QEMU still there"
	})
	if err := v.WaitState(context.Background(), "blockstorage", sc, "bs1", "Active", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	out, _ = v.Exec(context.Background(), "node-b", "ip", "-o", "link", "show")
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": ht") {
			t.Errorf("tap left after deletion: %s", l)
		}
	}
	if vms, _ := filepath.Glob(filepath.Join(dir, "vms", "vm-*")); len(vms) != 0 {
		t.Errorf("VM directories left: %v", vms)
	}
}

// TestLabDebianVM: the same YAML with the Debian image and its real
// cloud-init reaches Running, answers SSH with the host name, and
// cloud-init reports done.
func TestLabDebianVM(t *testing.T) {
	testenv.RequireCommands(t, "qemu-system-x86_64", "qemu-img", "mmdebstrap", "grub-mkimage", "mkfs.ext4", "sfdisk")
	v := upVMLab(t, imageFor(t, debianImage))
	v.apply(t, v.seedYAML("debian", "512M", 2))
	v.waitVM(t, "Running", 3*time.Minute)
	// The real cloud-init under TCG: 1-2 minutes on an idle 2-core
	// machine, several while other packages' lab tests (the web console's
	// among them) boot their guests at the same time. The test is about
	// what cloud-init does, not how fast.
	if host := v.login(t, "debian", 8*time.Minute); host != "labvm" {
		t.Fatalf("hostname %q, want labvm", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := lab.SSH(ctx, v.NS("node-b"), guestAddr+":22", "debian", v.signer, "cloud-init status --wait")
	if err != nil || !strings.Contains(out, "done") {
		t.Fatalf("cloud-init status: %q %v", out, err)
	}
	v.consoleReachesLogin(t)
}

// consoleReachesLogin runs humcli console on a pseudo-terminal, as a user
// would, presses Enter until the guest's getty prompts "login:", then
// leaves with Ctrl-].
func (v *vmLab) consoleReachesLogin(t *testing.T) {
	argv, err := v.HumcliArgv()
	if err != nil {
		t.Fatal(err)
	}
	argv = append([]string{"netns", "exec", v.NS("node-a")}, append(argv, "console", "vm1", "--g", "g", "--n", "ns")...)
	cmd := exec.Command("ip", argv...)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer cmd.Process.Kill()
	var seen strings.Builder
	got := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "login:") {
				close(got)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	deadline := time.After(90 * time.Second)
	for done := false; !done; {
		ptmx.Write([]byte("\r"))
		select {
		case <-got:
			done = true
		case <-deadline:
			t.Fatalf("no login prompt on the console within 90 s; saw:\n%s", tailLines(seen.String(), 20))
		case <-time.After(2 * time.Second):
		}
	}
	ptmx.Write([]byte{0x1d}) // Ctrl-]: leave
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("humcli console after Ctrl-]: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("humcli console did not leave on Ctrl-]")
	}
}

// checkWhileRunning: the node shows the accelerator chosen; a VM whose
// disk does not exist waits, saying so; the VNC console answers through
// the API server; a grown disk grows online; a memory change is reported
// as needing a restart.
func (v *vmLab) checkWhileRunning(t *testing.T) {
	ctx := context.Background()
	n, err := client.For[*api.Node](v.Client()).Get(ctx, client.Scope{}, "node-b")
	if err != nil || n.Spec.Accelerator != "tcg" {
		t.Fatalf("node-b accelerator %q (%v), want tcg (this machine's /dev/kvm is not usable)", n.Spec.Accelerator, err)
	}

	v.apply(t, `meta: {apiType: systemv0/virtualmachine, id: waiter, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: node-b}}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 64M, limitMemory: 64M, blockStorageIDs: [nope], actionState: PowerOn}`)
	if err := v.WaitState(ctx, "virtualmachine", sc, "waiter", "Pending", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	vms := client.For[*api.VirtualMachine](v.Client())
	if w, _ := vms.Get(ctx, sc, "waiter"); !strings.Contains(w.Status.Message, "waiting for disk nope") {
		t.Fatalf("waiting VM message %q", w.Status.Message)
	}
	if _, err := vms.Delete(ctx, sc, "waiter", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	ws, err := v.Client().DialVNC(ctx, sc, "vm1")
	if err != nil {
		t.Fatalf("VNC through the API server: %v", err)
	}
	_, greeting, err := ws.Read(ctx)
	ws.CloseNow()
	if err != nil || !strings.HasPrefix(string(greeting), "RFB 003.008") {
		t.Fatalf("VNC greeting %q, %v", greeting, err)
	}

	// Online growth: limitSize 2G -> 3G while the VM runs.
	disks := client.For[*api.BlockStorage](v.Client())
	for {
		bs, err := disks.Get(ctx, sc, "bs1")
		if err != nil {
			t.Fatal(err)
		}
		bs.Spec.LimitSize = "3G"
		if _, err := disks.Update(ctx, bs); err == nil {
			break
		} else if !strings.Contains(err.Error(), "conflict") {
			t.Fatal(err)
		}
	}
	file := filepath.Join(v.Dir(), "node-b", "blockstorages", "g", "ns", "bs1.qcow2")
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		info, err := qcow2.Info(ctx, file)
		return err == nil && info.VirtualSize == 3<<30, fmt.Sprintf("disk %+v %v, want 3 GiB", info, err)
	})
	out, err := lab.SSH(ctx, v.NS("node-b"), guestAddr+":22", "tester", v.signer, "cat /sys/block/vda/size")
	if err != nil || strings.TrimSpace(out) != strconv.Itoa(3<<30/512) {
		t.Fatalf("the guest sees %q sectors (%v), want %d", out, err, 3<<30/512)
	}

	vm := v.vm(t)
	vm.Spec.LimitMemory, vm.Spec.RequestMemory = "320M", "320M"
	if _, err := vms.Update(ctx, vm); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		vm = v.vm(t)
		return strings.Contains(strings.Join(vm.Status.RestartRequired, ";"), "memory 256MiB -> 320MiB"), fmt.Sprintf("status %+v", vm.Status)
	})
}

// serialLog reads the VM's console log on node-b (the relay's file).
func (v *vmLab) serialLog(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(v.Dir(), "node-b", "vms", "vm-*"))
	if len(dirs) != 1 {
		t.Fatalf("VM directories on node-b: %v", dirs)
	}
	var b []byte
	for _, f := range []string{"serial.log.1", "serial.log"} {
		p, _ := os.ReadFile(filepath.Join(dirs[0], f))
		b = append(b, p...)
	}
	return string(b)
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// labConditions checks vm's conditions ("Status/Reason" by type), each
// observed at the VM's current generation.
func labConditions(t *testing.T, vm *api.VirtualMachine, want map[string]string) {
	t.Helper()
	for typ, sr := range want {
		c := conditions.Find(vm.Status.Conditions, typ)
		if c == nil || string(c.Status)+"/"+c.Reason != sr || c.ObservedGeneration != vm.Meta.Generation {
			t.Errorf("condition %s: %+v, want %s at generation %d", typ, c, sr, vm.Meta.Generation)
		}
	}
}
