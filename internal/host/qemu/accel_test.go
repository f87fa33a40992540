package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
)

// fakeHost is a sysfs and procfs root with the given modules and CPU flags,
// and a /dev/kvm stand-in (a regular file) when kvm is set.
func fakeHost(t *testing.T, modules []string, flags string, kvm bool, canary error) accelProbe {
	t.Helper()
	root := t.TempDir()
	p := accelProbe{sys: filepath.Join(root, "sys"), proc: filepath.Join(root, "proc"),
		kvmDev: filepath.Join(root, "dev", "kvm"), canary: func(context.Context) error { return canary }}
	for _, m := range modules {
		must(t, os.MkdirAll(filepath.Join(p.sys, "module", m), 0o755))
	}
	must(t, os.MkdirAll(p.proc, 0o755))
	cpuinfo := "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: " + flags + "\n\nprocessor\t: 1\nflags\t\t: " + flags + "\n"
	must(t, os.WriteFile(filepath.Join(p.proc, "cpuinfo"), []byte(cpuinfo), 0o644))
	if kvm {
		must(t, os.MkdirAll(filepath.Dir(p.kvmDev), 0o755))
		must(t, os.WriteFile(p.kvmDev, nil, 0o600))
	}
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDetectAccel(t *testing.T) {
	const pvmFlags = "fpu vme de pse tsc msr pae hypervisor lahf_lm"
	const vmxFlags = "fpu vme de pse tsc msr pae vmx lahf_lm"
	hung := errors.New("no marker within 10s")
	for _, tc := range []struct {
		name       string
		probe      func(t *testing.T) accelProbe
		mode       string
		want       string
		reasonHas  []string // all of these in the reason
		reasonNone bool
	}{
		{"kvm_pvm host", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_pvm"}, pvmFlags, true, nil)
		}, "auto", "tcg", []string{"kvm_pvm backend", "vmx"}, false},
		{"no /dev/kvm", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_intel"}, vmxFlags, false, nil)
		}, "auto", "tcg", []string{"/dev/kvm"}, false},
		{"no kvm at all", func(t *testing.T) accelProbe {
			return fakeHost(t, nil, pvmFlags, false, nil)
		}, "auto", "tcg", []string{"no kvm_intel or kvm_amd module", "vmx", "/dev/kvm"}, false},
		{"all signs good but the canary hangs", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_intel"}, vmxFlags, true, hung)
		}, "auto", "tcg", []string{"canary", "no marker"}, false},
		{"amd with working canary", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_amd"}, "fpu svm", true, nil)
		}, "auto", "kvm", nil, true},
		{"mode tcg on a kvm host", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_intel"}, vmxFlags, true, nil)
		}, "tcg", "tcg", []string{"requested"}, false},
		{"mode kvm skips the canary", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_pvm"}, pvmFlags, true, hung)
		}, "kvm", "kvm", nil, true},
		{"mode kvm without /dev/kvm", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_intel"}, vmxFlags, false, nil)
		}, "kvm", "tcg", []string{"/dev/kvm"}, false},
		{"unknown mode", func(t *testing.T) accelProbe {
			return fakeHost(t, []string{"kvm", "kvm_intel"}, vmxFlags, true, nil)
		}, "hvf", "tcg", []string{"unknown"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accel, reason := tc.probe(t).detect(context.Background(), tc.mode)
			if accel != tc.want {
				t.Fatalf("accel %q (%s), want %q", accel, reason, tc.want)
			}
			if tc.reasonNone && reason != "" {
				t.Errorf("reason %q, want none", reason)
			}
			for _, s := range tc.reasonHas {
				if !strings.Contains(reason, s) {
					t.Errorf("reason %q lacks %q", reason, s)
				}
			}
		})
	}
}

// TestCanaryGuest boots the canary's boot sector under TCG, proving the
// hand-assembled program reaches protected mode and reports; and a sector
// that only halts, proving a hung guest is killed in time and reported.
func TestCanaryGuest(t *testing.T) {
	testenv.RequireCommands(t, Binary)
	start := time.Now()
	if err := runCanary(context.Background(), "tcg", canaryBootSector); err != nil {
		t.Fatalf("canary under tcg: %v", err)
	}
	t.Logf("canary under tcg: %v", time.Since(start).Round(time.Millisecond))

	hang := make([]byte, 512)
	copy(hang, []byte{0xfa, 0xf4, 0xeb, 0xfd}) // cli; hlt; jmp hlt
	hang[510], hang[511] = 0x55, 0xaa
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start = time.Now()
	err := runCanary(ctx, "tcg", hang)
	if err == nil || !strings.Contains(err.Error(), "no marker") {
		t.Fatalf("hanging guest: err %v, want no marker", err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("hanging guest took %v to be killed", took)
	}
}

// TestDetectAccelHost runs the real detection; on this project's hosts
// (kvm_pvm, guests hang) it must say tcg. Elsewhere it only logs.
func TestDetectAccelHost(t *testing.T) {
	accel, reason := DetectAccel(context.Background(), "auto")
	t.Logf("auto: %s (%s)", accel, reason)
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil && accel != "tcg" {
		t.Errorf("kvm_pvm host: accel %s, want tcg", accel)
	}
}
