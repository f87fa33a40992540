package vm_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// scrapeNode reads node's metrics as Prometheus would: through the API
// server's proxy route, with a token (the lab's admin), the apiserver
// reaching the agent's node listener over mutual TLS.
func scrapeNode(t *testing.T, v *vmLab, node string) string {
	t.Helper()
	tok, err := os.ReadFile(v.AdminTokenFile())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.APIURL()+"/api/v0/nodes/"+node+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := v.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v0/nodes/%s/metrics: %d %s", node, resp.StatusCode, body)
	}
	return string(body)
}

// sample is the value of the series of name whose labels contain all of
// labels ("" matches any), and whether there is one.
func sample(out, name string, labels ...string) (float64, bool) {
	for l := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(l, name+"{")
		if !ok {
			continue
		}
		set, val, _ := strings.Cut(rest, "} ")
		match := true
		for _, want := range labels {
			match = match && strings.Contains(set, want)
		}
		if match {
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestLabVMMetrics: a running tiny guest's metrics, scraped through the
// API server: its CPU time grows between two scrapes, its disk has read
// counters (it booted from it), its NIC counts the pings it answered from
// the guest's side, and the exposition passes promtool.
func TestLabVMMetrics(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "promtool"}, tiny.RequiredCommands...)...)
	v := upVMLab(t, imageFor(t, tinyImage))
	v.apply(t, v.seedYAML("tester", "256M", 1))
	v.waitVM(t, "Running", 3*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lab.Ping(ctx, v.NS("node-b"), guestAddr); err != nil {
		t.Fatalf("ping %s: %v", guestAddr, err)
	}
	vm := `vm="vm1"`
	first := scrapeNode(t, v, "node-b")
	cpu1, ok := sample(first, "humstack_vm_cpu_seconds_total", vm, `node="node-b"`)
	if !ok {
		t.Fatalf("no CPU series of vm1:\n%s", first)
	}
	time.Sleep(3 * time.Second)
	out := scrapeNode(t, v, "node-b")
	cpu2, _ := sample(out, "humstack_vm_cpu_seconds_total", vm)
	t.Logf("vm1 CPU: %.2fs, then %.2fs 3s later", cpu1, cpu2)
	if cpu2 <= cpu1 {
		t.Errorf("humstack_vm_cpu_seconds_total did not grow: %v then %v", cpu1, cpu2)
	}
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"humstack_vm_state", []string{vm, `state="Running"`}, 1},
		{"humstack_vm_memory_bytes", []string{vm}, 1 << 20},
		{"humstack_vm_memory_configured_bytes", []string{vm}, 256 << 20},
		{"humstack_vm_disk_read_bytes_total", []string{vm, `disk="bs1"`}, 1},
		{"humstack_vm_disk_reads_total", []string{vm, `disk="bs1"`}, 1},
		{"humstack_vm_disk_write_bytes_total", []string{vm, `disk="bs1"`}, 0},
		{"humstack_vm_network_receive_packets_total", []string{vm, `network="net1"`}, 1},  // the pings
		{"humstack_vm_network_transmit_packets_total", []string{vm, `network="net1"`}, 1}, // the replies
		{"humstack_vm_network_receive_bytes_total", []string{vm, `network="net1"`}, 1},
		{"humstack_agent_reconcile_total", []string{`controller="virtualmachine"`, `result="success"`}, 1},
		{"humstack_agent_node_allocated_memory_bytes", []string{`node="node-b"`}, 256 << 20},
		{"humstack_agent_disk_allocated_bytes", []string{`disk="bs1"`}, 1},
		{"humstack_agent_image_cache_bytes", nil, 0},
	} {
		got, ok := sample(out, c.name, c.labels...)
		if !ok || got < c.min {
			t.Errorf("%s%v = %v (present %t), want at least %v", c.name, c.labels, got, ok, c.min)
		}
	}
	t.Logf("vm1: disk read %s bytes, NIC rx %s packets",
		fmtSample(out, "humstack_vm_disk_read_bytes_total", vm), fmtSample(out, "humstack_vm_network_receive_packets_total", vm))
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, b)
	}
}

func fmtSample(out, name string, labels ...string) string {
	v, _ := sample(out, name, labels...)
	return strconv.FormatFloat(v, 'f', -1, 64)
}
