// Command humlab runs a humstack lab for humans: `humlab up` starts a
// multi-node cluster in network namespaces on this machine (as root) and
// prints how to use it, `humlab status` shows it, `humlab down` removes
// it. `make lab-up` and `make lab-down` run it; see package internal/lab.
// `humlab image tiny|debian [-serve addr]` builds a test guest image from
// Debian packages (cached) and prints its path or serves it over HTTP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/humstack/humstack/internal/lab"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: humlab up|down|status [flags]  (humlab up -h for flags)\n       humlab image tiny|debian [-serve addr]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("humlab "+os.Args[1], flag.ExitOnError)
	id := fs.String("id", "lab", "lab ID: namespaces are hs-<id>-*, the work dir <dir>/humstack-lab-<id>")
	dir := fs.String("dir", os.TempDir(), "directory holding the lab's work dir")
	cfg := lab.Config{Detach: true}
	fs.StringVar(&cfg.BinDir, "bin", "bin", "directory holding apiserver, agent and humcli")
	fs.IntVar(&cfg.Nodes, "nodes", 3, "number of nodes (node-a is Core, the others System)")
	fs.IntVar(&cfg.HeartbeatSeconds, "heartbeat", 0, "agents' heartbeatSeconds (0: their default)")
	fs.BoolVar(&cfg.VXLANUnicast, "unicast", false, "unicast VXLAN instead of the multicast group")
	fs.BoolVar(&cfg.CleanStale, "clean", false, "remove leftovers of an earlier lab with this ID first")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "plain HTTP, no authorization and a shared download secret (a trusted lab, or the original humstack's clients); by default TLS and RBAC: agents joined by join tokens, humcli with the CA and the admin token")
	serve := fs.String("serve", "", "image: serve the image over HTTP on this address instead of printing its path")
	args := os.Args[2:]
	kind := ""
	if os.Args[1] == "image" && len(args) > 0 {
		kind, args = args[0], args[1:]
	}
	_ = fs.Parse(args)
	cfg.ID, cfg.BaseDir = *id, *dir
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Args[1] == "image" {
		err = image(ctx, kind, *serve)
	} else {
		err = run(ctx, os.Args[1], cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "humlab:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string, cfg lab.Config) error {
	switch cmd {
	case "up":
		l, err := lab.Up(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Print(l.Usage())
		return nil
	case "down":
		return lab.Clean(ctx, cfg.BaseDir, cfg.ID)
	case "status":
		l, err := lab.Attach(cfg.BaseDir, cfg.ID, cfg.Log)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no lab %q under %s", cfg.ID, cfg.BaseDir)
		}
		if err != nil {
			return err
		}
		fmt.Print(l.Usage(), "\nProcesses:\n", l.Status())
		return nil
	default:
		return fmt.Errorf("unknown command %q: want up, down or status", cmd)
	}
}
