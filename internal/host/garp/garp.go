// Package garp announces IPv4 addresses with gratuitous ARP, so that the
// hosts of a segment update their neighbour entries at once when an
// address moves to another interface (an external IP taken over by a
// router on another node) instead of sending to the old MAC until their
// entries expire.
//
// The frames go out through a packet socket of github.com/mdlayher/packet,
// opened inside the router's network namespace. A library rather than
// iputils' `arping -U`: no extra package on the nodes, no process per
// address, errors as values, and the socket is bound to the interface of
// the namespace it is made in, which netns.Do gives without `ip netns
// exec`. The ARP frame itself is 28 bytes written here (RFC 5227's ARP
// Announcement); github.com/mdlayher/arp, which would encode it, has no
// tagged release.
package garp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/netns"
)

// Rounds and Gap: each address is announced Rounds times, Gap apart, in
// case the first frame is lost or arrives before a bridge port forwards.
const (
	Rounds = 2
	Gap    = 200 * time.Millisecond
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Announce sends Rounds ARP announcements of each of addrs from interface
// ifname of network namespace ns, with that interface's MAC. It returns
// after the last round (about Gap*(Rounds-1)).
func Announce(ns, ifname string, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	var c *packet.Conn
	var mac net.HardwareAddr
	err := netns.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("gratuitous ARP on %s in %s: %w", ifname, ns, err)
	}
	defer c.Close()
	for round := range Rounds {
		if round > 0 {
			time.Sleep(Gap)
		}
		for _, a := range addrs {
			f, err := Frame(mac, a)
			if err != nil {
				return err
			}
			if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: broadcast}); err != nil {
				return fmt.Errorf("gratuitous ARP for %s on %s in %s: %w", a, ifname, ns, err)
			}
		}
	}
	return nil
}

// Frame is the Ethernet frame of an ARP Announcement (RFC 5227 §2.3) of a
// from mac: a broadcast request whose sender and target address are both
// a, target hardware address zero. Linux updates (and, with arp_accept,
// creates) the sender's neighbour entry on receiving it.
func Frame(mac net.HardwareAddr, a netip.Addr) ([]byte, error) {
	if len(mac) != 6 || !a.Is4() {
		return nil, fmt.Errorf("gratuitous ARP for %s from %s: want an IPv4 address and a 6-byte MAC", a, mac)
	}
	ip := a.As4()
	b := make([]byte, 0, 42)
	b = append(b, broadcast...)
	b = append(b, mac...)
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_ARP)
	b = binary.BigEndian.AppendUint16(b, 1)             // hardware type: Ethernet
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_IP) // protocol type: IPv4
	b = append(b, 6, 4)                                 // address lengths
	b = binary.BigEndian.AppendUint16(b, 1)             // operation: request
	b = append(b, mac...)
	b = append(b, ip[:]...)
	b = append(b, make([]byte, 6)...)
	return append(b, ip[:]...), nil
}
