package node

import (
	"testing"

	"github.com/humstack/humstack/internal/controller"
)

// TestDownloadHost: the node listener's address reaches the node's spec,
// where the API server looks for it to proxy consoles, and goes away when
// the agent restarts without a secret.
func TestDownloadHost(t *testing.T) {
	c := newAPI(t)
	opts := testOptions("worker1")
	opts.DownloadHost = "192.168.10.1:8082"
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := getNode(t, c, "worker1").Spec.DownloadHost; got != "192.168.10.1:8082" {
		t.Fatalf("downloadHost %q", got)
	}
	opts.DownloadHost = ""
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := getNode(t, c, "worker1").Spec.DownloadHost; got != "" {
		t.Fatalf("downloadHost %q after a restart without a secret", got)
	}
}
