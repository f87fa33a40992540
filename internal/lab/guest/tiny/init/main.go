// Command init is PID 1 of the tiny test guest (see package tiny): it reads
// the cloud-init NoCloud seed and does the part of cloud-init's job the
// tests need — host name, static network per NIC matched by MAC, SSH keys —
// then runs dropbear, prints a ready marker on the serial console, starts a
// root shell on the serial console and on tty1 (the VGA screen, for VNC),
// respawned when they exit, reaps orphans, and powers off on the ACPI power
// button or a poweroff request.
//
// It is a static Go program rather than a shell script so that the seed is
// read with a real YAML parser and the network set through netlink.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Markers on the console; package tiny's tests wait for them. Keep in sync
// with tiny.ReadyMarker and tiny.FailedMarker.
const (
	readyMarker  = "HUMSTACK-TINY-READY"
	failedMarker = "HUMSTACK-TINY-FAILED"
)

// modulesOrder lists the kernel modules to load, in dependency order; the
// image builder writes it.
const modulesOrder = "/lib/modules/tiny.order"

func main() {
	start := time.Now()
	if err := mountBasics(); err != nil {
		fmt.Fprintf(os.Stdout, "%s: %v\n", failedMarker, err)
		supervise()
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	slog.SetDefault(log)
	loadModules(log, modulesOrder)
	host, err := boot(log)
	if err != nil {
		// Stay up: the console and whatever did start are the only way to
		// see what went wrong.
		fmt.Fprintf(os.Stdout, "%s: %v\n", failedMarker, err)
	} else {
		fmt.Fprintf(os.Stdout, "%s hostname=%s uptime=%s\n", readyMarker, host, uptimeSince(start))
	}
	// After the marker, so that the shells' prompts never come before it.
	startShells(log, host)
	supervise()
}

// boot applies the seed and starts the SSH server; it returns the host name.
func boot(log *slog.Logger) (string, error) {
	in, err := readSeed(log)
	if err != nil {
		return "", err
	}
	if err := setHostname(in.Hostname); err != nil {
		return "", err
	}
	configure := func() error { return configureNetwork(log, in) }
	if dhcpOnly() {
		configure = func() error { return configureDHCP(log) }
	}
	if err := configure(); err != nil {
		return "", err
	}
	if err := writeUsers(in); err != nil {
		return "", err
	}
	if err := startSSH(log); err != nil {
		return "", err
	}
	return in.Hostname, nil
}

// dropTime removes slog's timestamp: the guest clock is meaningless to the
// reader of a serial log, and every byte on the serial line costs under TCG.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// uptimeSince reports the time since the kernel started, read from
// /proc/uptime, which includes the time before init ran.
func uptimeSince(start time.Time) string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Since(start).Round(time.Millisecond).String()
	}
	var up float64
	fmt.Sscanf(string(b), "%f", &up)
	return fmt.Sprintf("%.2fs", up)
}
