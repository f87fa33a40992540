package tiny

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
)

// busyboxInit replaces the Go init for TestBusyboxFindsSeed: a shell
// script of the kind small and embedded images use. It loads the image's
// modules, waits at most 10 s for a CD-ROM to appear, then asks busybox
// findfs (volume_id) once for LABEL=cidata; no retries, so a seed busybox
// cannot see fails the boot. It mounts the seed three ways (Rock Ridge,
// Joliet, plain ISO 9660) and prints each tree, then applies the static
// address, prefix and gateway of the NIC whose MAC network-config v1
// names, with busybox ip, and prints ReadyMarker with what it did.
const busyboxInit = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs -o mode=0755 devtmpfs /dev
fail() { echo "HUMSTACK-TINY-FAILED: $*"; while :; do sleep 3600; done; }
while read -r m; do insmod /lib/modules/$m 2>/dev/null; done < /lib/modules/tiny.order
i=0
until ls /sys/block | grep -q '^sr'; do
	i=$((i+1)); [ $i -gt 100 ] && fail "no CD-ROM after 10 s"
	sleep 0.1
done
dev=$(busybox findfs LABEL=cidata) || fail "findfs LABEL=cidata found nothing among $(ls /sys/block | tr '\n' ' ')"
mkdir -p /seed
# One tree at a time: a second mount of the device would share the first's
# superblock, and so its options.
tree() {
	mount -t iso9660 -o "ro,$2" "$dev" /seed || fail "mount $dev $2"
	echo "HUMSTACK-SEED $1: $(ls -l /seed | awk 'NF > 2 { printf "%s:%s ", $1, $NF }')"
	umount /seed
}
tree joliet norock,map=off
tree plain norock,nojoliet,map=off
tree rock map=off
mount -t iso9660 -o ro "$dev" /seed || fail "mount $dev"
nc=/seed/network-config
mac=$(sed -n 's/^ *mac_address: *"\{0,1\}\([0-9a-fA-F:]*\)"\{0,1\} *$/\1/p' $nc | head -n 1)
addr=$(sed -n 's/^ *address: *\([0-9.]*\/[0-9]*\) *$/\1/p' $nc | head -n 1)
gw=$(sed -n 's/^ *gateway: *\([0-9.]*\) *$/\1/p' $nc | head -n 1)
[ -n "$mac" ] && [ -n "$addr" ] || fail "network-config: mac '$mac' address '$addr'"
ifc=
for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$mac" ] && ifc=${d##*/}; done
[ -n "$ifc" ] || fail "no NIC with MAC $mac"
ip link set dev "$ifc" up || fail "ip link set $ifc up"
ip addr add "$addr" dev "$ifc" || fail "ip addr add $addr"
[ -z "$gw" ] || ip route add default via "$gw" || fail "ip route add default via $gw"
echo "HUMSTACK-TINY-READY findfs=$dev iface=$ifc address=$(ip -o -4 addr show dev $ifc | awk '{ print $4 }')"
while :; do sleep 3600; done
`

// TestBusyboxFindsSeed boots the tiny image's kernel with an initramfs
// whose /init is busyboxInit, the product's seed on an IDE CD-ROM as the
// VM driver attaches it: busybox findfs must find the seed at once, the
// guest must apply the network-config's address, and the test pings it
// from the namespace holding the guest's tap. The console shows that
// Linux reads the Rock Ridge tree (original names, PX modes), the Joliet
// tree and the plain ISO 9660 names.
func TestBusyboxFindsSeed(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "qemu-system-x86_64", "qemu-img", "ip", "ping")
	img := testImage(t)
	img.Initrd = withInit(t, img.Initrd, busyboxInit)
	mac := fmt.Sprintf("52:54:00:%s:%s:%s", randomHex(t, 1), randomHex(t, 1), randomHex(t, 1))
	seed := writeSeed(t, mac, "bbvm", nil)
	n := newTestNet(t, "10.99.0.1/24")
	vm := startVM(t, n, img, bootMode{direct: true, seedIf: "ide"}, seed, mac)

	ready := vm.waitConsole(t, 90*time.Second)
	tReady := time.Since(vm.started)
	if want := "findfs=/dev/sr0 iface=eth0 address=" + guestAddr + "/24"; !strings.Contains(ready, want) {
		t.Errorf("ready line %q, want %q", ready, want)
	}
	waitFor(t, 30*time.Second, "ping "+guestAddr, func() bool { return n.ping(guestAddr) })
	tPing := time.Since(vm.started)
	console, err := os.ReadFile(vm.serial)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`HUMSTACK-SEED rock: -rw-r--r--:meta-data -rw-r--r--:network-config -rw-r--r--:user-data`,
		`HUMSTACK-SEED joliet: \S+:meta-data \S+:network-config \S+:user-data`,
		`HUMSTACK-SEED plain: \S+:META-DATA\.;1 \S+:NETWORK-CONFIG\.;1 \S+:USER-DATA\.;1`,
	} {
		if !regexp.MustCompile(re).Match(console) {
			t.Errorf("console has no line matching %q:\n%s", re, tail(vm.serial, 20))
		}
	}
	t.Logf("boot to findfs+address %s, to ping %s (%s)", tReady.Round(time.Millisecond), tPing.Round(time.Millisecond), ready)
}

// withInit writes a copy of the initramfs with init replaced: a second
// gzip'd cpio archive appended to the first, whose files the kernel
// unpacks over the first's.
func withInit(t *testing.T, initrd, script string) string {
	t.Helper()
	base, err := os.ReadFile(initrd)
	if err != nil {
		t.Fatal(err)
	}
	var extra bytes.Buffer
	zw := gzip.NewWriter(&extra)
	c := newCPIO(zw)
	c.File("init", 0o755, []byte(script))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "initrd-busybox.gz")
	if err := os.WriteFile(out, append(base, extra.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
