package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"

	"github.com/vishvananda/netlink"
)

// Files of the DHCP-only variant (tiny.Options.DHCP): the flag that makes
// init ignore the seed's network config, and udhcpc's hook script.
const (
	dhcpFlag   = "/etc/tiny-dhcp"
	dhcpScript = "/etc/udhcpc.script"
)

// dhcpOnly reports whether this is the DHCP-only variant.
func dhcpOnly() bool {
	_, err := os.Stat(dhcpFlag)
	return err == nil
}

// configureDHCP stands for an appliance without cloud-init's network
// config: lo up, and busybox udhcpc on every Ethernet NIC, each waiting
// for its first lease (or giving up after its tries) before going to the
// background, where it renews. The hook script sets the address, the
// default route and /etc/resolv.conf (search domain and nameservers).
func configureDHCP(log *slog.Logger) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("network: lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("network: lo up: %w", err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("network: list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if a.Name == "lo" || len(a.HardwareAddr) != 6 {
			continue
		}
		if err := netlink.LinkSetUp(l); err != nil {
			errs = append(errs, fmt.Errorf("network: %s up: %w", a.Name, err))
			continue
		}
		// -b: background once bound or after the tries; -O search, -O
		// mtu: ask for options 119 and 26 too (the default request list
		// lacks them).
		cmd := exec.Command("/bin/busybox", "udhcpc", "-i", a.Name, "-s", dhcpScript, "-t", "40", "-T", "1", "-b", "-O", "search", "-O", "mtu")
		out, err := cmd.CombinedOutput()
		log.Info("dhcp", "link", a.Name, "mac", a.HardwareAddr.String(), "udhcpc", string(out), "err", err)
		if err != nil {
			errs = append(errs, fmt.Errorf("network: udhcpc on %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}
