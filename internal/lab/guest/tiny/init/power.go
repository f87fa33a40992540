package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// supervise is PID 1's life after boot: reap every child (orphans are
// re-parented to init) and power off or reboot when asked, by busybox's
// poweroff/reboot/halt (SIGUSR2/SIGTERM/SIGUSR1) or by the ACPI power
// button, which is what QMP system_powerdown presses.
func supervise() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR, unix.SIGINT)
	button := make(chan struct{}, 1)
	watchPowerButtons(button)
	reap() // children that exited before Notify
	for {
		select {
		case s := <-sigs:
			switch s {
			case unix.SIGCHLD:
				reap()
			case unix.SIGTERM, unix.SIGINT:
				shutdown(unix.LINUX_REBOOT_CMD_RESTART, "reboot")
			default:
				shutdown(unix.LINUX_REBOOT_CMD_POWER_OFF, "poweroff")
			}
		case <-button:
			shutdown(unix.LINUX_REBOOT_CMD_POWER_OFF, "power button")
		}
	}
}

// reap waits for every child that exited and restarts those recorded
// for it (the console shells, shells.go).
func reap() {
	mu.Lock()
	defer mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		if again, ok := children[pid]; ok {
			delete(children, pid)
			if !stopping {
				go again()
			}
		}
	}
}

// shutdown stops every process, syncs and asks the kernel to power off or
// reboot. It never returns.
func shutdown(cmd int, why string) {
	fmt.Fprintf(os.Stdout, "tiny-init: %s\n", why)
	mu.Lock()
	stopping = true // the shells killed below stay dead
	mu.Unlock()
	unix.Kill(-1, unix.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	unix.Kill(-1, unix.SIGKILL)
	reap()
	unix.Sync()
	for {
		if err := unix.Reboot(cmd); err != nil {
			fmt.Fprintf(os.Stdout, "tiny-init: reboot(2): %v\n", err)
		}
		time.Sleep(time.Second)
	}
}

// Linux input event constants (linux/input-event-codes.h).
const (
	evKey    = 1
	keyPower = 116
	// inputEventSize is struct input_event on 64-bit: timeval (16), type,
	// code (2 each), value (4).
	inputEventSize = 24
)

// watchPowerButtons reads every evdev device and signals on a power key
// press. The ACPI button driver reports the button as a key; no acpid runs.
func watchPowerButtons(pressed chan<- struct{}) {
	devs, _ := filepath.Glob("/dev/input/event*")
	for _, d := range devs {
		f, err := os.Open(d)
		if err != nil {
			continue
		}
		go func() {
			defer f.Close()
			buf := make([]byte, inputEventSize)
			for {
				if _, err := f.Read(buf); err != nil {
					return
				}
				typ := binary.LittleEndian.Uint16(buf[16:])
				code := binary.LittleEndian.Uint16(buf[18:])
				value := int32(binary.LittleEndian.Uint32(buf[20:]))
				if typ == evKey && code == keyPower && value == 1 {
					select {
					case pressed <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
}
