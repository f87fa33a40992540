package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// Config is the apiserver's command-line configuration.
type Config struct {
	ListenAddress string
	ListenPort    int
	// Store selects the backend: "bolt" (embedded, the default).
	Store   string
	DataDir string
	// NodeSecretFile names a file holding the cluster's shared secret, the
	// agents' downloadAPI secret: the console proxy presents it to the
	// agents. Empty leaves the consoles off.
	NodeSecretFile string
	Log            *slog.Logger
}

// Run opens the store, serves the API until ctx ends, and closes the store.
func Run(ctx context.Context, cfg Config) error {
	if cfg.ListenPort < 0 || cfg.ListenPort > 65535 {
		return fmt.Errorf("--listen-port %d: want 0-65535", cfg.ListenPort)
	}
	secret, err := readNodeSecret(cfg.NodeSecretFile)
	if err != nil {
		return err
	}
	if secret == "" {
		cfg.Log.Warn("consoles off: no --node-secret-file, so the apiserver cannot reach the agents' consoles")
	}
	store, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenAddress, strconv.Itoa(cfg.ListenPort)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return New(store, Options{Log: cfg.Log, NodeSecret: secret}).Serve(ctx, ln)
}

// readNodeSecret reads the secret file, if any: its content without
// surrounding white space, which must not be empty.
func readNodeSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--node-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("--node-secret-file %s: the file is empty", path)
	}
	return secret, nil
}

func openStore(cfg Config) (storage.Store, error) {
	switch cfg.Store {
	case "", "bolt":
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
		path := filepath.Join(cfg.DataDir, "humstack.db")
		st, err := bolt.Open(path, bolt.Options{Logger: cfg.Log})
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		cfg.Log.Info("store opened", "backend", "bolt", "path", path)
		return st, nil
	case "etcd":
		return nil, errors.New("--store etcd: the etcd backend is not built yet; use --store bolt")
	}
	return nil, fmt.Errorf("--store %q: want bolt", cfg.Store)
}
