package debian

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// testVM is one QEMU process started by the test.
type testVM struct {
	cmd    *exec.Cmd
	serial string
	exited chan struct{}
}

// startVM boots disk (an overlay on the image is made here, so the cached
// image is never written) with the seed ISO as a second virtio disk and a
// NIC on the namespace's tap. The process is killed by its PID when the
// test ends; the serial log's tail is printed if the test failed.
func startVM(t *testing.T, n testNet, image, seed, mac string) *testVM {
	t.Helper()
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.qcow2")
	mustRun(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", overlay)
	vm := &testVM{serial: filepath.Join(dir, "serial.log"), exited: make(chan struct{})}
	vm.cmd = exec.Command("ip", "netns", "exec", n.NS, "qemu-system-x86_64",
		"-accel", "tcg,tb-size=256", "-m", "512", "-smp", "2",
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
		"-drive", "file="+overlay+",if=virtio,format=qcow2",
		"-drive", "file="+seed+",if=virtio,format=raw,readonly=on",
		"-netdev", "tap,id=n0,ifname="+n.Tap+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac="+mac,
		"-serial", "file:"+vm.serial)
	out, err := os.Create(filepath.Join(dir, "qemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	vm.cmd.Stdout, vm.cmd.Stderr = out, out
	if err := vm.cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start qemu: %v", err)
	}
	go func() { vm.cmd.Wait(); out.Close(); close(vm.exited) }()
	t.Cleanup(func() { vm.stop(t) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serial log tail:\n%s", tail(vm.serial, 3000))
			t.Logf("qemu output:\n%s", tail(filepath.Join(dir, "qemu.log"), 1000))
		}
	})
	return vm
}

// stop ends QEMU by its PID (ip netns exec execs into it): SIGTERM, then
// SIGKILL if it has not exited within 10 s.
func (vm *testVM) stop(t *testing.T) {
	pid := vm.cmd.Process.Pid
	select {
	case <-vm.exited:
		return
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stop qemu %d: %v", pid, err)
	}
	select {
	case <-vm.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-vm.exited
	}
}

// waitExit reports whether QEMU exited (the guest powered off) in time.
func (vm *testVM) waitExit(d time.Duration) bool {
	select {
	case <-vm.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// tail returns the last n bytes of a file.
func tail(name string, n int) string {
	data, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
