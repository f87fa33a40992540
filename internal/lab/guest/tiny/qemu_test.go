package tiny

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testVM is a QEMU process of the test's own, known by PID only.
type testVM struct {
	cmd     *exec.Cmd
	started time.Time
	serial  string // serial console log
	qmp     string // QMP socket
	// serialSock is the serial line's socket (bootMode.consoles).
	serialSock string
	exited     chan struct{}
}

// bootMode says how a test VM boots and where its seed is.
type bootMode struct {
	// direct boots Kernel and Initrd with -kernel/-initrd/-append instead of
	// the disk's MBR and syslinux.
	direct bool
	// seedIf is the seed's QEMU interface: "ide" (a CD-ROM, as the product
	// attaches it) or "virtio" (a virtio disk).
	seedIf string
	// consoles gives the VM a VGA card and its serial line on a socket
	// (vm.serialSock) as the product does, still logged to vm.serial.
	consoles bool
}

// startVM boots the image (its disk through a qcow2 overlay, so the cached
// image stays pristine) with the seed and one virtio NIC on the
// namespace's tap.
func startVM(t *testing.T, n testNet, img Image, mode bootMode, seed, mac string) *testVM {
	t.Helper()
	dir := t.TempDir()
	overlay := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", img.Disk, overlay).CombinedOutput(); err != nil {
		t.Fatalf("overlay: %v: %s", err, out)
	}
	vm := &testVM{serial: filepath.Join(dir, "serial.log"), qmp: filepath.Join(dir, "qmp.sock"),
		serialSock: filepath.Join(dir, "serial.sock"), exited: make(chan struct{})}
	args := append([]string{"netns", "exec", n.name}, vm.qemuArgs(n, img, mode, overlay, seed, mac)...)
	// ip netns exec execs QEMU in place: the PID is QEMU's.
	vm.cmd = exec.Command("ip", args...)
	var stderr bytes.Buffer
	vm.cmd.Stdout, vm.cmd.Stderr = &stderr, &stderr
	vm.started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	go func() { vm.cmd.Wait(); close(vm.exited) }()
	t.Cleanup(func() {
		vm.kill(t)
		if t.Failed() {
			t.Logf("qemu output: %s", stderr.String())
			t.Logf("serial console (last lines):\n%s", tail(vm.serial, 40))
		}
	})
	return vm
}

// qemuArgs is the QEMU command line: TCG as GUEST.md prescribes, no
// default devices, the serial console to a file, QMP for the power button.
func (vm *testVM) qemuArgs(n testNet, img Image, mode bootMode, overlay, seed, mac string) []string {
	args := []string{"qemu-system-x86_64",
		"-accel", "tcg,tb-size=256", "-m", "128", "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-qmp", "unix:" + vm.qmp + ",server=on,wait=off",
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
		"-netdev", "tap,id=n0,ifname=" + n.tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=" + mac,
	}
	if mode.consoles {
		args = append(args, "-chardev", "socket,id=s0,path="+vm.serialSock+",server=on,wait=off,logfile="+vm.serial,
			"-serial", "chardev:s0", "-device", "VGA")
	} else {
		args = append(args, "-serial", "file:"+vm.serial)
	}
	if mode.seedIf == "ide" {
		args = append(args, "-drive", "file="+seed+",media=cdrom,if=ide,format=raw,readonly=on")
	} else {
		args = append(args, "-drive", "file="+seed+",if="+mode.seedIf+",format=raw,readonly=on")
	}
	if mode.direct {
		args = append(args, "-kernel", img.Kernel, "-initrd", img.Initrd, "-append", Cmdline)
	}
	return args
}

// kill stops QEMU by its PID if it still runs and waits for it.
func (vm *testVM) kill(t *testing.T) {
	select {
	case <-vm.exited:
		return
	default:
	}
	if err := vm.cmd.Process.Kill(); err != nil {
		t.Errorf("kill qemu %d: %v", vm.cmd.Process.Pid, err)
	}
	select {
	case <-vm.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("qemu %d did not exit after SIGKILL", vm.cmd.Process.Pid)
	}
}

// waitConsole waits for a line starting with ReadyMarker and returns it; a
// FailedMarker line, QEMU's exit or the timeout fail the test.
func (vm *testVM) waitConsole(t *testing.T, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b, _ := os.ReadFile(vm.serial)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, ReadyMarker):
				return line
			case strings.HasPrefix(line, FailedMarker):
				t.Fatalf("guest failed: %s", line)
			}
		}
		select {
		case <-vm.exited:
			t.Fatalf("qemu exited before the ready marker: %v", vm.cmd.ProcessState)
		case <-deadline:
			t.Fatalf("no %s on the console after %s", ReadyMarker, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// powerdown presses the ACPI power button through QMP (what the product's
// PowerOff does) and waits for QEMU to exit.
func (vm *testVM) powerdown(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := qmpCommands(vm.qmp, "qmp_capabilities", "system_powerdown"); err != nil {
		t.Fatalf("qmp: %v", err)
	}
	select {
	case <-vm.exited:
	case <-time.After(timeout):
		t.Fatalf("guest did not power off within %s of system_powerdown", timeout)
	}
}

// qmpCommands runs argument-less QMP commands in order, each answered
// with "return"; events in between are skipped.
func qmpCommands(sock string, cmds ...string) error {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(c)
	var greeting map[string]any
	if err := dec.Decode(&greeting); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	for _, cmd := range cmds {
		if _, err := fmt.Fprintf(c, "{\"execute\":%q}\n", cmd); err != nil {
			return err
		}
		for {
			var msg map[string]json.RawMessage
			if err := dec.Decode(&msg); err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
			if e, ok := msg["error"]; ok {
				return fmt.Errorf("%s: %s", cmd, e)
			}
			if _, ok := msg["return"]; ok {
				break
			}
		}
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
