// Command apiserver serves humstack's REST and watch API.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/humstack/humstack/internal/apiserver"
)

func main() {
	var cfg apiserver.Config
	var level slog.Level
	flag.StringVar(&cfg.ListenAddress, "listen-address", "0.0.0.0", "address to listen on")
	flag.IntVar(&cfg.ListenPort, "listen-port", 8080, "port to listen on")
	flag.StringVar(&cfg.Store, "store", "bolt", "storage backend: bolt (embedded)")
	flag.StringVar(&cfg.DataDir, "data-dir", "./database", "directory of the embedded store")
	flag.StringVar(&cfg.NodeSecretFile, "node-secret-file", "", "file holding the cluster's shared secret (the agents' downloadAPI secret), to reach VM consoles; without it consoles are off")
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "apiserver: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := apiserver.Run(ctx, cfg); err != nil {
		cfg.Log.Error("apiserver failed", "err", err)
		os.Exit(1)
	}
}
