// Package apiservertest runs the real apiserver (apiserver.Run, flags as
// a Config) in a test, on a free loopback port, until the test ends.
package apiservertest

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/humstack/humstack/internal/apiserver"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Run starts apiserver.Run with cfg on 127.0.0.1 and a free port (unless
// cfg names a port), a fresh data dir unless cfg names one, and a
// discarding logger unless cfg has one. It returns the port at once; the
// caller waits for what it needs (the CA file, /healthz). At the end of
// the test the server is stopped, and an error from Run fails the test.
func Run(t testing.TB, cfg apiserver.Config) int {
	t.Helper()
	cfg.ListenAddress = "127.0.0.1"
	if cfg.ListenPort == 0 {
		cfg.ListenPort = FreePort(t)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- apiserver.Run(ctx, cfg) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("apiserver: %v", err)
		}
	})
	return cfg.ListenPort
}
