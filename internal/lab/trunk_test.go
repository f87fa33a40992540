package lab_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/lab"
)

// testTrunk sends an 802.1Q frame tagged with VLAN 100 from node-b's eth0
// with a raw packet socket and receives it on node-c's eth0 with its tag:
// the underlay bridge is a trunk. (This kernel has no 8021q links, so
// VLAN links cannot prove it; the frame itself does.)
func testTrunk(t *testing.T, l *lab.Lab) {
	b, c := l.NS("node-b"), l.NS("node-c")
	rx := packetSocket(t, c)
	payload := []byte(fmt.Sprintf("humstack-trunk-%d", time.Now().UnixNano()))
	tx := packetSocket(t, b)
	frame := taggedFrame(t, b, 100, payload)
	ifi, _ := ifIndex(t, b)
	to := &unix.SockaddrLinklayer{Ifindex: ifi, Halen: 6}
	copy(to.Addr[:], frame[:6])
	if err := unix.Sendto(tx, frame, 0, to); err != nil {
		t.Fatalf("send tagged frame: %v", err)
	}
	vid, err := receiveTagged(rx, payload, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if vid != 100 {
		t.Fatalf("frame arrived with VLAN %d, want 100", vid)
	}
}

// packetSocket opens a raw packet socket bound to eth0 of ns, reporting
// VLAN tags as auxiliary data, closed when the test ends.
func packetSocket(t *testing.T, ns string) int {
	ifi, _ := ifIndex(t, ns)
	var fd int
	err := lab.InNetns(ns, func() error {
		var err error
		proto := int(htons(unix.ETH_P_ALL))
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi})
	})
	if err != nil {
		t.Fatalf("packet socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// taggedFrame is a broadcast frame from ns's eth0 with an 802.1Q tag and
// the local experimental EtherType 0x88b5.
func taggedFrame(t *testing.T, ns string, vid uint16, payload []byte) []byte {
	_, mac := ifIndex(t, ns)
	f := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac...)
	f = binary.BigEndian.AppendUint16(f, 0x8100)
	f = binary.BigEndian.AppendUint16(f, vid)
	f = binary.BigEndian.AppendUint16(f, 0x88b5)
	return append(f, payload...)
}

// receiveTagged reads frames until one holds payload, and returns its
// VLAN ID from the auxiliary data (the kernel moves the tag there).
func receiveTagged(fd int, payload []byte, timeout time.Duration) (uint16, error) {
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf, oob := make([]byte, 2048), make([]byte, 256)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if bytes.Contains(buf[:n], payload) {
			return vlanOf(oob[:oobn])
		}
	}
	return 0, errors.New("tagged frame did not arrive on node-c within 3 s")
}

// vlanOf reads the VLAN ID from PACKET_AUXDATA.
func vlanOf(oob []byte) (uint16, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA &&
			len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0, errors.New("frame arrived untagged")
			}
			return aux.Vlan_tci & 0x0fff, nil
		}
	}
	return 0, errors.New("no PACKET_AUXDATA with the frame")
}

// ifIndex returns the index and MAC of eth0 in ns.
func ifIndex(t *testing.T, ns string) (int, net.HardwareAddr) {
	var ifi *net.Interface
	err := lab.InNetns(ns, func() error {
		var err error
		ifi, err = net.InterfaceByName(lab.UnderlayDev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ifi.Index, ifi.HardwareAddr
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
