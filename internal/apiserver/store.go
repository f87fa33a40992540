package apiserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/storage/etcd"
)

// EtcdConfig is where the etcd backend finds its cluster.
type EtcdConfig struct {
	// Endpoints are the members' client addresses (host:port or URLs).
	Endpoints []string
	// CAFile, CertFile and KeyFile secure the connection with TLS: CAFile
	// alone verifies the members; CertFile and KeyFile add a client
	// certificate.
	CAFile, CertFile, KeyFile string
	// Prefix is put before every key; "" means "/humstack/".
	Prefix string
}

// openStore opens the backend cfg.Store names.
func openStore(ctx context.Context, cfg Config) (storage.Store, error) {
	switch cfg.Store {
	case "", "bolt":
		return openBolt(cfg)
	case "etcd":
		return openEtcd(ctx, cfg)
	}
	return nil, fmt.Errorf("--store %q: want bolt or etcd", cfg.Store)
}

func openBolt(cfg Config) (storage.Store, error) {
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
}

func openEtcd(ctx context.Context, cfg Config) (storage.Store, error) {
	e := cfg.Etcd
	if len(e.Endpoints) == 0 {
		return nil, fmt.Errorf("--store etcd needs --etcd-endpoints host:port[,host:port...]")
	}
	ec := etcd.Config{Endpoints: e.Endpoints, Prefix: e.Prefix, Logger: cfg.Log}
	if e.CAFile != "" || e.CertFile != "" || e.KeyFile != "" {
		if (e.CertFile == "") != (e.KeyFile == "") {
			return nil, fmt.Errorf("--etcd-certfile and --etcd-keyfile go together")
		}
		info := transport.TLSInfo{CertFile: e.CertFile, KeyFile: e.KeyFile, TrustedCAFile: e.CAFile}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS: %w", err)
		}
		ec.TLS = tc
	}
	st, err := etcd.Open(ctx, ec)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	cfg.Log.Info("store opened", "backend", "etcd", "endpoints", e.Endpoints, "tls", ec.TLS != nil)
	return st, nil
}
