package storage

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

const mib = 1 << 20

func newDriver(t *testing.T, limit int) (*Driver, string) {
	t.Helper()
	testenv.RequireCommands(t, qcow2.Binary)
	dir := t.TempDir()
	return New(Config{Dir: dir, ParallelLimit: limit, RetryAfter: 200 * time.Millisecond}), dir
}

func disk(id, from, url, limit string) *api.BlockStorage {
	bs := &api.BlockStorage{}
	bs.Meta = api.Meta{ID: id, Group: "g", Namespace: "ns", APIType: api.BlockStorageKind.APIType}
	bs.Spec.LimitSize = limit
	bs.Spec.RequestSize = limit
	bs.Spec.From.Type = from
	if url != "" {
		bs.Spec.From.HTTP = &api.BlockStorageHTTP{URL: url}
	}
	return bs
}

// until applies bs until its state is want (failing on a different
// terminal state) and returns it.
func until(t *testing.T, d *Driver, bs *api.BlockStorage, want string, also func(*api.BlockStorage) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := d.Apply(context.Background(), bs); err != nil && want != StateError {
			t.Fatalf("apply: %v", err)
		}
		if bs.Status.State == want && (also == nil || also(bs)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s (%q, %d/%d), want %s", bs.Status.State, bs.Status.Message, bs.Status.Downloaded, bs.Status.Total, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// contentReady fails unless bs's ContentReady condition has status and
// reason.
func contentReady(t *testing.T, bs *api.BlockStorage, status api.ConditionStatus, reason string) {
	t.Helper()
	c := conditions.Find(bs.Status.Conditions, api.ConditionContentReady)
	if c == nil || c.Status != status || c.Reason != reason {
		t.Fatalf("ContentReady %+v, want %s/%s (state %s %q)", c, status, reason, bs.Status.State, bs.Status.Message)
	}
}

// files lists the regular files under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return out
}

func checkDisk(t *testing.T, path string, size int64) {
	t.Helper()
	img, err := qcow2.Info(context.Background(), path)
	if err != nil || img.Format != qcow2.FormatQCOW2 || img.VirtualSize != size || img.BackingFile != "" {
		t.Fatalf("disk %s: %+v, %v; want qcow2 of %d", path, img, err, size)
	}
}

func TestEmpty(t *testing.T) {
	d, dir := newDriver(t, 1)
	bs := disk("d1", api.BlockStorageFromEmpty, "", "64M")
	until(t, d, bs, StateActive, nil)
	contentReady(t, bs, api.ConditionTrue, "Created")
	p := d.Path("g", "ns", "d1")
	if p != filepath.Join(dir, "g/ns/d1.qcow2") {
		t.Fatalf("path %s", p)
	}
	checkDisk(t, p, 64*mib)
	st, _ := os.Stat(p)
	until(t, d, bs, StateActive, nil) // idempotent: the file is not remade
	if st2, _ := os.Stat(p); !os.SameFile(st, st2) {
		t.Fatal("second apply remade the disk")
	}
	// Raising limitSize grows it; lowering is refused.
	bs.Spec.LimitSize = "128M"
	until(t, d, bs, StateActive, nil)
	checkDisk(t, p, 128*mib)
	bs.Spec.LimitSize = "32M"
	until(t, d, bs, StateError, nil)
	if !strings.Contains(bs.Status.Message, "shrinking") {
		t.Fatalf("message %q", bs.Status.Message)
	}
	// The content is still there: only Ready would say the error.
	contentReady(t, bs, api.ConditionTrue, "Created")
	if err := d.Remove(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("left %v", f)
	}
	if err := d.Remove(context.Background(), bs); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

func pattern(n int) []byte { return bytes.Repeat([]byte("humstack"), n/8) }

func TestHTTPRawConvertedAndGrown(t *testing.T) {
	d, dir := newDriver(t, 1)
	data := pattern(4 * mib)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	bs := disk("d1", api.BlockStorageFromHTTP, srv.URL+"/img.raw", "16M")
	until(t, d, bs, StateActive, nil)
	p := d.Path("g", "ns", "d1")
	checkDisk(t, p, 16*mib)
	back := filepath.Join(t.TempDir(), "back.raw")
	if err := qcow2.Convert(context.Background(), p, back, qcow2.FormatRaw); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(back)
	if !bytes.Equal(got[:len(data)], data) || bytes.ContainsFunc(got[len(data):], func(r rune) bool { return r != 0 }) {
		t.Fatal("the disk's content is not the downloaded image")
	}
	if f := files(t, dir); len(f) != 1 {
		t.Fatalf("files %v, want only the disk", f)
	}
}

func TestHTTPQCOW2(t *testing.T) {
	d, _ := newDriver(t, 1)
	src := filepath.Join(t.TempDir(), "src.qcow2")
	if err := qcow2.Create(context.Background(), src, 8*mib, ""); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, src) }))
	defer srv.Close()
	bs := disk("d1", api.BlockStorageFromHTTP, srv.URL+"/src.qcow2", "8M")
	until(t, d, bs, StateActive, nil)
	checkDisk(t, d.Path("g", "ns", "d1"), 8*mib)
}

func TestHTTPErrors(t *testing.T) {
	d, dir := newDriver(t, 1)
	big := pattern(2 * mib)
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>not a disk</html>")) })
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4096")
		w.Write(make([]byte, 100))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []struct{ url, limit, msg string }{
		{srv.URL + "/missing", "1M", "404"},
		{srv.URL + "/big", "1M", "larger than spec.limitSize"},
		{srv.URL + "/text", "1M", "not a disk image"},
		{srv.URL + "/short", "1M", "download"},
		{"http://127.0.0.1:1/x", "1M", "refused"},
	} {
		bs := disk("d1", api.BlockStorageFromHTTP, c.url, c.limit)
		t.Log(c.url)
		until(t, d, bs, StateError, nil)
		if !strings.Contains(bs.Status.Message, c.msg) {
			t.Errorf("%s: message %q, want it to mention %q", c.url, bs.Status.Message, c.msg)
		}
		contentReady(t, bs, api.ConditionFalse, StateError)
		if f := files(t, dir); len(f) != 0 {
			t.Errorf("%s: left %v", c.url, f)
		}
		d.Remove(context.Background(), bs)
	}
}

func TestHTTPRetriedAfterError(t *testing.T) {
	d, _ := newDriver(t, 1)
	var ok bool
	data := pattern(mib)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok {
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	bs := disk("d1", api.BlockStorageFromHTTP, srv.URL, "1M")
	until(t, d, bs, StateError, nil)
	ok = true
	until(t, d, bs, StateActive, nil)
}

// gated serves size bytes of a pattern: the first half at once, the rest
// when release is closed; cancelled reports the client going away.
func gated(size int) (srv *httptest.Server, release chan struct{}, cancelled chan struct{}) {
	release, cancelled = make(chan struct{}), make(chan struct{}, 8)
	data := pattern(size)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
			w.Write(data[len(data)/2:])
		case <-r.Context().Done():
			cancelled <- struct{}{}
		}
	}))
	return srv, release, cancelled
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestHTTPProgress(t *testing.T) {
	d, _ := newDriver(t, 1)
	srv, release, _ := gated(4 * mib)
	defer srv.Close()
	bs := disk("d1", api.BlockStorageFromHTTP, srv.URL, "8M")
	until(t, d, bs, StateDownloading, func(b *api.BlockStorage) bool {
		return b.Status.Downloaded == 2*mib && b.Status.Total == 4*mib
	})
	res, _ := d.Apply(context.Background(), bs)
	if res.RequeueAfter != PollInterval {
		t.Fatalf("requeue after %v while downloading", res.RequeueAfter)
	}
	close(release)
	until(t, d, bs, StateActive, nil)
	if bs.Status.Downloaded != 0 || bs.Status.Total != 0 {
		t.Fatalf("progress left in an Active disk: %+v", bs.Status)
	}
	checkDisk(t, d.Path("g", "ns", "d1"), 8*mib)
}

func TestRemoveCancelsDownload(t *testing.T) {
	d, dir := newDriver(t, 1)
	srv, release, cancelled := gated(4 * mib)
	defer srv.Close()
	defer close(release)
	bs := disk("d1", api.BlockStorageFromHTTP, srv.URL, "8M")
	until(t, d, bs, StateDownloading, func(b *api.BlockStorage) bool { return b.Status.Downloaded > 0 })
	if f := files(t, dir); len(f) != 1 || !qcow2.IsTemp(filepath.Base(f[0])) {
		t.Fatalf("while downloading: %v, want one temporary file", f)
	}
	if err := d.Remove(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the download's request was not cancelled")
	}
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("left %v", f)
	}
}

func TestParallelLimitQueues(t *testing.T) {
	d, _ := newDriver(t, 1)
	srv, release, _ := gated(2 * mib)
	defer srv.Close()
	a := disk("a", api.BlockStorageFromHTTP, srv.URL, "4M")
	b := disk("b", api.BlockStorageFromHTTP, srv.URL, "4M")
	until(t, d, a, StateDownloading, nil)
	until(t, d, b, StateQueued, nil)
	time.Sleep(200 * time.Millisecond)
	until(t, d, b, StateQueued, nil)
	close(release)
	until(t, d, a, StateActive, nil)
	until(t, d, b, StateActive, nil)
}

// TestDownloadEvents: a download records Downloading when it starts,
// DownloadFailed with the URL and the HTTP status once per failed attempt
// (however often the disk is reconciled meanwhile), and Downloaded.
func TestDownloadEvents(t *testing.T) {
	d, _ := newDriver(t, 1)
	rec := &record.Memory{}
	d.events = rec
	var mu sync.Mutex
	missing, hits := true, 0
	data := pattern(mib)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if missing {
			hits++
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	bs := disk("d1", api.BlockStorageFromHTTP, srv.URL+"/img.raw", "1M")
	until(t, d, bs, StateError, nil)
	time.Sleep(500 * time.Millisecond) // past RetryAfter: a second attempt
	until(t, d, bs, StateError, func(*api.BlockStorage) bool {
		mu.Lock()
		defer mu.Unlock()
		return hits >= 2
	})
	for range 20 { // reconciles while it waits to retry record nothing
		d.Apply(context.Background(), bs)
	}
	mu.Lock()
	missing = false
	attempts := hits
	mu.Unlock()
	until(t, d, bs, StateActive, nil)
	failed := 0
	for _, e := range rec.Events() {
		if e.Object.ID != "d1" || e.Object.APIType != api.BlockStorageKind.APIType {
			t.Errorf("event about %+v", e.Object)
		}
		if e.Reason == "DownloadFailed" {
			failed++
			if e.Type != api.EventWarning || !strings.Contains(e.Message, srv.URL+"/img.raw") || !strings.Contains(e.Message, "HTTP 404 Not Found") {
				t.Errorf("DownloadFailed: %+v, want the URL and the HTTP status", e)
			}
		}
	}
	got := rec.Reasons()
	if failed != attempts || got[0] != "Downloading" || got[1] != "DownloadFailed" || got[len(got)-1] != "Downloaded" {
		t.Errorf("events %v for %d failed attempts, want Downloading, DownloadFailed per attempt, then Downloaded", got, attempts)
	}
	rec2 := &record.Memory{}
	d.events = rec2
	bs.Spec.LimitSize = "2M"
	until(t, d, bs, StateActive, nil)
	if r := rec2.Reasons(); len(r) != 1 || r[0] != "Grown" {
		t.Errorf("growing the disk: %v, want Grown", r)
	}
}
