package tiny

// udhcpcScript is the DHCP-only variant's udhcpc hook (busybox sh): it
// applies a lease (address with its prefix, the interface MTU, default
// route, resolv.conf with the search domain) and prints it on the
// console, where tests read it ("HUMSTACK-TINY-DHCP <if> ip=...
// router=... dns=... search=... mtu=...").
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	if [ -n "$mtu" ]; then
		ip link set "$interface" mtu "$mtu"
	fi
	ip addr replace "$ip/${mask:-24}" dev "$interface"
	if [ -n "$router" ]; then
		ip route replace default via "${router%% *}" dev "$interface"
	fi
	s="${search:-$domain}"
	{
		[ -n "$s" ] && echo "search $s"
		for d in $dns; do echo "nameserver $d"; done
	} > /etc/resolv.conf
	echo "HUMSTACK-TINY-DHCP $interface ip=$ip/$mask router=$router dns=$dns search=$s mtu=$mtu" > /dev/console
	;;
esac
exit 0
`

// DHCPMarker starts the line the DHCP-only variant prints on the serial
// console for each lease it applies.
const DHCPMarker = "HUMSTACK-TINY-DHCP"

// Options choose a variant of the tiny guest.
type Options struct {
	// DHCP builds the variant that ignores the seed's network config and
	// runs busybox udhcpc on each NIC: an appliance without cloud-init.
	// It still takes its host name and SSH keys from the seed. Cached
	// apart from the default.
	DHCP bool
}

// suffix tells the variant's cache entries apart.
func (o Options) suffix() string {
	if o.DHCP {
		return "-dhcp"
	}
	return ""
}
