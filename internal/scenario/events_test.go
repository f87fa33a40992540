package scenario_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// TestEventsOfABrokenImage is issue 16's story in the lab: a VM whose
// disk's image URL answers 404 shows, on the disk, one Warning event
// naming the URL and the code whose count grows (not one event per
// attempt); once the URL serves the image (the web server is fixed:
// spec.from is immutable, a disk's source never changes), the recovery
// events follow in order (Downloading, Downloaded on the disk; the VM
// started), and `humcli describe` of the VM and of the disk shows them.
func TestEventsOfABrokenImage(t *testing.T) {
	r := newRunWith(t, lab.Config{Nodes: 2})
	var fixed atomic.Bool
	img := r.disk
	ln, err := lab.Listen(r.l.NS(lab.Hub), "tcp", lab.HubAddress+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !fixed.Load() {
			http.NotFound(w, req)
			return
		}
		http.ServeFile(w, req, img)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/missing.qcow2"

	r.apply("01-tenancy.yaml", "03-network.yaml", "04-disk.yaml")
	r.applyText(vmOnNodeB)
	events := func() string {
		return r.humcli("get", "events", "--for", "blockstorage/bs1", "--g", "group1", "--n", "ns1")
	}
	var out string
	testenv.Eventually(t, 90*time.Second, func() (bool, string) {
		out = events()
		return failedCount(out) >= 3, out
	})
	if n := strings.Count(out, "DownloadFailed"); n != 1 || !strings.Contains(out, r.url) || !strings.Contains(out, "404") || !strings.Contains(out, "Warning") {
		t.Fatalf("the disk's events (want one Warning DownloadFailed naming %s and 404, counted):\n%s", r.url, out)
	}
	r.step("404: one Warning event, count " + strconv.Itoa(failedCount(out)))

	fixed.Store(true)
	r.wait("virtualmachine", ns1, "vm1", "Running", 2*time.Minute)
	r.step("the URL serves the image: the disk is made and vm1 runs")
	// Events are written a little after the fact (the recorder coalesces
	// repeats): wait for the last one.
	order := []string{"DownloadFailed", "Downloading", "Downloaded"}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		out = events()
		return inOrder(out, order), out
	})
	t.Logf("the disk's events:\n%s", out)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		out := r.humcli("get", "events", "--for", "vm/vm1", "--g", "group1", "--n", "ns1")
		return strings.Contains(out, "Started"), out
	})
	describe := r.humcli("describe", "blockstorage", "bs1", "--g", "group1", "--n", "ns1")
	for _, want := range []string{"Events:", "DownloadFailed", "Downloaded", "404"} {
		if !strings.Contains(describe, want) {
			t.Fatalf("describe blockstorage bs1 (want %q):\n%s", want, describe)
		}
	}
	describe = r.humcli("describe", "vm", "vm1", "--g", "group1", "--n", "ns1")
	for _, want := range []string{"Conditions:", "Events:", "Started", "bs1"} {
		if !strings.Contains(describe, want) {
			t.Fatalf("describe vm vm1 (want %q):\n%s", want, describe)
		}
	}
	t.Logf("describe vm vm1:\n%s", describe)
	r.step("describe shows the failure and the recovery")
}

// vmOnNodeB is vm1 of the scenario without SSH (its disk is bs1).
const vmOnNodeB = `meta:
  apiType: systemv0/virtualmachine
  id: vm1
  group: group1
  namespace: ns1
  annotations:
    virtualmachinev0/node_name: node-b
spec:
  requestVcpus: 1000m
  limitVcpus: 1000m
  requestMemory: 256M
  limitMemory: 256M
  blockStorageIDs: [bs1]
  nics:
    - networkID: net1
      ipv4Address: 10.0.0.1
  actionState: PowerOn
`

// failedCount is the COUNT of the DownloadFailed row of a get events
// table, or 0.
func failedCount(table string) int {
	lines := strings.Split(table, "\n")
	if len(lines) == 0 {
		return 0
	}
	col := strings.Index(lines[0], "COUNT")
	for _, l := range lines[1:] {
		if !strings.Contains(l, "DownloadFailed") || col < 0 || len(l) <= col {
			continue
		}
		f := strings.Fields(l[col:])
		if len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	return 0
}

// inOrder reports whether each of words first appears in s after the
// previous one's first appearance.
func inOrder(s string, words []string) bool {
	at := -1
	for _, w := range words {
		i := strings.Index(s, w)
		if i <= at {
			return false
		}
		at = i
	}
	return true
}

// applyText applies YAML text through humcli.
func (r *run) applyText(y string) {
	p := filepath.Join(r.t.TempDir(), "doc.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.humcli("apply", "-f", p)
}
