package envlab_test

import (
	"strings"
)

// markerOffset is a busybox shell snippet setting $off to a sector near
// the end of /dev/vda (1 MiB before it), past the tiny guest's boot
// partition: the guest's root is an initramfs, so the disk is written raw
// and nothing in the guest reads that sector. It fails if the disk has no
// room after the partition.
const markerOffset = `sz=$(cat /sys/block/vda/size); pend=0; ` +
	`if [ -e /sys/block/vda/vda1 ]; then pend=$(( $(cat /sys/block/vda/vda1/start) + $(cat /sys/block/vda/vda1/size) )); fi; ` +
	`off=$((sz - 2048)); if [ $off -le $pend ]; then echo "no room after the partition: $sz sectors, partition ends at $pend"; exit 1; fi; `

// readSector prints the marker sector as the disk holds it: the page cache
// is dropped first, so a warm restore's memory cannot answer from it.
const readSector = `sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=$off count=1 2>/dev/null | tr -d '\000'`

// writeMarker writes marker to the guest's disk (raw /dev/vda, see
// markerOffset), flushes it and reads it back from the disk.
func (e *envLab) writeMarker(ns, addr, marker string) {
	e.tb.Helper()
	out := e.ssh(ns, addr, markerOffset+
		`echo `+marker+` | dd of=/dev/vda bs=512 seek=$off conv=notrunc 2>/dev/null && `+readSector)
	if !strings.Contains(out, marker) {
		e.tb.Fatalf("the marker written to %s's disk does not read back: %q", addr, out)
	}
}

// diskHolds says whether the guest's disk holds marker.
func (e *envLab) diskHolds(ns, addr, marker string) bool {
	e.tb.Helper()
	return strings.Contains(e.ssh(ns, addr, markerOffset+readSector), marker)
}

// changeAddress moves the guest at addr to newAddr (CIDR). The change runs
// detached a second after the session ends, since it cuts the session's
// own connection.
func (e *envLab) changeAddress(ns, addr, newAddr string) {
	e.tb.Helper()
	e.ssh(ns, addr, `setsid sh -c 'sleep 1; ip addr flush dev eth0; ip addr add `+newAddr+` dev eth0' </dev/null >/dev/null 2>&1 &`)
}

// hostname is the guest's host name.
func (e *envLab) hostname(ns, addr string) string {
	e.tb.Helper()
	return strings.TrimSpace(e.ssh(ns, addr, "hostname"))
}
