package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// DetectAccel picks the accelerator for mode: "tcg" is TCG; "kvm" is KVM
// when /dev/kvm opens read-write, else TCG; "auto" is KVM only when every
// sign says it works — the kvm_intel or kvm_amd module is loaded, the CPU
// flags have vmx or svm, /dev/kvm opens read-write — and a canary guest
// boots and does its work under it within a few seconds. Some hosts have a
// /dev/kvm whose guests crawl so slowly that they seem to hang (PVM
// backends: the kvm_pvm module, no vmx/svm flag); the static signs catch
// those, and the canary catches what the signs miss. reason says why TCG
// was chosen ("" for KVM).
func DetectAccel(ctx context.Context, mode string) (accel, reason string) {
	return hostAccel.detect(ctx, mode)
}

// accelProbe is where DetectAccel looks; tests point it at fake roots.
type accelProbe struct {
	sys, proc string // "/sys", "/proc"
	kvmDev    string // "/dev/kvm"
	canary    func(ctx context.Context) error
}

var hostAccel = accelProbe{sys: "/sys", proc: "/proc", kvmDev: "/dev/kvm",
	canary: func(ctx context.Context) error { return runCanary(ctx, "kvm", canaryBootSector) }}

func (p accelProbe) detect(ctx context.Context, mode string) (string, string) {
	switch mode {
	case "tcg":
		return "tcg", "tcg requested"
	case "kvm":
		if err := p.openKVM(); err != nil {
			return "tcg", err.Error()
		}
		return "kvm", ""
	case "auto":
	default:
		return "tcg", fmt.Sprintf("unknown accel mode %q", mode)
	}
	var why []string
	if err := p.checkModule(); err != nil {
		why = append(why, err.Error())
	}
	if err := p.checkCPUFlags(); err != nil {
		why = append(why, err.Error())
	}
	if err := p.openKVM(); err != nil {
		why = append(why, err.Error())
	}
	if len(why) > 0 {
		return "tcg", strings.Join(why, "; ")
	}
	if err := p.canary(ctx); err != nil {
		return "tcg", "kvm canary: " + err.Error()
	}
	return "kvm", ""
}

// checkModule requires a hardware KVM backend; it names a PVM one, whose
// presence explains the rest.
func (p accelProbe) checkModule() error {
	for _, m := range []string{"kvm_intel", "kvm_amd"} {
		if _, err := os.Stat(filepath.Join(p.sys, "module", m)); err == nil {
			return nil
		}
	}
	if _, err := os.Stat(filepath.Join(p.sys, "module", "kvm_pvm")); err == nil {
		return errors.New("kvm_pvm backend: no kvm_intel or kvm_amd module")
	}
	return errors.New("no kvm_intel or kvm_amd module")
}

// checkCPUFlags requires vmx (Intel) or svm (AMD) among the CPU flags.
func (p accelProbe) checkCPUFlags() error {
	f, err := os.Open(filepath.Join(p.proc, "cpuinfo"))
	if err != nil {
		return fmt.Errorf("cpu flags: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		flags := strings.Fields(val)
		if slices.Contains(flags, "vmx") || slices.Contains(flags, "svm") {
			return nil
		}
		return errors.New("no vmx or svm cpu flag")
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("cpu flags: %w", err)
	}
	return errors.New("no cpu flags in cpuinfo")
}

func (p accelProbe) openKVM() error {
	fd, err := unix.Open(p.kvmDev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p.kvmDev, err)
	}
	unix.Close(fd)
	return nil
}
