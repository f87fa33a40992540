package audit

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// memSink collects lines; fail makes the next writes fail.
type memSink struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	fail int
}

func (m *memSink) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return 0, syscall.ENOSPC
	}
	return m.buf.Write(b)
}

func (m *memSink) events(t *testing.T) []Event {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	evs, err := ReadAll(bytes.NewReader(m.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func event(i int) Event {
	return Event{Time: time.Now().UTC(), Event: EventRequest, RequestID: "r" + strings.Repeat("x", i%7), Verb: "create",
		Identity: Identity{Name: "alice", Kind: "user", Via: "token"}, Method: "POST", Path: "/api/v0/groups",
		Code: 201, SourceAddress: "127.0.0.1:1"}
}

// TestFullDiskIsCountedAndNoted: lines that cannot be written are counted,
// warned about, and the next written line is preceded by an audit.lost
// line with their number.
func TestFullDiskIsCountedAndNoted(t *testing.T) {
	sink := &memSink{fail: 1 << 30}
	var warn bytes.Buffer
	l := New(sink, Options{Log: slog.New(slog.NewTextHandler(&warn, nil))})
	for i := range 3 {
		l.Log(event(i))
	}
	for deadline := time.Now().Add(5 * time.Second); l.Stats().Failed < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	sink.mu.Lock()
	sink.fail = 0 // space again
	sink.mu.Unlock()
	for i := range 2 {
		l.Log(event(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s := l.Stats()
	if s.Failed != 3 || s.Written != 2 || s.Dropped != 0 {
		t.Fatalf("stats %+v, want 3 failed, 2 written", s)
	}
	evs := sink.events(t)
	if len(evs) != 3 || evs[0].Event != EventLost || evs[0].Lost != 3 || evs[1].Event != EventRequest {
		t.Fatalf("lines %+v, want audit.lost (3) then 2 requests", evs)
	}
	if !strings.Contains(warn.String(), "audit log lines lost") || !strings.Contains(warn.String(), "no space left") {
		t.Fatalf("server log %q does not report the loss", warn.String())
	}
}

// blockSink blocks every write until released.
type blockSink struct{ release chan struct{} }

func (b blockSink) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

// TestLogNeverBlocks: a stuck sink fills the buffer; further lines are
// dropped and counted, and Log returns at once.
func TestLogNeverBlocks(t *testing.T) {
	sink := blockSink{release: make(chan struct{})}
	l := New(sink, Options{Log: quiet(), Buffer: 4})
	start := time.Now()
	for i := range 100 {
		l.Log(event(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 Log calls on a stuck sink took %v", d)
	}
	if s := l.Stats(); s.Dropped < 100-4-1 {
		t.Fatalf("stats %+v, want >= 95 dropped", s)
	}
	close(sink.release)
	l.Close()
	if s := l.Stats(); s.Written+s.Dropped != 100 {
		t.Fatalf("stats %+v: written + dropped != 100", s)
	}
	l.Log(event(0)) // after Close: counted, no panic
	if s := l.Stats(); s.Written+s.Dropped != 101 {
		t.Fatalf("a line after Close was not counted: %+v", s)
	}
}

// TestRotation: the file rotates at --audit-log-max-size and keeps
// --audit-log-max-backups old files; every line in every file is whole.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	sink, err := OpenSink(SinkConfig{Path: path, MaxSizeMB: 1, MaxBackups: 2})
	if err != nil {
		t.Fatal(err)
	}
	l := New(sink, Options{Log: quiet(), Buffer: 1 << 16})
	line := event(0)
	line.UserAgent = strings.Repeat("u", 1000) // ~1.3 KB a line: 4 MB is 4 rotations
	const n = 3200
	for i := range n {
		l.Log(line)
		if i%512 == 0 {
			time.Sleep(10 * time.Millisecond) // let the writer keep up with a 64 Ki buffer
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Written != n {
		t.Fatalf("stats %+v, want %d written", s, n)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	// lumberjack removes old backups in the background.
	var files []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
		if len(files) == 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(files) != 3 {
		t.Fatalf("files %v, want audit.log and 2 backups", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1<<20 {
			t.Errorf("%s is %d bytes, over the 1 MB limit", f, len(b))
		}
		evs, err := ReadAll(bytes.NewReader(b))
		if err != nil || len(evs) == 0 {
			t.Errorf("%s: %d lines, %v", f, len(evs), err)
		}
	}
}

func TestOpenSink(t *testing.T) {
	if s, err := OpenSink(SinkConfig{}); s != nil || err != nil {
		t.Errorf("empty path: %v %v, want off", s, err)
	}
	if s, err := OpenSink(SinkConfig{Path: "-"}); err != nil || s == nil {
		t.Errorf("-: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSink(SinkConfig{Path: filepath.Join(dir, "file", "audit.log")}); err == nil ||
		!strings.Contains(err.Error(), "--audit-log") {
		t.Errorf("path under a file: %v, want an error naming --audit-log", err)
	}
	if _, err := OpenSink(SinkConfig{Path: filepath.Join(dir, "a.log"), MaxSizeMB: -1}); err == nil {
		t.Error("negative size accepted")
	}
}
