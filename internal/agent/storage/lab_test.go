package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// TestLabDisks: real agents in a 2-node lab make a disk downloaded over
// HTTP (a raw image served from the hub) and an empty one on node-b, as
// qcow2 files of limitSize under node-b's blockStorageDirPath; deleting
// them removes the files.
func TestLabDisks(t *testing.T) {
	testenv.RequireCommands(t, qcow2.Binary)
	l := labtest.Up(t, lab.Config{Nodes: 2, HeartbeatSeconds: 1, PollingSeconds: 2})
	ctx := context.Background()

	img := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(img, bytes.Repeat([]byte("humstack"), 8<<20/8), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := lab.Listen(l.NS(lab.Hub), "tcp", lab.HubAddress+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, img) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/disk.raw"

	cfg, err := agent.LoadConfig(filepath.Join(l.Dir(), "node-b", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := cfg.BlockStorageAgentConfig.BlockStorageDirPath
	objs := filepath.Join(t.TempDir(), "disks.yaml")
	if err := os.WriteFile(objs, []byte(`meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/blockstorage, id: fromhttp, group: g, namespace: ns,
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}}
spec: {requestSize: 32M, limitSize: 32M, from: {type: HTTP, http: {url: "`+url+`"}}}
---
meta: {apiType: systemv0/blockstorage, id: empty, group: g, namespace: ns,
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Humcli(ctx, "apply", "-f", objs); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
	sc := client.Scope{Group: "g", Namespace: "ns"}
	for id, size := range map[string]int64{"fromhttp": 32 << 20, "empty": 1 << 30} {
		if err := l.WaitState(ctx, "blockstorage", sc, id, "Active", time.Minute); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "g", "ns", id+".qcow2")
		info, err := qcow2.Info(ctx, p)
		if err != nil || info.Format != qcow2.FormatQCOW2 || info.VirtualSize != size {
			t.Fatalf("%s: %+v, %v; want a qcow2 of %d bytes", p, info, err, size)
		}
	}
	if out, err := l.Humcli(ctx, "get", "blockstorage", "--g", "g", "--n", "ns"); err == nil {
		t.Logf("humcli get blockstorage:\n%s", out)
	}

	if out, err := l.Humcli(ctx, "delete", "-f", objs); err != nil {
		t.Fatalf("humcli delete: %v\n%s", err, out)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		var left []string
		filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				left = append(left, p)
			}
			return nil
		})
		return len(left) == 0, "files left after deleting the disks: " + filepath.Join(left...)
	})
	for _, id := range []string{"fromhttp", "empty"} {
		if _, err := os.Stat(filepath.Join(dir, "g", "ns", id+".qcow2")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: %v, want gone", id, err)
		}
	}
}
