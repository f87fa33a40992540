package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeQMP serves QMP on dir's socket to one client: the greeting, then
// for each command the lines that reply returns (events may come first).
// It records the commands it got.
type fakeQMP struct {
	got   chan map[string]any
	reply func(cmd map[string]any) []string
}

func serveFakeQMP(t *testing.T, dir string, reply func(cmd map[string]any) []string) *fakeQMP {
	t.Helper()
	ln, err := net.Listen("unix", QMPSocket(dir))
	must(t, err)
	f := &fakeQMP{got: make(chan map[string]any, 16), reply: reply}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte(`{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": ["oob"]}}` + "\n"))
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			var cmd map[string]any
			if json.Unmarshal(sc.Bytes(), &cmd) != nil {
				return
			}
			f.got <- cmd
			for _, line := range f.reply(cmd) {
				line = strings.ReplaceAll(line, "ID", jsonString(cmd["id"]))
				if _, err := conn.Write([]byte(line + "\n")); err != nil {
					return
				}
			}
		}
	}()
	return f
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestQMPClient(t *testing.T) {
	dir := t.TempDir()
	serveFakeQMP(t, dir, func(cmd map[string]any) []string {
		switch cmd["execute"] {
		case "qmp_capabilities":
			return []string{`{"return": {}, "id": ID}`}
		case "query-status":
			return []string{
				`{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}`,
				`{"return": {"status": "running", "singlestep": false, "running": true}, "id": ID}`,
			}
		case "query-named-block-nodes":
			return []string{`{"return": [{"node-name": "#block123", "image": {"virtual-size": 1}}, ` +
				`{"node-name": "disk0", "image": {"virtual-size": 1048576}}], "id": ID}`}
		case "block_resize":
			args := cmd["arguments"].(map[string]any)
			if args["node-name"] != "disk0" || args["size"] != float64(2<<20) {
				return []string{`{"error": {"class": "GenericError", "desc": "bad arguments"}, "id": ID}`}
			}
			return []string{`{"return": {}, "id": ID}`}
		case "quit":
			return nil // QEMU may close before answering
		}
		return []string{`{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": ID}`}
	})
	ctx := testCtx(t, 10*time.Second)
	q, err := DialQMP(ctx, dir)
	must(t, err)
	defer q.Close()
	if st, err := q.Status(ctx); err != nil || st != "running" {
		t.Fatalf("Status = %q, %v", st, err)
	}
	var qerr *QMPError
	if err := q.Run(ctx, "nope", nil, nil); !errors.As(err, &qerr) || qerr.Class != "CommandNotFound" {
		t.Fatalf("unknown command: %v", err)
	}
	must(t, q.BlockResize(ctx, "disk0", 2<<20))
	must(t, q.BlockResize(ctx, "disk0", 1<<20)) // the current size: nothing to do
	if err := q.BlockResize(ctx, "disk0", 1<<19); !errors.Is(err, ErrShrink) {
		t.Fatalf("shrink: %v", err)
	}
	if err := q.BlockResize(ctx, "disk0,x", 1<<21); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := q.DiskSize(ctx, "disk9"); err == nil {
		t.Fatal("size of a missing disk")
	}
}

// TestQMPContext checks that a QEMU that never answers does not hang the
// caller past its context, and that the connection is then refused.
func TestQMPContext(t *testing.T) {
	dir := t.TempDir()
	serveFakeQMP(t, dir, func(cmd map[string]any) []string {
		if cmd["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}, "id": ID}`}
		}
		return nil
	})
	q, err := DialQMP(testCtx(t, 10*time.Second), dir)
	must(t, err)
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := q.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Status of a silent QEMU: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v", took)
	}
	if _, err := q.Status(testCtx(t, time.Second)); err == nil {
		t.Fatal("a connection that lost track of its replies was used again")
	}
}

func TestDialQMPWithoutQEMU(t *testing.T) {
	if _, err := DialQMP(testCtx(t, time.Second), t.TempDir()); err == nil {
		t.Fatal("dialled a socket that does not exist")
	}
}
