package tiny

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/testenv"
)

// TestConsoles boots the guest with a VGA card and its serial line on a
// socket, as the product's VMs have them, and checks what the web
// console's serial and VNC views rely on: a root shell answers on the
// serial line, comes back after it exits, and the VGA screen is not blank
// (a QMP screendump with more than one colour).
func TestConsoles(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "qemu-system-x86_64", "qemu-img", "ip")
	img := testImage(t)
	mac := "52:54:00:" + randomHex(t, 1) + ":" + randomHex(t, 1) + ":" + randomHex(t, 1)
	seed := writeSeed(t, mac, cloudinit.Hostname(guestHost, "vm-1", "id-1"), nil)
	n := newTestNet(t, "10.99.0.1/24")
	vm := startVM(t, n, img, bootMode{direct: true, seedIf: "virtio", consoles: true}, seed, mac)
	vm.waitConsole(t, 90*time.Second)
	c, err := net.DialTimeout("unix", vm.serialSock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, c) // a reader, as the agent's relay is: the log is what the test reads
	start := time.Now()
	vm.serialCommand(t, c, "echo tiny-$((6*7))-ok", "tiny-42-ok")
	t.Logf("serial shell answered in %s", time.Since(start).Round(time.Millisecond))
	vm.serialCommand(t, c, "echo two-$((6*7))-ok", "two-42-ok") // at the prompt, line editing on
	vm.serialCommand(t, c, "exit", "")                          // the shell is respawned
	vm.serialCommand(t, c, "echo again-$((2+3))", "again-5")
	if colours := vm.screenColours(t); colours < 2 {
		t.Fatalf("the VGA screen has %d colour(s): blank", colours)
	}
}

// serialCommand types cmd on the serial line (Enter as a terminal sends
// it, CR) and, unless want is empty, waits until want appears in the
// serial log after what was there before.
func (vm *testVM) serialCommand(t *testing.T, c net.Conn, cmd, want string) {
	t.Helper()
	before, _ := os.ReadFile(vm.serial)
	if _, err := c.Write([]byte(cmd + "\r")); err != nil {
		t.Fatal(err)
	}
	if want == "" {
		time.Sleep(2 * time.Second)
		return
	}
	waitFor(t, 30*time.Second, "serial output "+want, func() bool {
		b, _ := os.ReadFile(vm.serial)
		return len(b) > len(before) && bytes.Contains(b[len(before):], []byte(want+"\r\n"))
	})
}

// screenColours dumps the VGA screen through QMP and counts its distinct
// colours (up to 16).
func (vm *testVM) screenColours(t *testing.T) int {
	t.Helper()
	file := filepath.Join(t.TempDir(), "screen.ppm")
	c, err := net.DialTimeout("unix", vm.qmp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, `{"execute":"qmp_capabilities"}`+"\n"+`{"execute":"screendump","arguments":{"filename":%q}}`+"\n", file)
	dec := json.NewDecoder(c)
	for returns := 0; returns < 2; {
		var msg map[string]json.RawMessage
		if err := dec.Decode(&msg); err != nil {
			t.Fatalf("qmp: %v", err)
		}
		if e, ok := msg["error"]; ok {
			t.Fatalf("qmp: %s", e)
		}
		if _, ok := msg["return"]; ok {
			returns++
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(bytes.NewReader(b))
	var w, h, max int
	if _, err := fmt.Fscanf(r, "P6\n%d %d\n%d\n", &w, &h, &max); err != nil {
		t.Fatalf("screendump header: %v", err)
	}
	pix := b[len(b)-w*h*3:]
	seen := map[string]bool{}
	for i := 0; i+3 <= len(pix) && len(seen) < 16; i += 3 {
		seen[string(pix[i:i+3])] = true
	}
	t.Logf("VGA screen %dx%d: %d colour(s)", w, h, len(seen))
	if !strings.HasPrefix(string(b), "P6") {
		t.Fatal("screendump is not a PPM")
	}
	return len(seen)
}
