package console_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/console/consoletest"
)

const secret = "node-secret-node-secret"

var vm1 = console.Key{Group: "g1", Namespace: "ns1", ID: "vm1"}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a console websocket on the agent with the secret.
func dial(t *testing.T, a *consoletest.Agent, path string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(testCtx(t), a.Server.URL+path, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + secret}},
		Subprotocols: []string{console.Subprotocol},
	})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: HTTP %d: %v", path, status, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// reader accumulates what a websocket receives.
type reader struct {
	c   *websocket.Conn
	got strings.Builder
}

// until reads until the received text contains want, and returns it.
func (r *reader) until(t *testing.T, want string) string {
	t.Helper()
	return r.within(t, 10*time.Second, want)
}

func (r *reader) within(t *testing.T, d time.Duration, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !strings.Contains(r.got.String(), want) {
		typ, data, err := r.c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %q, got %q: %v", want, r.got.String(), err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("message type %v, want binary", typ)
		}
		r.got.Write(data)
	}
	return r.got.String()
}

func get(t *testing.T, url, secret string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, url, nil)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestSessionsShareTheConsole(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	serial := a.AddVM(t, vm1, "tiny login: ")
	s1 := &reader{c: dial(t, a, console.SerialPath(vm1))}
	s2 := &reader{c: dial(t, a, console.SerialPath(vm1))}
	s1.until(t, "tiny login: ")
	s2.until(t, "tiny login: ")

	if err := s1.c.Write(testCtx(t), websocket.MessageBinary, []byte("root\n")); err != nil {
		t.Fatal(err)
	}
	// The fake QEMU echoes like a terminal: both sessions see the input.
	s1.until(t, "login: root\n")
	s2.until(t, "login: root\n")
	if got := serial.Received(); got != "root\n" {
		t.Fatalf("serial port received %q, want %q", got, "root\n")
	}
	// Text frames are input too (a browser terminal sends text).
	if err := s2.c.Write(testCtx(t), websocket.MessageText, []byte("ls\n")); err != nil {
		t.Fatal(err)
	}
	s1.until(t, "root\nls\n")
	consoletest.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(a.Dir(vm1), console.LogFile))
		return string(b) == "tiny login: root\nls\n"
	}, "the log to hold the session")
	if serial.Clients() != 1 {
		t.Fatalf("QEMU saw %d clients; the relay must be its only one", serial.Clients())
	}
}

func TestAttachShowsRecentOutput(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	serial := a.AddVM(t, vm1, "boot\n")
	var all strings.Builder
	all.WriteString("boot\n")
	for i := range 2000 {
		line := fmt.Sprintf("line %04d of the boot log\n", i)
		all.WriteString(line)
		if err := serial.Print([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := serial.Print([]byte("debian login: ")); err != nil {
		t.Fatal(err)
	}
	consoletest.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(a.Dir(vm1), console.LogFile))
		return strings.HasSuffix(string(b), "debian login: ")
	}, "the prompt in the log")

	c := dial(t, a, console.SerialPath(vm1))
	_, first, err := c.Read(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// The last few KiB, from a line start, ending with the prompt.
	if len(first) > console.TailSize || len(first) < console.TailSize/2 {
		t.Fatalf("attach sent %d bytes of history, want about %d", len(first), console.TailSize)
	}
	if !strings.HasPrefix(string(first), "line ") || !strings.HasSuffix(string(first), "line 1999 of the boot log\ndebian login: ") {
		t.Fatalf("attach sent %q...%q", first[:20], first[len(first)-40:])
	}
}

func TestLogIsBounded(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	serial := a.AddVM(t, vm1, "")
	var printed strings.Builder
	chunk := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	for i := 0; printed.Len() < 5*console.MaxLogSize/2; i++ {
		p := fmt.Sprintf("%06d%s\n", i, chunk)
		printed.WriteString(p)
		if err := serial.Print([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	printed.WriteString("END\n")
	serial.Print([]byte("END\n"))
	logPath := filepath.Join(a.Dir(vm1), console.LogFile)
	consoletest.Eventually(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.HasSuffix(string(b), "END\n")
	}, "the end in the log")

	cur, err1 := os.Stat(logPath)
	old, err2 := os.Stat(filepath.Join(a.Dir(vm1), console.OldLogFile))
	if err1 != nil || err2 != nil {
		t.Fatalf("want both log files: %v %v", err1, err2)
	}
	if cur.Size() > console.MaxLogSize || old.Size() > console.MaxLogSize {
		t.Fatalf("log sizes %d and %d, want each at most %d", cur.Size(), old.Size(), console.MaxLogSize)
	}
	if old.Size() < console.MaxLogSize/2 {
		t.Fatalf("rotated log holds only %d bytes", old.Size())
	}

	code, body, hdr := get(t, a.Server.URL+console.LogPath(vm1), secret)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("log: HTTP %d, %s", code, hdr.Get("Content-Type"))
	}
	if int64(len(body)) != old.Size()+cur.Size() || len(body) > 2*console.MaxLogSize {
		t.Fatalf("log route sent %d bytes, files hold %d+%d", len(body), old.Size(), cur.Size())
	}
	// Nothing lost or reordered between the two files: the log is exactly
	// the end of what the guest printed.
	if !strings.HasSuffix(printed.String(), body) {
		t.Fatal("the log is not the end of the console output")
	}
	t.Logf("printed %d bytes; kept %d+%d", printed.Len(), old.Size(), cur.Size())
}

func TestReconnectsWhenQEMURestarts(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	serial := a.AddVM(t, vm1, "first boot$ ")
	s := &reader{c: dial(t, a, console.SerialPath(vm1))}
	s.until(t, "first boot$ ")

	serial.Close() // QEMU exits; its socket goes away
	time.Sleep(100 * time.Millisecond)
	serial = consoletest.StartSerial(t, serial.Path, "second boot$ ")
	serial.WaitClients(t, 1)
	s.until(t, "second boot$ ")
	if err := s.c.Write(testCtx(t), websocket.MessageBinary, []byte("uptime\n")); err != nil {
		t.Fatal(err)
	}
	s.until(t, "second boot$ uptime\n")
	if got := serial.Received(); got != "uptime\n" {
		t.Fatalf("new QEMU received %q", got)
	}
	b, _ := os.ReadFile(filepath.Join(a.Dir(vm1), console.LogFile))
	if !strings.Contains(string(b), "first boot$ ") || !strings.Contains(string(b), "second boot$ ") {
		t.Fatalf("log %q lacks a boot", b)
	}
}

func TestStartWaitsForQEMU(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	if err := os.MkdirAll(a.Dir(vm1), 0o755); err != nil {
		t.Fatal(err)
	}
	a.Manager.Start(vm1) // no socket yet: QEMU is starting
	a.Manager.Start(vm1) // idempotent
	// A session may attach before QEMU is up and sees it boot.
	s := &reader{c: dial(t, a, console.SerialPath(vm1))}
	time.Sleep(300 * time.Millisecond)
	serial := consoletest.StartSerial(t, filepath.Join(a.Dir(vm1), console.SerialSocket), "SeaBIOS\n")
	serial.WaitClients(t, 1)
	s.until(t, "SeaBIOS\n")
}

func TestStopClosesSessionsAndKeepsTheLog(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	a.AddVM(t, vm1, "prompt> ")
	s := &reader{c: dial(t, a, console.SerialPath(vm1))}
	s.until(t, "prompt> ")
	a.Manager.Stop(vm1)
	a.Manager.Stop(vm1) // idempotent

	_, _, err := s.c.Read(testCtx(t))
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("session after Stop: %v, want a going-away close", err)
	}
	// No relay, no serial console; the log stays readable.
	_, resp, err := websocket.Dial(testCtx(t), a.Server.URL+console.SerialPath(vm1), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + secret}},
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("serial after Stop: %v, want 404", err)
	}
	if code, body, _ := get(t, a.Server.URL+console.LogPath(vm1), secret); code != 200 || body != "prompt> " {
		t.Fatalf("log after Stop: %d %q", code, body)
	}
	// A new relay (the agent restarted) shows the history on attach.
	a.Manager.Start(vm1)
	s = &reader{c: dial(t, a, console.SerialPath(vm1))}
	s.until(t, "prompt> prompt> ") // the old log, then the fake's new greeting
}

func TestVNCIsProxiedByteForByte(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	a.AddVM(t, vm1, "")
	c := dial(t, a, console.VNCPath(vm1))
	if c.Subprotocol() != "binary" {
		t.Fatalf("subprotocol %q, want binary (noVNC asks for it)", c.Subprotocol())
	}
	r := &reader{c: c}
	if got := r.until(t, "\n"); got != consoletest.RFBGreeting {
		t.Fatalf("greeting %q", got)
	}
	msg := []byte{0, 1, 2, 255, 'R', 'F', 'B'}
	if err := c.Write(testCtx(t), websocket.MessageBinary, msg); err != nil {
		t.Fatal(err)
	}
	r.until(t, consoletest.RFBGreeting+string(msg))
	c.Close(websocket.StatusNormalClosure, "")
}

func TestRoutesRefuse(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	a.AddVM(t, vm1, "")
	other := console.Key{Group: "g1", Namespace: "ns1", ID: "other"}
	for _, tc := range []struct {
		name, path, secret string
		want               int
	}{
		{"no secret", console.LogPath(vm1), "", http.StatusUnauthorized},
		{"wrong secret", console.SerialPath(vm1), "guess", http.StatusUnauthorized},
		{"bad id", "/v0/consoles/g1/ns1/..%2F..%2Fetc/log", secret, http.StatusBadRequest},
		{"upper-case id", "/v0/consoles/G1/ns1/vm1/log", secret, http.StatusBadRequest},
		{"unknown vm serial", console.SerialPath(other), secret, http.StatusNotFound},
		{"unknown vm log", console.LogPath(other), secret, http.StatusNotFound},
		{"unknown vm vnc", console.VNCPath(other), secret, http.StatusNotFound},
		{"other method", console.LogPath(vm1) + "/x", secret, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := get(t, a.Server.URL+tc.path, tc.secret)
			if code != tc.want {
				t.Fatalf("HTTP %d %q, want %d", code, body, tc.want)
			}
		})
	}
}

func TestSlowSessionIsDropped(t *testing.T) {
	a := consoletest.StartAgent(t, secret)
	serial := a.AddVM(t, vm1, "")
	slow := dial(t, a, console.SerialPath(vm1)) // reads nothing for now
	fast := &reader{c: dial(t, a, console.SerialPath(vm1))}
	line := strings.Repeat("x", 1000) + "\n"
	// 20 MB: more than the socket buffers and the session's queue hold, so
	// the slow session falls behind; the fast one keeps getting everything.
	for i := range 20000 {
		if err := serial.Print([]byte(fmt.Sprintf("%d%s", i, line))); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			fast.until(t, fmt.Sprintf("%d%s", i, line))
			fast.got.Reset()
		}
	}
	// Draining the slow session ends with its close, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := slow.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the slow session was never dropped")
			}
			return
		}
	}
}
