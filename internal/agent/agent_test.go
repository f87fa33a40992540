package agent

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
)

var quiet = slog.New(slog.DiscardHandler)

// testConfig is a config for an API server at hostport, as LoadConfig
// would return it.
func testConfig(t *testing.T, hostport string, mode Mode) Config {
	t.Helper()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	yaml := "apiServerAddress: " + host + "\napiServerPort: " + port + "\nagentMode: " + string(mode) +
		"\nnodeName: node-a\nnodeAddress: 127.0.0.1\nheartbeatSeconds: 1\nnodeGraceSeconds: 3\n"
	cfg, err := parseConfig([]byte(yaml), testHost)
	if err != nil || cfg.APIServerPort != p {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// TestRun: in every mode the agent registers its node, keeps it Ready, and
// returns nil when its context ends.
func TestRun(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: quiet, Heartbeat: time.Second}).Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); st.Close() })
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{ModeCore, ModeSystem, ModeAll} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, testConfig(t, srv.Listener.Addr().String(), mode), quiet) }()
			deadline := time.Now().Add(5 * time.Second)
			for {
				n, err := client.For[*api.Node](c).Get(context.Background(), client.Scope{}, "node-a")
				if err == nil && n.Spec.AgentMode == string(mode) && n.Status.State == api.NodeReady && n.Status.AllocatedVcpus == "0m" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node not Ready in mode %s: %+v, %v", mode, n, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run returned %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

// TestRunWithoutAPI: with no API server Run keeps trying to register and
// still stops cleanly.
func TestRunWithoutAPI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if err := Run(ctx, testConfig(t, addr, ModeAll), quiet); err != nil {
		t.Fatalf("Run returned %v, want nil on a clean stop", err)
	}
}
