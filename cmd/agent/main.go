// Command agent is humstack's node agent; see package agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/humstack/humstack/internal/agent"
)

func main() {
	var level slog.Level
	configPath := flag.String("config", "config.yaml", "agent config file (the seed's config.yaml)")
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "agent: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		log.Error("cannot start: bad config", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx, cfg, log); err != nil {
		log.Error("agent failed", "err", err)
		os.Exit(1)
	}
}
