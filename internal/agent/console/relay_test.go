package console

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestStopEndsTheRelay checks that Stop returns only once the relay's
// goroutine has ended, whether it was connected or still waiting for QEMU,
// and leaves no goroutine behind.
func TestStopEndsTheRelay(t *testing.T) {
	root := t.TempDir()
	m := NewManager(func(k Key) string { return filepath.Join(root, k.ID) }, slog.New(slog.DiscardHandler))
	connected, waiting := Key{"g", "ns", "up"}, Key{"g", "ns", "starting"}
	os.MkdirAll(filepath.Join(root, "up"), 0o755)
	os.MkdirAll(filepath.Join(root, "starting"), 0o755)
	ln, err := net.Listen("unix", filepath.Join(root, "up", SerialSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	before := runtime.NumGoroutine()

	m.Start(connected)
	m.Start(waiting)
	m.Start(connected) // idempotent: still one relay
	var qemuSide net.Conn
	select {
	case qemuSide = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay never connected")
	}
	defer qemuSide.Close()
	r1, r2 := m.relay(connected), m.relay(waiting)
	if r1 == nil || r2 == nil || len(m.relays) != 2 {
		t.Fatalf("relays %v", m.relays)
	}
	m.Stop(connected)
	m.Close()
	for _, r := range []*relay{r1, r2} {
		select {
		case <-r.done:
		default:
			t.Fatal("Stop returned before the relay ended")
		}
	}
	// The QEMU side sees the relay hang up.
	qemuSide.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := qemuSide.Read(make([]byte, 1)); err == nil {
		t.Fatal("the serial socket is still connected after Stop")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before Start:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		max    int
		want   string
	}{
		{"short", []string{"ab", "c"}, 8, "abc"},
		{"cut at a line", []string{"line1\nline2\nli", "ne3"}, 12, "line2\nline3"},
		{"cut without a line break", []string{"abcdefghij"}, 4, "ghij"},
		{"many writes", []string{"x\n", "y\n", "z\n", "w\n", "v\n"}, 5, "w\nv\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := tail{max: tc.max}
			for _, w := range tc.writes {
				tl.Write([]byte(w))
			}
			if got := string(tl.Bytes()); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReadTail: the history a new relay starts with spans the rotated log
// and the current one, from a line start.
func TestReadTail(t *testing.T) {
	dir := t.TempDir()
	if got := readTail(dir, 5); len(got) != 0 {
		t.Fatalf("no logs: %q", got)
	}
	os.WriteFile(filepath.Join(dir, OldLogFile), []byte("a\nb\nc\n"), 0o600)
	os.WriteFile(filepath.Join(dir, LogFile), []byte("d\ne"), 0o600)
	if got := string(readTail(dir, 5)); got != "d\ne" {
		t.Fatalf("got %q", got)
	}
	if got := string(readTail(dir, 100)); got != "a\nb\nc\nd\ne" {
		t.Fatalf("got %q", got)
	}
}
