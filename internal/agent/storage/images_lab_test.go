package storage_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/testenv"
)

// TestLabImages is issue 6's acceptance in a 3-node lab with real agents:
// disks from HTTP (the tiny guest's qcow2 and a raw copy of it) become
// Active at limitSize; a larger download shows progress and survives an
// agent kill; broken URLs end in Error with nothing on disk; an image
// entity copies a disk on node-b and records its sha256; a BaseImage disk
// on node-c pulls it through node-b's download API, which refuses callers
// without the secret; the entity cannot go while the disk uses it; and
// deleting everything leaves no file on any node.
func TestLabImages(t *testing.T) {
	testenv.RequireCommands(t, append([]string{qcow2.Binary}, tiny.RequiredCommands...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, lab.Config{HeartbeatSeconds: 1, PollingSeconds: 2})
	files := serveImages(t, l, img.Disk)
	nodeB, nodeC := agentConfig(t, l, "node-b"), agentConfig(t, l, "node-c")

	on := func(node string) string {
		return "annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: " + node + "}"
	}
	bs := func(id, node, limit, from string) string {
		return fmt.Sprintf("---\nmeta: {apiType: systemv0/blockstorage, id: %s, group: g, namespace: ns, %s}\nspec: {requestSize: %s, limitSize: %s, from: %s}\n", id, on(node), limit, limit, from)
	}
	http := func(path string) string { return `{type: HTTP, http: {url: "` + files.url + path + `"}}` }
	apply(t, l, "meta: {apiType: corev0/group, id: g}\n---\nmeta: {apiType: corev0/namespace, id: ns, group: g}\n"+
		bs("tiny", "node-b", "1G", http("/tiny.qcow2"))+
		bs("tinyraw", "node-b", "1G", http("/tiny.raw"))+
		bs("big", "node-b", "256M", http("/big.raw"))+
		bs("missing", "node-b", "1G", http("/missing.qcow2"))+
		bs("text", "node-b", "1G", http("/notes.txt"))+
		bs("refused", "node-b", "1G", `{type: HTTP, http: {url: "http://127.0.0.1:1/x.qcow2"}}`))
	sc := client.Scope{Group: "g", Namespace: "ns"}

	// The large download shows its progress, then survives a kill -9 of
	// the agent: the restarted agent starts it again.
	var shown string
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		out, _ := l.Humcli(ctx, "get", "blockstorage", "big", "--g", "g", "--n", "ns")
		shown = out
		return strings.Contains(out, "Downloading") && strings.Contains(out, "MiB ("), "no progress shown:\n" + out
	})
	t.Logf("humcli get blockstorage big, while downloading:\n%s", shown)
	if err := l.StopAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent("node-b"); err != nil {
		t.Fatal(err)
	}

	for id, size := range map[string]int64{"tiny": 1 << 30, "tinyraw": 1 << 30, "big": 256 << 20} {
		if err := l.WaitState(ctx, "blockstorage", sc, id, "Active", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(nodeB.BlockStorageAgentConfig.BlockStorageDirPath, "g", "ns", id+".qcow2")
		info, err := qcow2.Info(ctx, p)
		if err != nil || info.Format != qcow2.FormatQCOW2 || info.VirtualSize != size || info.BackingFile != "" {
			t.Fatalf("%s: %+v, %v; want a self-contained qcow2 of %d bytes", id, info, err, size)
		}
	}
	disks := client.For[*api.BlockStorage](l.Client())
	for id, want := range map[string]string{"missing": "404", "text": "not a disk image", "refused": "connection refused"} {
		if err := l.WaitState(ctx, "blockstorage", sc, id, "Error", time.Minute); err != nil {
			t.Fatal(err)
		}
		d, err := disks.Get(ctx, sc, id)
		if err != nil || !strings.Contains(d.Status.Message, want) {
			t.Fatalf("%s: message %q (%v), want it to say %q", id, d.Status.Message, err, want)
		}
	}
	if left := filesUnder(t, nodeB.BlockStorageAgentConfig.BlockStorageDirPath); len(left) != 3 {
		t.Fatalf("node-b has %v; want only the three good disks (no temporary or broken files)", left)
	}

	// An entity from the tiny disk on node-b, a tag, and a disk from it on node-c.
	apply(t, l, `meta: {apiType: systemv0/imageentity, id: tiny-v1, group: g}
spec: {source: {namespace: ns, blockStorageID: tiny}}
---
meta: {apiType: systemv0/image, id: tiny, group: g}
spec: {entityMap: {v1: tiny-v1}}
`+bs("child", "node-c", "2G", "{type: BaseImage, baseImage: {imageName: tiny, tag: v1}}"))
	if err := l.WaitState(ctx, "imageentity", client.Scope{Group: "g"}, "tiny-v1", "Available", time.Minute); err != nil {
		t.Fatal(err)
	}
	ents := client.For[*api.ImageEntity](l.Client())
	ent, err := ents.Get(ctx, client.Scope{Group: "g"}, "tiny-v1")
	if err != nil {
		t.Fatal(err)
	}
	entFile := filepath.Join(nodeB.BlockStorageAgentConfig.ImageDirPath, "g", "tiny-v1.qcow2")
	if sum := sha256File(t, entFile); ent.Status.SHA256 != sum || ent.Status.Node != "node-b" {
		t.Fatalf("entity status %+v; the file's sha256 is %s", ent.Status, sum)
	}
	if err := l.WaitState(ctx, "blockstorage", sc, "child", "Active", time.Minute); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(nodeC.BlockStorageAgentConfig.BlockStorageDirPath, "g", "ns", "child.qcow2")
	info, err := qcow2.Info(ctx, child)
	cached := filepath.Join(nodeC.BlockStorageAgentConfig.ImageDirPath, ".cache", "g", "tiny-v1-"+ent.Status.SHA256[:16]+".qcow2")
	if err != nil || info.VirtualSize != 2<<30 || info.BackingFile != cached {
		t.Fatalf("child: %+v, %v; want a 2 GiB overlay of %s", info, err, cached)
	}
	if sum := sha256File(t, cached); sum != ent.Status.SHA256 {
		t.Fatalf("node-c's cached copy has sha256 %s, want %s", sum, ent.Status.SHA256)
	}
	out, _ := l.Humcli(ctx, "get", "imageentity", "--g", "g")
	t.Logf("humcli get imageentity:\n%s", out)

	// node-b's download API serves only other nodes, by their
	// certificates (mutual TLS; no shared secret in a secure lab).
	dl := "https://" + net.JoinHostPort(nodeB.BlockStorageAgentConfig.DownloadAPI.AdvertiseAddress, strconv.Itoa(nodeB.BlockStorageAgentConfig.DownloadAPI.ListenPort)) + "/v0/imageentities/g/tiny-v1"
	if code, err := getFromTLS(l, "node-c", dl, "node-c"); err != nil || code != 200 {
		t.Errorf("download API with node-c's certificate: HTTP %d, %v; want 200", code, err)
	}
	if code, err := getFromTLS(l, "node-c", dl, ""); err == nil && code == 200 {
		t.Errorf("download API without a certificate: HTTP %d, want a refusal", code)
	}

	// The entity waits for its disk; then everything goes, files included.
	if _, err := ents.Delete(ctx, client.Scope{Group: "g"}, "tiny-v1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitState(ctx, "imageentity", client.Scope{Group: "g"}, "tiny-v1", "Deleting", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if e, err := ents.Get(ctx, client.Scope{Group: "g"}, "tiny-v1"); err != nil || !strings.Contains(e.Status.Message, "ns/child") {
		t.Fatalf("deleting entity: %+v, %v; want a message naming ns/child", e, err)
	}
	if out, err := l.Humcli(ctx, "delete", "blockstorage", "child", "--g", "g", "--n", "ns"); err != nil {
		t.Fatalf("humcli delete: %v\n%s", err, out)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := ents.Get(ctx, client.Scope{Group: "g"}, "tiny-v1")
		return err != nil, "entity still there after its disk went"
	})
	if out, err := l.Humcli(ctx, "delete", "namespace", "ns", "--g", "g"); err != nil {
		t.Fatalf("humcli delete: %v\n%s", err, out)
	}
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		var left []string
		for _, c := range []agent.Config{nodeB, nodeC} {
			left = append(left, filesUnder(t, c.BlockStorageAgentConfig.BlockStorageDirPath)...)
			left = append(left, filesUnder(t, c.BlockStorageAgentConfig.ImageDirPath)...)
		}
		return len(left) == 0, fmt.Sprintf("files left: %v", left)
	})
}

type served struct{ url string }

// serveImages serves, from the hub, the tiny disk, a raw copy, a 192 MiB
// raw file sent slowly (so its progress can be seen), and a text file.
func serveImages(t *testing.T, l *lab.Lab, disk string) served {
	dir := t.TempDir()
	raw := filepath.Join(dir, "tiny.raw")
	if err := qcow2.Convert(context.Background(), disk, raw, qcow2.FormatRaw); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.raw")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(192 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("this is not a disk image\n"), 0o600)
	paths := map[string]string{"/tiny.qcow2": disk, "/tiny.raw": raw, "/big.raw": big, "/notes.txt": filepath.Join(dir, "notes.txt")}
	ln, err := lab.Listen(l.NS(lab.Hub), "tcp", lab.HubAddress+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := paths[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path != "/big.raw" {
			http.ServeFile(w, r, p)
			return
		}
		slowly(w, r, p)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return served{url: "http://" + ln.Addr().String()}
}

// slowly sends the file at about 24 MiB/s, so a download takes seconds.
func slowly(w http.ResponseWriter, r *http.Request, p string) {
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(40 * time.Millisecond):
		}
	}
}

func agentConfig(t *testing.T, l *lab.Lab, node string) agent.Config {
	cfg, err := agent.LoadConfig(filepath.Join(l.Dir(), node, "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func apply(t *testing.T, l *lab.Lab, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Humcli(context.Background(), "apply", "-f", f); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func filesUnder(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func sha256File(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// getFromTLS GETs url from inside node's namespace over TLS that trusts
// the lab's cluster CA, presenting certNode's node certificate (none when
// empty), and returns the HTTP status.
func getFromTLS(l *lab.Lab, node, url, certNode string) (int, error) {
	b, err := os.ReadFile(l.CAFile())
	if err != nil {
		return 0, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b)
	var kp *tls.Certificate
	if certNode != "" {
		dir := filepath.Join(l.Dir(), certNode, "pki")
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"))
		if err != nil {
			return 0, err
		}
		kp = &c
	}
	// Node certificates name their node, not hosts: the agents' own peer
	// check (pki.PeerClientConfig) verifies the server is node-b.
	tc := pki.PeerClientConfig(roots, func() *tls.Certificate { return kp }, "node-b")
	hc := &http.Client{Transport: &http.Transport{DialContext: lab.DialContext(l.NS(node)), TLSClientConfig: tc}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
