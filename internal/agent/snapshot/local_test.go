package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/testenv"
)

// TestLocalRefusesFileNamesOutsideTheDirectory: the holder's Local never
// joins a status file name that is a path ("../..") to its directory.
func TestLocalRefusesFileNamesOutsideTheDirectory(t *testing.T) {
	n := New(Config{Node: "n1", Dir: t.TempDir(), ImageDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	for _, bad := range []func(st *api.SnapshotStatus){
		func(st *api.SnapshotStatus) { st.Disks[0].File = "../../../../../../etc/passwd" },
		func(st *api.SnapshotStatus) { st.Memory = &api.SnapshotFile{File: "../../../../../../etc/passwd"} },
	} {
		snap := &api.Snapshot{}
		snap.Meta.Group, snap.Meta.Namespace, snap.Meta.ID, snap.Meta.UID = "g", "ns", "s1", "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"
		snap.Status.State, snap.Status.Node = api.SnapshotReady, "n1"
		snap.Status.Disks = []api.SnapshotFile{{File: "disk0.qcow2"}}
		bad(&snap.Status)
		if err := os.MkdirAll(n.Dir(&snap.Meta), 0o750); err != nil {
			t.Fatal(err)
		}
		d, m, err := n.Local(context.Background(), snap)
		if !errors.Is(err, api.ErrInvalid) {
			t.Errorf("Local of %+v: %v %q, %v; want an ErrInvalid", snap.Status, d, m, err)
		}
	}
}

// stalledHolder is a node listener that accepts connections and then
// says nothing, or (body) sends the headers and part of the body and then
// nothing; it returns its host:port.
func stalledHolder(t *testing.T, body bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if body {
				go func() {
					bufio.NewReader(c).ReadString('\n')
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nsome bytes")
				}()
			}
		}
	}()
	return ln.Addr().String()
}

// remoteSnap is a Ready snapshot held by node n1 at host.
func remoteSnap(host string) *api.Snapshot {
	snap := &api.Snapshot{}
	snap.Meta.Group, snap.Meta.Namespace, snap.Meta.ID, snap.Meta.UID = "g", "ns", "s1", "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"
	snap.Status.State, snap.Status.Node, snap.Status.DownloadHost = api.SnapshotReady, "n1", host
	snap.Status.Disks = []api.SnapshotFile{{File: "disk0.qcow2", SHA256: "x", Size: 1000000}}
	return snap
}

func fetchesRunning(n *Node) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.fetches)
}

// TestFetchFromStalledHolderFails: a holder that sends no headers, or
// stops in the middle of the body, fails the fetch after StallTimeout
// (with a message saying so) instead of holding it, and everybody
// waiting on it, forever.
func TestFetchFromStalledHolderFails(t *testing.T) {
	for _, body := range []bool{false, true} {
		n := New(Config{Node: "n2", Dir: t.TempDir(), ImageDir: t.TempDir(), Secret: testSecret,
			StallTimeout: 300 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		_, _, err := n.Local(ctx, remoteSnap(stalledHolder(t, body)))
		cancel()
		took := time.Since(start)
		t.Logf("body %v: Local failed after %v: %v", body, took, err)
		if err == nil || !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "sent nothing for 300ms") || took > 5*time.Second {
			t.Errorf("body %v: Local from a stalled holder: %v after %v; want the stall said after about 300ms", body, err, took)
		}
		if k := fetchesRunning(n); k != 0 {
			t.Errorf("body %v: %d fetches left", body, k)
		}
	}
}

// TestFetchCancelledWhenLastWaiterLeaves: the shared fetch goes on while
// one of its callers still waits, and is cancelled when the last one
// gives up; a later caller starts a new fetch instead of joining a dead
// one.
func TestFetchCancelledWhenLastWaiterLeaves(t *testing.T) {
	n := New(Config{Node: "n2", Dir: t.TempDir(), ImageDir: t.TempDir(), Secret: testSecret,
		StallTimeout: time.Hour, Log: slog.New(slog.DiscardHandler)})
	snap := remoteSnap(stalledHolder(t, false))
	short, cancelShort := context.WithCancel(context.Background())
	long, cancelLong := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, _, err := n.Local(short, snap); errs <- err }()
	go func() { _, _, err := n.Local(long, snap); errs <- err }()
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		n.mu.Lock()
		defer n.mu.Unlock()
		f := n.fetches[n.CacheDir(&snap.Meta)]
		return f != nil && f.waiters == 2, "two waiters"
	})
	cancelShort()
	<-errs
	time.Sleep(300 * time.Millisecond)
	if k := fetchesRunning(n); k != 1 {
		t.Fatalf("one caller still waits, but %d fetches run", k)
	}
	cancelLong()
	<-errs
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		return fetchesRunning(n) == 0, "the fetch nobody waits for still runs"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, _, err := n.Local(ctx, snap); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a later caller: %v, want its own deadline (a new fetch of the stalled holder)", err)
	}
}
