package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// canaryMarker is what the canary guest writes to the debug console once
// its work is done.
const canaryMarker = "HUMSTACK-KVM-CANARY-OK"

// canaryTimeout bounds a canary run. Under working KVM, QEMU, the BIOS and
// the boot sector take well under a second, under TCG about as long.
const canaryTimeout = 10 * time.Second

// canaryExit is QEMU's exit status when the guest writes 0x10 to
// isa-debug-exit: (0x10 << 1) | 1.
const canaryExit = 33

// canaryBootSector is a hand-assembled MBR boot sector (listing below),
// loaded by SeaBIOS at 0x7c00. It goes through real mode, 32-bit protected
// mode and paging into 64-bit long mode, the path every x86-64 kernel
// takes, then does some work: 15 million memory read-modify-writes over
// 2-16 MiB. Then it writes canaryMarker and a newline to the isa-debugcon
// port 0xe9 and 0x10 to isa-debug-exit (port 0xf4), which ends QEMU with
// status canaryExit.
//
// The work is what catches a /dev/kvm whose guests "hang": on a PVM
// backend the mode switches are fine, but the same loop runs over 100
// times slower than under TCG (27 s against 0.2 s), and a Linux kernel
// spends minutes decompressing itself.
var canaryBootSector = func() []byte {
	code := []byte{
		// 16-bit real mode, loaded at 0x7c00: load the GDT, set PE, far jump
		0xfa,       // 00: cli
		0x31, 0xc0, // 01: xor ax, ax
		0x8e, 0xd8, // 03: mov ds, ax
		0x0f, 0x01, 0x16, 0xe8, 0x7c, // 05: lgdt [0x7ce8]
		0x0f, 0x20, 0xc0, // 0a: mov eax, cr0
		0x0c, 0x01, // 0d: or al, 1 (PE)
		0x0f, 0x22, 0xc0, // 0f: mov cr0, eax
		0xea, 0x17, 0x7c, 0x08, 0x00, // 12: jmp 0x08:0x7c17
		// 32-bit protected mode: page tables at 0x1000 (PML4), 0x2000 (PDPT),
		// 0x3000 (PD: eight 2 MiB pages identity-mapping 0-16 MiB)
		0x66, 0xb8, 0x10, 0x00, // 17: mov ax, 0x10 (data segment)
		0x8e, 0xd8, // 1b: mov ds, ax
		0x8e, 0xc0, // 1d: mov es, ax
		0x31, 0xc0, // 1f: xor eax, eax
		0xbf, 0x00, 0x10, 0x00, 0x00, // 21: mov edi, 0x1000
		0xb9, 0x00, 0x0c, 0x00, 0x00, // 26: mov ecx, 0xc00
		0xf3, 0xab, // 2b: rep stosd: zero 0x1000-0x3fff
		0xc7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x03, 0x20, 0x00, 0x00, // 2d: mov dword [0x1000], 0x2003: PML4[0] -> PDPT
		0xc7, 0x05, 0x00, 0x20, 0x00, 0x00, 0x03, 0x30, 0x00, 0x00, // 37: mov dword [0x2000], 0x3003: PDPT[0] -> PD
		0xbf, 0x00, 0x30, 0x00, 0x00, // 41: mov edi, 0x3000
		0xb8, 0x83, 0x00, 0x00, 0x00, // 46: mov eax, 0x83: 2 MiB page, present, writable
		0xb9, 0x08, 0x00, 0x00, 0x00, // 4b: mov ecx, 8
		0x89, 0x07, // 50: mov [edi], eax
		0x05, 0x00, 0x00, 0x20, 0x00, // 52: add eax, 0x200000
		0x83, 0xc7, 0x08, // 57: add edi, 8
		0xe2, 0xf4, // 5a: loop 0x50: PD[0-7] map 0-16 MiB
		// enable PAE, long mode (EFER.LME) and paging, far jump to 64-bit code
		0xb8, 0x00, 0x10, 0x00, 0x00, // 5c: mov eax, 0x1000
		0x0f, 0x22, 0xd8, // 61: mov cr3, eax
		0x0f, 0x20, 0xe0, // 64: mov eax, cr4
		0x83, 0xc8, 0x20, // 67: or eax, 0x20 (PAE)
		0x0f, 0x22, 0xe0, // 6a: mov cr4, eax
		0xb9, 0x80, 0x00, 0x00, 0xc0, // 6d: mov ecx, 0xc0000080 (EFER)
		0x0f, 0x32, // 72: rdmsr
		0x0d, 0x00, 0x01, 0x00, 0x00, // 74: or eax, 0x100 (LME)
		0x0f, 0x30, // 79: wrmsr
		0x0f, 0x20, 0xc0, // 7b: mov eax, cr0
		0x0d, 0x00, 0x00, 0x00, 0x80, // 7e: or eax, 0x80000000 (PG)
		0x0f, 0x22, 0xc0, // 83: mov cr0, eax
		0xea, 0x8d, 0x7c, 0x00, 0x00, 0x18, 0x00, // 86: jmp 0x18:0x7c8d
		// 64-bit long mode: the work, 64 passes of a read-modify-write to
		// every 64th byte of 2-16 MiB (15 M accesses)
		0xb9, 0x40, 0x00, 0x00, 0x00, // 8d: mov ecx, 64
		0xbf, 0x00, 0x00, 0x20, 0x00, // 92: mov edi, 0x200000
		0x80, 0x07, 0x01, // 97: add byte [rdi], 1
		0x83, 0xc7, 0x40, // 9a: add edi, 64
		0x81, 0xff, 0x00, 0x00, 0x00, 0x01, // 9d: cmp edi, 0x1000000
		0x72, 0xf2, // a3: jb 0x97
		0xff, 0xc9, // a5: dec ecx
		0x75, 0xe9, // a7: jnz 0x92
		// print the message to the debug console, exit through isa-debug-exit
		0xbe, 0xee, 0x7c, 0x00, 0x00, // a9: mov esi, 0x7cee (message)
		0x66, 0xba, 0xe9, 0x00, // ae: mov dx, 0xe9
		0xac,       // b2: lodsb
		0x84, 0xc0, // b3: test al, al
		0x74, 0x03, // b5: jz 0xba
		0xee,       // b7: out dx, al
		0xeb, 0xf8, // b8: jmp 0xb2
		0x66, 0xba, 0xf4, 0x00, // ba: mov dx, 0xf4
		0xb0, 0x10, // be: mov al, 0x10
		0xee,       // c0: out dx, al: QEMU exits
		0xf4,       // c1: hlt
		0xeb, 0xfd, // c2: jmp 0xc1
		0, 0, 0, 0, // c4: padding
		// c8 (0x7cc8): the GDT
		0, 0, 0, 0, 0, 0, 0, 0, // null
		0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00, // 0x08: flat 32-bit code
		0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, // 0x10: flat data
		0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xaf, 0x00, // 0x18: 64-bit code
		0x1f, 0x00, 0xc8, 0x7c, 0x00, 0x00, // e8: GDT descriptor: limit 31, base 0x7cc8
	}
	code = append(code, canaryMarker+"\n\x00"...) // ee (0x7cee): the message
	sector := make([]byte, 512)
	copy(sector, code)
	sector[510], sector[511] = 0x55, 0xaa // boot signature
	return sector
}()

// runCanary boots sector under accel in a throwaway QEMU and succeeds when
// the marker arrives and QEMU exits through isa-debug-exit; a guest that
// hangs is killed at canaryTimeout.
func runCanary(ctx context.Context, accel string, sector []byte) error {
	dir, err := os.MkdirTemp("", "humstack-canary-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	img, out := filepath.Join(dir, "boot.img"), filepath.Join(dir, "debugcon.out")
	if err := os.WriteFile(img, sector, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, canaryTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary,
		"-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "pc", "-accel", accel, "-m", "32M",
		"-drive", "driver=raw,if=ide,file.driver=file,file.filename="+img,
		"-chardev", "file,id=hs_debugcon,path="+out,
		"-device", "isa-debugcon,iobase=0xe9,chardev=hs_debugcon",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	got, _ := os.ReadFile(out)
	if ctx.Err() != nil {
		return fmt.Errorf("no marker within %v, guest killed: %w", canaryTimeout, ctx.Err())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != canaryExit {
		return fmt.Errorf("qemu: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if !bytes.Contains(got, []byte(canaryMarker)) {
		return fmt.Errorf("guest exited without the marker (console %q)", got)
	}
	return nil
}
