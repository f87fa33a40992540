package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controller and terminal ends.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// TestConsoleOnATerminal: on a terminal, console switches it to raw mode,
// so keys reach the VM as typed (no line editing, Ctrl-C is a byte for the
// guest), and restores it on Ctrl-].
func TestConsoleOnATerminal(t *testing.T) {
	e, serial := newConsoleEnv(t)
	ptmx, tty := openPTY(t)
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb testenv.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), e.args("console", "vm1", "--g", "g1", "--n", "ns1"), tty, &out, &errb)
	}()
	waitFor(t, "the prompt", func() bool { return strings.Contains(out.String(), "tiny login: ") })
	waitFor(t, "raw mode", func() bool {
		now, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		return err == nil && now.Lflag&unix.ICANON == 0
	})
	// No newline: a cooked terminal would hold these back; Ctrl-C would
	// become a signal instead of a byte.
	ptmx.WriteString("ro\x03")
	waitFor(t, "keys as typed", func() bool { return serial.Received() == "ro\x03" })
	ptmx.Write([]byte{0x1d})
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-] did not end the session")
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Fatalf("terminal not restored: %+v, was %+v", after, before)
	}
}
