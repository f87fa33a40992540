package apiserver_test

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/testenv/apiservertest"
)

// TestRunWritesTheAuditLog: --audit-log reaches the server: a write made
// through a running apiserver is in the file once it has stopped.
func TestRunWritesTheAuditLog(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit", "audit.log")
	runCtx, stop := context.WithCancel(context.Background())
	port := apiservertest.FreePort(t)
	done := make(chan error, 1)
	go func() {
		done <- apiserver.Run(runCtx, apiserver.Config{ListenAddress: "127.0.0.1", ListenPort: port, DataDir: filepath.Join(dir, "db"),
			TLS: apiserver.TLSConfig{InsecureHTTP: true}, Authorization: apiserver.AuthorizationOff,
			Audit: audit.SinkConfig{Path: logPath, MaxSizeMB: 1, MaxBackups: 1}, Log: slog.New(slog.DiscardHandler)})
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	resp, err := http.Post(base+"/api/v0/groups", "application/yaml", strings.NewReader("meta: {id: g1}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := audit.ReadAll(f)
	if err != nil || len(evs) != 1 || evs[0].Verb != "create" || evs[0].Object.ID != "g1" || evs[0].Code != 201 {
		t.Fatalf("audit log %+v, %v", evs, err)
	}
}

// TestRunRefusesBadRatios: a negative or infinite overcommit ratio stops
// the server before it opens anything, naming the flag.
func TestRunRefusesBadRatios(t *testing.T) {
	for flag, r := range map[string]placement.Ratios{
		"--cpu-overcommit-ratio":     {CPU: -1},
		"--memory-overcommit-ratio":  {Memory: math.Inf(1)},
		"--storage-overcommit-ratio": {Storage: math.NaN()},
	} {
		err := apiserver.Run(t.Context(), apiserver.Config{ListenAddress: "127.0.0.1", DataDir: filepath.Join(t.TempDir(), "db"), Ratios: r})
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("ratios %+v: %v, want an error naming %s", r, err, flag)
		}
	}
}
